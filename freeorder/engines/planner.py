"""Planning one command of the lock-free engine: price-time matching as a list of idempotent steps.

A :class:`Planner` runs one command's matching against the shared book as it
stands after the previous command (read-only), keeping every change in a
private overlay: order records copied into lists, levels into ``[qty, fifo,
level, stamp]`` (a level's FIFO holds its orders' *cells*, so matching reaches
each maker's record without an index lookup). :meth:`Planner.plan` turns the overlay into a :class:`Plan`:
fresh records under fresh stamps and the compare-exchanges that publish them
(see :mod:`freeorder.engines.shared_book` for why each step is idempotent),
the command's result and its events. The matching rules, events and results
are the reference book's (:mod:`freeorder.book.book`), step for step; the
engine's differential tests compare the two on every command type.

Planning is deterministic given the state it reads, and the state cannot
change while a plan is being made for the next command (only that command's
installed plan changes it). A planner that loses the race to install its
plan may have read a half-changed state; its plan is discarded unused.
"""

from __future__ import annotations

from ..book.book import (  # the reference book's constants: both match with the same objects
    BUY, CANCEL_NEWEST, CANCEL_OLDEST, CANCELLED, EXPIRED, FILLED, FOK, GTC, NEW, ORDER_NOT_LIVE,
    PARTIALLY_FILLED, REJECTED, SELL, STP_NONE, _tnew,
)
from ..book.errors import DuplicateClientId, UnknownOrder
from ..book.events import Accepted, BookUpdate, Cancelled, CancelReason, Modified, Rejected, RejectReason, Trade
from ..book.orders import (  # the order record's fields (see Order)
    CANCELLED as CANCELLED_QTY, CLIENT_ID, FILLED as FILLED_QTY, ORDER_ID, OWNER, POST_ONLY, PRICE, PRIORITY,
    QUANTITY, REMAINING, SIDE, STATUS, STP, TIME_IN_FORCE, OrderStatus, Side,
)
from ..book.results import CancelResult, MassCancelResult, ModifyResult, SubmitResult
from freeorder import atomic

from .shared_book import DEAD, SharedBook, SharedLevel

__all__ = ["Plan", "Planner"]


class Plan:
    """One command's effect: the records to add, the steps publishing them, and its outcome.

    ``result`` is the command's return value, or ``error`` the exception it
    raises (then nothing changes). ``header`` is the stamp of the new header
    record; the compare-exchange installing it completes the command.
    ``retired`` are the stamps the steps replace.
    """

    __slots__ = ("result", "error", "records", "new_orders", "archived", "cells", "new_levels", "dropped_levels",
                 "clients", "events", "header", "retired")

    def __init__(self) -> None:
        self.result = None
        self.error = None
        self.records: dict[int, tuple] = {}
        self.new_orders: list = []  # (order id, cell) of new orders that rest: into the live index
        self.archived: list = []  # (order id, final record) of orders finished (or never resting)
        self.cells: list = []
        self.new_levels: list = []
        self.dropped_levels: list = []
        self.clients: list = []
        self.events: tuple = ()
        self.header = 0
        self.retired: list[int] = []


