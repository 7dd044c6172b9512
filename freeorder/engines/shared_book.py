"""One symbol's book shared by all threads: lock-free structures holding versioned records.

The state (the same as :class:`~freeorder.book.book.OrderBook`'s, laid out for
sharing):

- **levels**: per side a :class:`~freeorder.lockfree.skiplist.SkipListMap`
  from a price key (``-price`` for bids, ``price`` for asks, so the best level
  is the first) to a :class:`SharedLevel`; the level's cell names its record
  ``(qty, fifo)``: the atomic total of its open quantity and the FIFO of its
  resting orders' cells (see *orders*) in time order (its count is ``len(fifo)``);
- **orders**: an :class:`~freeorder.lockfree.order_index.OrderIndex` from the
  id of each *live* (resting) order to the order's cell, which names the
  order's record (a 15-field tuple in :class:`~freeorder.book.orders.Order`'s
  layout); a finished order never changes again, so its final record goes to
  ``archive`` (a dict by id: written before the index entry is removed, so
  a lookup of the index, then the archive, always finds the order), which
  keeps every order ever issued for ``orders()`` while the index stays as
  small as the book;
- **client ids**: ``(owner, client_id)`` to a cell holding the id of the last
  order that rested with it (a live duplicate is one whose order is live);
- **header**: a cell naming ``(pos, seq, last_order_id, entry, best_bid,
  best_ask)``: the log position of the last command completed, the last event
  sequence number and order id, that command's log entry and the best prices.

**Versioned cells.** Every mutable cell holds a *stamp*, a number never used
twice (from ``stamps.fetch_add``), and ``records[stamp]`` is the record it
names; a record is written before its stamp is published and never changes.
A change is a compare-exchange from the stamp the planner read to a fresh
one, so it takes effect at most once, and never after the cell has moved on:
a helper that runs it late (the command done, later ones applied) fails
harmlessly. That is what makes each step of a command *idempotent*: any
thread may perform it, any number of times. The other steps are idempotent
by the same argument: inserting an order's cell under its never-reused id
(a late insert of an order that has since finished is undone by the inserter,
which checks the archive after inserting; ``order_record`` reads the archive
first, so the moment between is harmless),
``get_or_insert`` of a level object and ``remove_if`` of a level object that
is never reused, writing the event with sequence number ``s`` (the same
object every time), and the client-id cells, whose order ids only grow.

**Applying**: ``applying`` holds the log position of the command whose plan
was installed last; it runs ahead of the header's ``pos`` exactly while that
command's steps are being performed. A reader that sees ``applying ==
header.pos`` before and after reading saw the state after command ``pos``
(seqlock style); otherwise it helps the command finish and reads again.

**Reclamation**: a replaced record is retired through the book's
``EpochCollector`` by the thread whose header compare-exchange completed the
command, and deleted once every thread pinned at that time has unpinned.
Helpers and planners are pinned while they work, so a late helper's rewrite
of ``records`` happens before the deletion; a reader that finds a record gone
has seen the state move on, and retries.
"""

from __future__ import annotations

from freeorder import atomic

from ..book.instrument import Instrument
from ..lockfree.order_index import OrderIndex
from ..lockfree.skiplist import SkipListMap
from ..reclaim.epoch import EpochCollector

__all__ = ["DEAD", "SharedBook", "SharedLevel", "StateMoved"]

DEAD = -1  # a level cell's final value: the level is empty and leaves its side's map


class StateMoved(Exception):
    """A read found a record already replaced: the state changed under it (read again)."""


class SharedLevel:
    """One incarnation of a price level; its ``cell`` holds the stamp of ``(qty, fifo)``, or ``DEAD``.

    A level object is never reused: once dead it stays dead, and a new level
    at the same price is a new object, so ``remove_if(key, level)`` and
    ``get_or_insert(key, level)`` of it are idempotent.
    """

    __slots__ = ("price", "cell")

    def __init__(self, price: int, stamp: int) -> None:
        self.price = price
        self.cell = atomic.AtomicInt(stamp)