class Planner:
    """Plans one command against ``book`` as it stands after the command of header ``head``."""

    def __init__(self, book: SharedBook, head: tuple, entry) -> None:
        self.book = book
        self.symbol = book.symbol
        self.records = book.records
        self.entry = entry
        _pos, self.seq, self.last_id, _entry, self.best_bid, self.best_ask = head
        self.orders: dict[int, list] = {}  # order id -> mutable copy of its record
        # order id -> [cell, stamp read (0: a new order, its cell made here)]
        self.order_cells: dict[int, list] = {}
        self.levels: dict[tuple[bool, int], list] = {}  # (buy, price) -> [qty, fifo, level|None, stamp]
        self.clients: dict[tuple[str, str], tuple] = {}  # key -> (cell, old id, new id)
        self.events: list = []

    # ------------------------------------------------------------------ reading through the overlay

    def peek(self, order_id: int) -> list | tuple:
        """Order ``order_id``'s record as this plan sees it (do not mutate)."""
        order = self.orders.get(order_id)
        if order is not None:
            return order
        return self.book.order_record(order_id)

    def order(self, order_id: int) -> list:
        """A mutable copy of live order ``order_id``'s record, kept in the overlay."""
        order = self.orders.get(order_id)
        if order is None:
            return self.order_of(self.book.orders.get(order_id))  # only live orders change
        return order

    def order_of(self, cell) -> list:
        """A mutable copy of the record of the live order whose cell is ``cell``, kept in the overlay."""
        stamp = cell.load()
        record = self.records[stamp]
        order = self.orders.get(record[0])
        if order is None:
            order = self.orders[record[0]] = list(record)
            self.order_cells[record[0]] = [cell, stamp]
        return order

    def peek_cell(self, cell) -> list | tuple:
        """The record of the order whose cell is ``cell``, as this plan sees it (do not mutate)."""
        record = self.records[cell.load()]
        return self.orders.get(record[0], record)

    def cell(self, order: list):
        return self.order_cells[order[ORDER_ID]][0]

    def level(self, buy: bool, price: int) -> list | None:
        """The overlay entry ``[qty, fifo, level, stamp]`` of the live level at ``price`` (None: none)."""
        key = (buy, price)
        entry = self.levels.get(key)
        if entry is not None:
            return entry if entry[1] else None
        level = self.book.level_at(buy, price)
        if level is None:
            return None
        stamp = level.cell.load()
        if stamp == DEAD:
            return None
        qty, fifo = self.records[stamp]
        entry = self.levels[key] = [qty, list(fifo), level, stamp]
        return entry

    def crosses(self, side: Side, price: int | None) -> bool:
        if side is BUY:
            best = self.best_ask
            return best is not None and (price is None or best <= price)
        best = self.best_bid
        return best is not None and (price is None or best >= price)

    def next_best(self, buy: bool, price: int) -> int | None:
        """The best live price of a side at or after ``price`` (its level at ``price`` just emptied)."""
        levels = self.levels
        for level_price, _level, _rec in self.book.live_levels(buy, price):
            entry = levels.get((buy, level_price))
            if entry is None or entry[1]:
                return level_price
        # levels opened by this plan are not in the map yet; only the resting side opens them
        return None

    # ------------------------------------------------------------------ changing the overlay

    def open_level(self, buy: bool, price: int) -> list:
        entry = self.level(buy, price)
        if entry is None:
            entry = self.levels.get((buy, price))
            if entry is None:
                entry = self.levels[(buy, price)] = [0, [], None, 0]
            if buy:
                if self.best_bid is None or price > self.best_bid:
                    self.best_bid = price
            elif self.best_ask is None or price < self.best_ask:
                self.best_ask = price
        return entry

    def drop_if_empty(self, buy: bool, price: int, entry: list) -> None:
        if entry[1]:
            return
        if buy:
            if price == self.best_bid:
                self.best_bid = self.next_best(True, price)
        elif price == self.best_ask:
            self.best_ask = self.next_best(False, price)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def forget_client(self, order: list) -> None:
        """Nothing to write: a client id is taken only while its last order is live."""

    def register_client(self, order: list) -> None:
        key = (order[OWNER], order[CLIENT_ID])
        known = self.clients.get(key)
        if known is None:
            cell = self.book.client_cell(key)
            self.clients[key] = (cell, cell.load(), order[ORDER_ID])
        else:
            self.clients[key] = (known[0], known[1], order[ORDER_ID])

    def client_taken(self, owner: str, client_id: str) -> bool:
        """Whether ``(owner, client_id)`` names a live order."""
        key = (owner, client_id)
        known = self.clients.get(key)
        if known is not None:
            holder = known[2]
        else:
            cell = self.book.clients.get(key)
            holder = 0 if cell is None else cell.load()
        if not holder:
            return False
        status = self.peek(holder)[STATUS]
        return status is NEW or status is PARTIALLY_FILLED

    def finish(self, order: list, status: OrderStatus, reason: CancelReason) -> None:
        """End ``order`` (already out of any queue) with ``status``, dropping its open quantity."""
        qty = order[REMAINING]
        order[CANCELLED_QTY] += qty
        order[REMAINING] = 0
        order[STATUS] = status
        self.events.append(_tnew(Cancelled, (self.symbol, self.next_seq(), order[ORDER_ID], qty, reason)))

    def remove_from_level(self, order: list, buy: bool, entry: list) -> None:
        entry[1].remove(self.cell(order))
        entry[0] -= order[REMAINING]

    def book_update(self, side: Side, price: int, entry: list) -> None:
        self.events.append(_tnew(BookUpdate, (self.symbol, self.next_seq(), side, price, entry[0], len(entry[1]))))

    # ------------------------------------------------------------------ matching (as the reference book)

    def fillable(self, taker: list) -> bool:
        need = taker[REMAINING]
        limit = taker[PRICE]
        stp = taker[STP]
        owner = taker[OWNER]
        buy = taker[SIDE] is BUY
        for price, _level, (_qty, fifo) in self.book.live_levels(not buy):
            if limit is not None and (price > limit if buy else price < limit):
                return False
            for maker_cell in fifo:
                maker = self.peek_cell(maker_cell)
                if stp is not STP_NONE and maker[OWNER] == owner:
                    if stp is CANCEL_OLDEST:
                        continue
                    return False
                need -= maker[REMAINING]
                if need <= 0:
                    return True
        return False

    def place(self, order: list, crosses: bool) -> None:
        stopped = self.match(order) if crosses else False
        if not order[REMAINING]:
            order[STATUS] = FILLED
            return
        if stopped:
            self.finish(order, CANCELLED, CancelReason.SELF_TRADE)
        elif order[TIME_IN_FORCE] is not GTC:
            reason = CancelReason.MARKET_REMAINDER if order[PRICE] is None else CancelReason.IOC_REMAINDER
            self.finish(order, EXPIRED, reason)
        else:
            self.rest(order)

    def rest(self, order: list) -> None:
        price = order[PRICE]
        buy = order[SIDE] is BUY
        entry = self.open_level(buy, price)
        entry[1].append(self.cell(order))
        entry[0] += order[REMAINING]
        order[STATUS] = PARTIALLY_FILLED if order[FILLED_QTY] else NEW
        if order[CLIENT_ID] is not None:
            self.register_client(order)
        self.book_update(order[SIDE], price, entry)

    def match(self, taker: list) -> bool:
        """Trade ``taker`` against the opposite side; True if self-trade prevention stopped it."""
        taker_side = taker[SIDE]
        buy = taker_side is BUY
        maker_side = SELL if buy else BUY
        limit = taker[PRICE]
        stp = taker[STP]
        owner = taker[OWNER]
        taker_id = taker[ORDER_ID]
        symbol = self.symbol
        events = self.events
        stop = False
        while True:
            price = self.best_ask if buy else self.best_bid
            if price is None or (limit is not None and (price > limit if buy else price < limit)):
                break
            entry = self.level(not buy, price)
            fifo = entry[1]
            changed = False
            while fifo:
                maker = self.order_of(fifo[0])
                if stp is not STP_NONE and maker[OWNER] == owner:
                    if stp is not CANCEL_NEWEST:  # CANCEL_OLDEST or CANCEL_BOTH: the maker goes
                        del fifo[0]
                        entry[0] -= maker[REMAINING]
                        self.finish(maker, CANCELLED, CancelReason.SELF_TRADE)
                        changed = True
                    if stp is not CANCEL_OLDEST:  # CANCEL_NEWEST or CANCEL_BOTH: the taker stops
                        stop = True
                        break
                    continue
                have = maker[REMAINING]
                want = taker[REMAINING]
                fill = want if want < have else have
                events.append(_tnew(Trade, (symbol, self.next_seq(), maker[ORDER_ID], taker_id, maker[OWNER], owner,
                                            price, fill, taker_side)))
                changed = True
                entry[0] -= fill
                maker[FILLED_QTY] += fill
                taker[FILLED_QTY] += fill
                taker[REMAINING] = want - fill
                if have == fill:
                    maker[REMAINING] = 0
                    maker[STATUS] = FILLED
                    del fifo[0]
                else:
                    maker[REMAINING] = have - fill
                    maker[STATUS] = PARTIALLY_FILLED
                if not taker[REMAINING]:
                    break
            if changed:
                self.book_update(maker_side, price, entry)
            self.drop_if_empty(not buy, price, entry)
            if stop or not taker[REMAINING]:
                break
        return stop

    # ------------------------------------------------------------------ commands

    def submit(self, side, qty, px, order_type, tif, post_only, owner, client_id, stp):
        if client_id is not None and self.client_taken(owner, client_id):
            raise DuplicateClientId("client_id", client_id, f"owner {owner!r} has a live order with it")
        self.last_id = order_id = self.last_id + 1
        seq = self.next_seq()
        order = [order_id, qty, 0, NEW, seq, px, side, owner, client_id, stp, qty, 0, order_type, tif, post_only]
        self.orders[order_id] = order
        self.order_cells[order_id] = [atomic.AtomicInt(0), 0]  # its stamp is stored by plan()
        if post_only or tif is FOK:
            reject = None
            if post_only:
                if self.crosses(side, px):
                    reject = RejectReason.POST_ONLY_WOULD_CROSS
            elif not self.fillable(order):
                reject = RejectReason.FOK_UNFILLABLE
            if reject is not None:
                order[PRIORITY] = 0
                order[STATUS] = REJECTED
                order[REMAINING] = 0
                order[CANCELLED_QTY] = qty
                self.events.append(_tnew(Rejected, (self.symbol, seq, order_id, reject)))
                return _tnew(SubmitResult, (order_id, REJECTED, 0, 0, tuple(self.events)))
        self.events.append(_tnew(Accepted, (self.symbol, seq, order_id, owner, client_id, side, order_type, tif,
                                            post_only, stp, px, qty)))
        self.place(order, self.crosses(side, px))
        return _tnew(SubmitResult, (order_id, order[STATUS], order[FILLED_QTY], order[REMAINING],
                                    tuple(self.events)))

    def cancel(self, order_id: int):
        if order_id > self.last_id:
            raise UnknownOrder("order_id", order_id, f"no such order on {self.symbol}")
        status = self.peek(order_id)[STATUS]
        if status is not NEW and status is not PARTIALLY_FILLED:
            return _tnew(CancelResult, (order_id, False, status, 0, ORDER_NOT_LIVE, ()))
        order = self.order(order_id)
        qty = order[REMAINING]
        buy = order[SIDE] is BUY
        entry = self.level(buy, order[PRICE])
        self.remove_from_level(order, buy, entry)
        self.finish(order, CANCELLED, CancelReason.USER)
        self.book_update(order[SIDE], order[PRICE], entry)
        self.drop_if_empty(buy, order[PRICE], entry)
        return _tnew(CancelResult, (order_id, True, CANCELLED, qty, None, tuple(self.events)))

    def modify(self, order_id: int, new_px, new_qty):
        if order_id > self.last_id:
            raise UnknownOrder("order_id", order_id, f"no such order on {self.symbol}")
        status = self.peek(order_id)[STATUS]
        if status is not NEW and status is not PARTIALLY_FILLED:
            return ModifyResult(order_id, False, status, False, 0, 0, ORDER_NOT_LIVE, ())
        order = self.order(order_id)
        old_px = order[PRICE]
        old_qty = order[REMAINING]
        if new_px is None:
            new_px = old_px
        if new_qty is None:
            new_qty = old_qty
        if new_px == old_px and new_qty == old_qty:
            return ModifyResult(order_id, True, status, True, 0, old_qty, None, ())
        if order[POST_ONLY] and new_px != old_px and self.crosses(order[SIDE], new_px):
            return ModifyResult(order_id, False, status, False, 0, old_qty, RejectReason.POST_ONLY_WOULD_CROSS, ())
        side = order[SIDE]
        buy = side is BUY
        entry = self.level(buy, old_px)
        events = self.events
        if new_px == old_px:
            keep = new_qty < old_qty
            seq = self.next_seq()
            events.append(Modified(self.symbol, seq, order_id, new_px, new_qty, keep))
            if not keep:  # to the back of the queue
                cell = self.cell(order)
                entry[1].remove(cell)
                entry[1].append(cell)
                order[PRIORITY] = seq
            entry[0] += new_qty - old_qty
            order[QUANTITY] += new_qty - old_qty
            order[REMAINING] = new_qty
            self.book_update(side, old_px, entry)
            filled = 0
        else:
            keep = False
            seq = self.next_seq()
            events.append(Modified(self.symbol, seq, order_id, new_px, new_qty, False))
            self.remove_from_level(order, buy, entry)
            self.book_update(side, old_px, entry)
            self.drop_if_empty(buy, old_px, entry)
            order[PRIORITY] = seq
            order[PRICE] = new_px
            order[QUANTITY] += new_qty - old_qty
            order[REMAINING] = new_qty
            before = order[FILLED_QTY]
            self.place(order, self.crosses(side, new_px))
            filled = order[FILLED_QTY] - before
        return ModifyResult(order_id, True, order[STATUS], keep, filled, order[REMAINING], None, tuple(events))

    def mass_cancel(self, side, owner):
        ids: list[int] = []
        total = 0
        for book_side in (BUY, SELL):
            if side is not None and side is not book_side:
                continue
            buy = book_side is BUY
            emptied = []
            for price, _level, _rec in list(self.book.live_levels(buy)):
                entry = self.level(buy, price)
                victims = [c for c in entry[1] if owner is None or self.peek_cell(c)[OWNER] == owner]
                if not victims:
                    continue
                for cell in victims:
                    order = self.order_of(cell)
                    oid = order[ORDER_ID]
                    entry[1].remove(cell)
                    entry[0] -= order[REMAINING]
                    total += order[REMAINING]
                    ids.append(oid)
                    self.finish(order, CANCELLED, CancelReason.MASS_CANCEL)
                self.book_update(book_side, price, entry)
                if not entry[1]:
                    emptied.append((price, entry))
            for price, entry in emptied:
                self.drop_if_empty(buy, price, entry)
        return MassCancelResult(tuple(ids), total, tuple(self.events))

    # ------------------------------------------------------------------ the plan

    def plan(self, method: str, args: tuple) -> Plan:
        """Run ``method(*args)`` on the overlay and return the plan of its effect."""
        plan = Plan()
        try:
            plan.result = getattr(self, method)(*args)
        except (DuplicateClientId, UnknownOrder) as error:  # refused before any change: the overlay is empty
            plan.error = error
        writes = len(self.orders) + len(self.levels) + 1
        stamp = self.book.stamps.fetch_add(writes)
        records = plan.records
        cells = plan.cells
        retired = plan.retired
        order_cells = self.order_cells
        for order_id, order in self.orders.items():
            status = order[STATUS]
            cell, old = order_cells[order_id]
            if old:
                retired.append(old)
            if status is not NEW and status is not PARTIALLY_FILLED:  # finished: never changes again
                plan.archived.append((order_id, tuple(order)))
                continue
            records[stamp] = tuple(order)
            if old:
                cells.append((cell, old, stamp))
            else:  # a new order's cell: still private to this plan, so a plain store
                cell.store(stamp)
                plan.new_orders.append((order_id, cell))
            stamp += 1
        for (buy, price), (qty, fifo, level, old) in self.levels.items():
            if level is None:
                if fifo:
                    records[stamp] = (qty, tuple(fifo))
                    plan.new_levels.append((buy, price, SharedLevel(price, stamp)))
            elif fifo:
                records[stamp] = (qty, tuple(fifo))
                cells.append((level.cell, old, stamp))
                retired.append(old)
            else:
                cells.append((level.cell, old, DEAD))
                plan.dropped_levels.append((buy, price, level))
                retired.append(old)
            stamp += 1
        plan.clients = list(self.clients.values())
        plan.events = tuple(self.events)
        records[stamp] = (self.entry.pos, self.seq, self.last_id, self.entry, self.best_bid, self.best_ask)
        plan.header = stamp
        return plan