class SharedBook:
    """The shared state of one symbol (see the module docstring for the layout and invariants)."""

    def __init__(self, instrument: Instrument, log, record_events: bool, reclaimer=None) -> None:
        self.instrument = instrument
        self.symbol = instrument.symbol
        # an int price/quantity is already in units and on the grid (parse only checks its range)
        self.int_units = (instrument.price_scale == 0 and instrument.tick_units == 1
                          and instrument.qty_scale == 0 and instrument.lot_units == 1)
        self.log = log
        # one reclaimer for the book's structures and its records (EpochCollector by default; a
        # HazardRegistry with hazards_per_thread >= 4 also works: records are then freed at its
        # next scan, and a reader that finds one gone retries, see the module docstring)
        self.reclaimer = reclaimer = EpochCollector() if reclaimer is None else reclaimer
        self.bids = SkipListMap(reclaimer=reclaimer, arena_name=f"{self.symbol} bids", initial_capacity=256)
        self.asks = SkipListMap(reclaimer=reclaimer, arena_name=f"{self.symbol} asks", initial_capacity=256)
        self.orders = OrderIndex(reclaimer=reclaimer, arena_name=f"{self.symbol} orders")
        self.archive: dict[int, tuple] = {}
        self.level_cache: dict[tuple[bool, int], SharedLevel] = {}  # see level_at
        self.clients: dict[tuple[str, str], atomic.AtomicInt] = {}
        self.records: dict[int, tuple] = {}
        self.events: dict[int, object] | None = {} if record_events else None
        self.stamps = atomic.AtomicInt(2)
        self.records[1] = (0, 0, 0, log.first, None, None)
        self.header = atomic.AtomicInt(1)
        self.applying = atomic.AtomicInt(0)

    # ------------------------------------------------------------------ reading

    def head(self) -> tuple:
        """The header record of the last completed command (see the module docstring)."""
        while True:
            try:
                return self.records[self.header.load()]
            except KeyError:  # replaced and reclaimed between the two loads
                continue

    def record(self, cell) -> tuple:
        """The record ``cell`` names; StateMoved if it was already replaced and reclaimed."""
        try:
            return self.records[cell.load()]
        except KeyError:
            raise StateMoved from None

    def order_record(self, order_id: int) -> tuple | None:
        """The record of order ``order_id`` (None: never issued).

        The archive first: a finished order is there before it leaves the index, and
        only there is its record certain to stay (a late helper may put a finished
        order's cell back in the index for a moment, see ``apply``); then the index.
        """
        archive = self.archive
        record = archive.get(order_id)
        if record is not None:
            return record
        cell = self.orders.get(order_id)
        if cell is None:
            return archive.get(order_id)  # finished meanwhile, or never issued
        try:
            return self.records[cell.load()]
        except KeyError:  # replaced since the load: finished (archived) or changed
            record = archive.get(order_id)
            if record is None:
                raise StateMoved from None
            return record

    def level_record(self, level: SharedLevel) -> tuple | None:
        """``(qty, fifo)`` of ``level``, or None if it is dead."""
        stamp = level.cell.load()
        if stamp == DEAD:
            return None
        try:
            return self.records[stamp]
        except KeyError:
            raise StateMoved from None

    def live_levels(self, buy: bool, start_price: int | None = None, batch: int = 4):
        """``(price, level, (qty, fifo))`` of one side's live levels, best first (from ``start_price``),
        read from the map ``batch`` at a time (most callers need one or two)."""
        side = self.bids if buy else self.asks
        lo = None if start_price is None else (-start_price if buy else start_price)
        for _key, level in side.range(lo, batch=batch):
            rec = self.level_record(level)
            if rec is not None:
                yield level.price, level, rec

    def level_at(self, buy: bool, price: int) -> SharedLevel | None:
        """The level at ``price``: the live one if there is one, else a dead one still in the map, or None.

        ``level_cache`` (a dict by ``(buy, price)``) answers first: at most one level per price is
        live at a time, and a live level is in its side's map, so a cached level that is live is
        the answer; a missing or dead entry (stale: written late) is looked up in the map, and a
        live level found there is cached. The map stays the source of order (best prices, depth).
        """
        key = (buy, price)
        level = self.level_cache.get(key)
        if level is not None and level.cell.load() != DEAD:
            return level
        level = (self.bids if buy else self.asks).get(-price if buy else price)
        if level is not None and level.cell.load() != DEAD:
            self.level_cache[key] = level
        return level

    # ------------------------------------------------------------------ applying a plan

    def apply(self, plan) -> None:
        """Perform every step of ``plan`` (idempotent: see the module docstring)."""
        records = self.records
        records.update(plan.records)  # written before any stamp naming them is published
        orders_insert = self.orders.insert
        archive = self.archive
        for order_id, cell in plan.new_orders:
            orders_insert(order_id, cell)  # False when a helper got there first
            if order_id in archive:  # a late helper: the order has finished since; undo our insert
                self.orders.pop(order_id, None)
        for order_id, record in plan.archived:
            archive[order_id] = record  # the same final record every time
        for cell, old, new in plan.cells:
            cell.compare_exchange(old, new)  # fails iff already done (stamps are never reused)
        orders_pop = self.orders.pop
        for order_id, _record in plan.archived:
            orders_pop(order_id, None)  # after the archive has it; ids are never reused
        for buy, price, level in plan.new_levels:
            side = self.bids if buy else self.asks
            key = -price if buy else price
            while True:
                present = side.get_or_insert(key, level)
                if present is level or present.cell.load() != DEAD:
                    break  # ours is in; or a live later level: ours was in, died and left
                side.remove_if(key, present)  # a dead level not yet removed (or put back late)
            self.level_cache[(buy, price)] = present  # a late (dead) one is corrected by level_at
        for buy, price, level in plan.dropped_levels:
            (self.bids if buy else self.asks).remove_if(-price if buy else price, level)
        for cell, old, new in plan.clients:
            cell.compare_exchange(old, new)  # order ids only grow: at most once, never late
        events = self.events
        if events is not None:
            for event in plan.events:
                events[event.seq] = event

    def retire(self, guard, stamps: list[int]) -> None:
        """Free the records of replaced ``stamps`` through the caller's pinned ``guard``: under
        an epoch, once no thread pinned now is still pinned (one retirement for the whole list,
        keyed by its first stamp, which no hazard ever names)."""
        guard.retire(self._forget, stamps, stamps[0])

    def _forget(self, stamps: list[int]) -> None:
        pop = self.records.pop
        for stamp in stamps:
            pop(stamp, None)

    def client_cell(self, key: tuple[str, str]) -> atomic.AtomicInt:
        """The client-id cell of ``(owner, client_id)`` (made on first use; setdefault is atomic)."""
        cell = self.clients.get(key)
        if cell is None:
            cell = self.clients.setdefault(key, atomic.AtomicInt(0))
        return cell
