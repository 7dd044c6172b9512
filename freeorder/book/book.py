"""The sequential order book of one symbol: price-time priority matching.

Structure: per side a dict price -> :class:`Level` and the sorted list of the
prices of its non-empty levels (``bisect``: ascending, so the best bid is the
last and the best ask the first); a level is a ``deque`` of *priority stamps*
in time order plus its open quantity and live order count. A stamp is the
sequence number of the event that queued an order (its ``priority``), unique
within the book; ``_resting`` maps the stamps of resting orders to their
records (plain lists; see :class:`~freeorder.book.orders.Order`). Removing an
order from the middle of a queue (cancel, modify, self-trade prevention) only
deletes its stamp from ``_resting``, O(1); dead stamps are skipped at the queue
head and compacted away once they outnumber the live ones. Orders are also
kept in a list indexed by ``order_id - 1`` (ids are per symbol, gap-free from
1), live or finished, so every id ever issued can be queried. ``_best_bid`` /
``_best_ask`` cache the best prices (``None`` for an empty side): set when a
better level opens, recomputed when the best level empties. An emptied level
leaves its side's price list but stays in the dict, *parked* (count 0, no
stamps), and is reused when an order comes to its price again: prices near the
touch empty and refill all the time, and this way that costs one ``insort``
and one ``del`` of a list item instead of creating and deleting a
``SortedDict`` entry (~4 us on 3.13t, whose dicts also slow down under
repeated insertion and deletion of the same keys). Parked levels are dropped
when they outnumber the open ones.

Invariants between commands (checked by :mod:`freeorder.book.invariants`):

- the book is not crossed: best bid < best ask;
- no empty level is visible (in a price list); parked levels are empty; a level's ``qty``/``count`` are the sum of its live
  orders' ``remaining`` and their number, and every resting order has
  ``remaining > 0``;
- an order rests in exactly one queue iff its status is NEW or
  PARTIALLY_FILLED, at its own side and price;
- along a queue ``priority`` strictly increases (time priority);
- ``(owner, client_id)`` is unique among live orders.

Matching: an incoming order trades against the best opposite level first and
within a level in queue order, always at the resting (maker) price. A partial
fill leaves the maker at the front of its queue. Every command validates all
of its input before changing anything: one that raises leaves the book, its
order ids and its sequence number untouched.

Speed (3.13t, where nothing is specialised: every call, attribute access and
object costs): the hot paths (:meth:`OrderBook._submit`, :meth:`_match`,
:meth:`cancel`) are written flat. An order is a plain list indexed with literals
(the field name in a comment; see :class:`~freeorder.book.orders.Order`),
events and results are built with ``tuple.__new__`` instead of their
Python-level NamedTuple constructors (half the cost), the sequence number is
kept in a local while a command runs, and a limit order that does not cross
rests without any further call. Module constants and builtins used there are
bound as default arguments, so they are locals: a global is a dict lookup
each time on 3.13t, which does not specialise. ``benchmarks/bench_book.py`` measures it
against a minimal book.

Not thread-safe: one thread at a time (engines provide the synchronisation).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque

from .errors import DuplicateClientId, InvalidOrder, InvalidOrderType, UnknownOrder
from .events import Accepted, BookUpdate, Cancelled, CancelReason, Modified, Rejected, RejectReason, Trade
from ._immortal import immortalize
from .instrument import Instrument
from .orders import (
    CLIENT_ID,
    FILLED as FILLED_QTY,
    ORDER_ID,
    OWNER,
    POST_ONLY,
    PRICE,
    PRIORITY,
    QUANTITY,
    REMAINING,
    SIDE,
    STATUS,
    STP,
    Order,
    OrderInfo,
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from .results import (
    BookSnapshot,
    CancelResult,
    Depth,
    LevelInfo,
    LevelOrders,
    MassCancelResult,
    ModifyResult,
    Quote,
    RestingOrder,
    SubmitResult,
)

__all__ = ["OrderBook", "Level"]

BUY = Side.BUY
SELL = Side.SELL
LIMIT = OrderType.LIMIT
MARKET = OrderType.MARKET
GTC = TimeInForce.GTC
IOC = TimeInForce.IOC
FOK = TimeInForce.FOK
NEW = OrderStatus.NEW
PARTIALLY_FILLED = OrderStatus.PARTIALLY_FILLED
FILLED = OrderStatus.FILLED
CANCELLED = OrderStatus.CANCELLED
REJECTED = OrderStatus.REJECTED
EXPIRED = OrderStatus.EXPIRED
STP_NONE = SelfTradePrevention.NONE
CANCEL_NEWEST = SelfTradePrevention.CANCEL_NEWEST
CANCEL_OLDEST = SelfTradePrevention.CANCEL_OLDEST
USER = CancelReason.USER
SELF_TRADE = CancelReason.SELF_TRADE
ORDER_NOT_LIVE = RejectReason.ORDER_NOT_LIVE

# tuple.__new__(Record, fields) builds a NamedTuple record in C, skipping its
# Python-level __new__ (which costs as much again on 3.13t). Used only with the
# exact field count of the record.
_tnew = tuple.__new__
immortalize([_tnew])  # one object for every thread: see _immortal
_PARKED_SLACK = 64  # parked levels kept beyond the number of open ones


def _check_enum(name: str, value: object, enum_type: type) -> None:
    if type(value) is not enum_type:
        raise InvalidOrderType(name, value, f"expected a {enum_type.__name__} member")


class Level:
    """One price level: ``queue`` of priority stamps in time order (live ones are
    keys of the book's ``_resting``), ``count`` live orders holding ``qty``."""

    __slots__ = ("qty", "count", "queue")

    def __init__(self) -> None:
        self.qty = 0
        self.count = 0
        self.queue: deque[int] = deque()


class OrderBook:
    """The order book of one :class:`~freeorder.book.instrument.Instrument`.

    Prices and quantities given to commands are parsed by the instrument
    (``int``/``Decimal``/``str``/exact ``float``); everything returned is in
    the instrument's integer units. With ``record_events=False`` the book keeps
    no event log (results still carry each command's events).
    """

    __slots__ = (
        "instrument",
        "symbol",
        "_bids",
        "_asks",
        "_bid_prices",
        "_ask_prices",
        "_best_bid",
        "_best_ask",
        "_orders",
        "_resting",
        "_client_ids",
        "_seq",
        "_log",
        "_int_units",
    )

    def __init__(self, instrument: Instrument, *, record_events: bool = True) -> None:
        if not isinstance(instrument, Instrument):
            raise InvalidOrderType("instrument", instrument, "expected an Instrument")
        self.instrument = instrument
        self.symbol = instrument.symbol
        self._bids: dict[int, Level] = {}  # open and parked levels
        self._asks: dict[int, Level] = {}
        self._bid_prices: list[int] = []  # prices of open levels, ascending
        self._ask_prices: list[int] = []
        self._best_bid: int | None = None
        self._best_ask: int | None = None
        self._orders: list[list] = []
        self._resting: dict[int, list] = {}
        self._client_ids: dict[tuple[str, str], list] = {}
        self._seq = 0
        self._log: list | None = [] if record_events else None
        # An int price/quantity is already in units and on the grid: parse_* would
        # only check its range (done inline on the hot path).
        self._int_units = (
            instrument.price_scale == 0
            and instrument.tick_units == 1
            and instrument.qty_scale == 0
            and instrument.lot_units == 1
        )

    # ------------------------------------------------------------------ commands

    def submit(
        self,
        side: Side,
        quantity,
        price=None,
        *,
        order_type: OrderType = LIMIT,
        time_in_force: TimeInForce | None = None,
        post_only: bool = False,
        owner: str = "",
        client_id: str | None = None,
        stp: SelfTradePrevention = STP_NONE,
    ) -> SubmitResult:
        """Submit a new order; see the engine API for the semantics of each field."""
        return self._submit(side, quantity, price, order_type, time_in_force, post_only, owner, client_id, stp)

    def _submit(
        self, side, quantity, price, order_type, time_in_force, post_only, owner, client_id, stp, /,
        BUY=BUY, SELL=SELL, LIMIT=LIMIT, MARKET=MARKET, GTC=GTC, IOC=IOC, FOK=FOK, NEW=NEW, STP_NONE=STP_NONE,
        type=type, int=int, str=str, len=len, _tnew=_tnew, Accepted=Accepted, BookUpdate=BookUpdate,
        SubmitResult=SubmitResult,
    ):  # fmt: skip
        """:meth:`submit` with positional arguments (cheaper to call on 3.13t).

        The parameters after ``/`` are never passed: they bind module constants
        and builtins as locals (see "Speed" in the module docstring).
        """
        # ---- validate everything before changing anything
        if side is BUY:
            buy = True
        elif side is SELL:
            buy = False
        else:
            _check_enum("side", side, Side)
        int_units = self._int_units
        if order_type is LIMIT:
            if type(price) is int and 0 < price <= 9223372036854775807 and int_units:
                px = price
            elif price is None:
                raise InvalidOrder("price", None, "a limit order needs a price")
            else:
                px = self.instrument.parse_price(price)
        elif order_type is MARKET:
            if price is not None:
                raise InvalidOrder("price", price, "a market order takes no price")
            px = None
        else:
            _check_enum("order_type", order_type, OrderType)
        if type(quantity) is int and 0 < quantity <= 9223372036854775807 and int_units:
            qty = quantity
        else:
            qty = self.instrument.parse_quantity(quantity)
        if time_in_force is None:
            tif = GTC if px is not None else IOC
        else:
            _check_enum("time_in_force", time_in_force, TimeInForce)
            tif = time_in_force
            if px is None and tif is GTC:
                raise InvalidOrder("time_in_force", tif, "a market order cannot rest: use IOC or FOK")
        if post_only is not False:
            if post_only is not True:
                raise InvalidOrderType("post_only", post_only, "expected a bool")
            if px is None or tif is not GTC:
                raise InvalidOrder("post_only", post_only, "post-only needs a GTC limit order")
        if type(owner) is not str:
            raise InvalidOrderType("owner", owner, "expected a str")
        if client_id is not None:
            if type(client_id) is not str:
                raise InvalidOrderType("client_id", client_id, "expected a str or None")
            if (owner, client_id) in self._client_ids:
                raise DuplicateClientId("client_id", client_id, f"owner {owner!r} has a live order with it")
        if stp is not STP_NONE:
            _check_enum("stp", stp, SelfTradePrevention)

        # ---- validated: from here on the book changes
        symbol = self.symbol
        orders = self._orders
        order_id = len(orders) + 1
        seq = self._seq + 1
        # fields: see Order (0 order_id .. 14 post_only); priority (4) is this seq
        order = [order_id, qty, 0, NEW, seq, px, side, owner, client_id, stp, qty, 0, order_type, tif, post_only]
        orders.append(order)
        if post_only or tif is FOK:
            reject = None
            if post_only:
                if self._crosses(side, px):
                    reject = RejectReason.POST_ONLY_WOULD_CROSS
            elif not self._fillable(order):
                reject = RejectReason.FOK_UNFILLABLE
            if reject is not None:
                self._seq = seq
                order[4] = 0  # priority: never queued
                order[3] = REJECTED  # status
                order[1] = 0  # remaining
                order[11] = qty  # cancelled
                events = (_tnew(Rejected, (symbol, seq, order_id, reject)),)
                if self._log is not None:
                    self._log.append(events[0])
                return _tnew(SubmitResult, (order_id, REJECTED, 0, 0, events))

        accepted = _tnew(Accepted, (symbol, seq, order_id, owner, client_id, side, order_type, tif, post_only, stp, px, qty))
        if buy:
            best = self._best_ask
            crosses = best is not None and (px is None or best <= px)
        else:
            best = self._best_bid
            crosses = best is not None and (px is None or best >= px)
        if crosses or tif is not GTC:
            self._seq = seq
            events = [accepted]
            self._place(order, events, crosses)
            events = tuple(events)
            if self._log is not None:
                self._log.extend(events)
            return _tnew(SubmitResult, (order_id, order[3], order[2], order[1], events))

        # A GTC limit order that does not cross: rest it (as _place does, inline).
        level = (self._bids if buy else self._asks).get(px)
        if level is None or not level.count:
            level = self._open_level(px, buy)
        level.queue.append(seq)
        level.qty = level_qty = level.qty + qty
        level.count = level_count = level.count + 1
        self._resting[seq] = order
        if client_id is not None:
            self._client_ids[(owner, client_id)] = order
        self._seq = seq = seq + 1
        events = (accepted, _tnew(BookUpdate, (symbol, seq, side, px, level_qty, level_count)))
        if self._log is not None:
            self._log.extend(events)
        return _tnew(SubmitResult, (order_id, NEW, 0, qty, events))

    def cancel(self, order_id: int) -> CancelResult:
        """Cancel a live order's whole open quantity; a finished order is answered
        with ``cancelled=False, reason=ORDER_NOT_LIVE`` and no event."""
        return self._cancel(order_id)

    def _cancel(
        self, order_id, /,
        BUY=BUY, NEW=NEW, PARTIALLY_FILLED=PARTIALLY_FILLED, CANCELLED=CANCELLED, USER=USER,
        ORDER_NOT_LIVE=ORDER_NOT_LIVE, type=type, int=int, len=len, _tnew=_tnew, Cancelled=Cancelled,
        BookUpdate=BookUpdate, CancelResult=CancelResult,
    ):  # fmt: skip
        """:meth:`cancel` (parameters after ``/`` bind constants as locals, as in :meth:`_submit`)."""
        orders = self._orders
        if type(order_id) is not int:
            raise InvalidOrderType("order_id", order_id, "expected an int")
        if not 0 < order_id <= len(orders):
            raise UnknownOrder("order_id", order_id, f"no such order on {self.symbol}")
        order = orders[order_id - 1]
        status = order[3]
        if status is not NEW and status is not PARTIALLY_FILLED:
            return _tnew(CancelResult, (order_id, False, status, 0, ORDER_NOT_LIVE, ()))
        # Take it out of its level (as _unlink does, inline).
        qty = order[1]  # remaining
        price = order[5]
        side = order[6]
        buy = side is BUY
        level = (self._bids if buy else self._asks)[price]
        del self._resting[order[4]]  # priority
        level.qty = level_qty = level.qty - qty
        level.count = level_count = level.count - 1
        order[11] += qty  # cancelled
        order[1] = 0  # remaining
        order[3] = CANCELLED  # status
        if order[8] is not None:  # client_id
            self._forget_client_id(order)
        symbol = self.symbol
        seq = self._seq + 1
        cancelled = _tnew(Cancelled, (symbol, seq, order_id, qty, USER))
        self._seq = seq = seq + 1
        events = (cancelled, _tnew(BookUpdate, (symbol, seq, side, price, level_qty, level_count)))
        if level_count:
            if len(level.queue) > 2 * level_count + 8:
                self._compact(level)
        else:
            self._drop_level(price, level, buy)
        if self._log is not None:
            self._log.extend(events)
        return _tnew(CancelResult, (order_id, True, CANCELLED, qty, None, events))

    def modify(self, order_id: int, *, price=None, quantity=None) -> ModifyResult:
        """Change a live order's price and/or open quantity (``quantity`` is the new
        *remaining* quantity, not the total).

        Lowering the quantity at the same price keeps the order's queue place.
        A new price or a larger quantity sends it to the back of the queue at
        the (new) price, keeping its id; at a new price it first matches like an
        incoming order (its own self-trade prevention applies), unless it is
        post-only, in which case a crossing price is refused.
        """
        order = self._lookup(order_id)
        instrument = self.instrument
        if price is None and quantity is None:
            raise InvalidOrder("quantity", None, "modify needs a new price or quantity")
        new_px = None if price is None else instrument.parse_price(price)
        new_qty = None if quantity is None else instrument.parse_quantity(quantity)
        if order[STATUS] is not NEW and order[STATUS] is not PARTIALLY_FILLED:
            return ModifyResult(order_id, False, order[STATUS], False, 0, 0, ORDER_NOT_LIVE, ())
        old_px = order[PRICE]
        old_qty = order[REMAINING]
        if new_px is None:
            new_px = old_px
        if new_qty is None:
            new_qty = old_qty
        if new_px == old_px and new_qty == old_qty:
            return ModifyResult(order_id, True, order[STATUS], True, 0, old_qty, None, ())
        if order[POST_ONLY] and new_px != old_px:
            if self._crosses(order[SIDE], new_px):
                return ModifyResult(
                    order_id, False, order[STATUS], False, 0, old_qty, RejectReason.POST_ONLY_WOULD_CROSS, ()
                )

        symbol = self.symbol
        side = order[SIDE]
        level = (self._bids if side is BUY else self._asks)[old_px]
        events: list = []
        if new_px == old_px:
            keep = new_qty < old_qty
            self._seq = seq = self._seq + 1
            events.append(Modified(symbol, seq, order_id, new_px, new_qty, keep))
            if not keep:  # to the back: a new stamp, the old one dies in place
                resting = self._resting
                del resting[order[PRIORITY]]
                resting[seq] = order
                order[PRIORITY] = seq
                level.queue.append(seq)
                self._maybe_compact(level)
            level.qty += new_qty - old_qty
            order[QUANTITY] += new_qty - old_qty
            order[REMAINING] = new_qty
            self._seq = seq = self._seq + 1
            events.append(BookUpdate(symbol, seq, side, old_px, level.qty, level.count))
            filled = 0
        else:
            keep = False
            self._seq = seq = self._seq + 1
            events.append(Modified(symbol, seq, order_id, new_px, new_qty, False))
            self._remove_from_level(order, level, events)
            order[PRIORITY] = seq
            order[PRICE] = new_px
            order[QUANTITY] += new_qty - old_qty
            order[REMAINING] = new_qty
            before = order[FILLED_QTY]
            if order[CLIENT_ID] is not None:
                del self._client_ids[(order[OWNER], order[CLIENT_ID])]
            self._place(order, events, self._crosses(side, new_px))
            filled = order[FILLED_QTY] - before
        if self._log is not None:
            self._log.extend(events)
        return ModifyResult(order_id, True, order[STATUS], keep, filled, order[REMAINING], None, tuple(events))

    def mass_cancel(self, *, side: Side | None = None, owner: str | None = None) -> MassCancelResult:
        """Cancel every live order, or those of ``side`` and/or ``owner``."""
        if side is not None:
            _check_enum("side", side, Side)
        if owner is not None and type(owner) is not str:
            raise InvalidOrderType("owner", owner, "expected a str or None")
        symbol = self.symbol
        events: list = []
        ids: list[int] = []
        total = 0
        resting = self._resting
        for book_side, book, prices in ((BUY, self._bids, reversed(self._bid_prices)), (SELL, self._asks, iter(self._ask_prices))):
            if side is not None and side is not book_side:
                continue
            emptied = []
            for price in prices:
                level = book[price]
                victims = [o for o in self._live(level) if owner is None or o[OWNER] == owner]
                if not victims:
                    continue
                for o in victims:
                    qty = o[REMAINING]
                    del resting[o[PRIORITY]]
                    level.qty -= qty
                    level.count -= 1
                    total += qty
                    ids.append(o[ORDER_ID])
                    self._finish(o, CANCELLED, CancelReason.MASS_CANCEL, events)
                self._seq = seq = self._seq + 1
                events.append(BookUpdate(symbol, seq, book_side, price, level.qty, level.count))
                if level.count:
                    self._maybe_compact(level)
                else:
                    emptied.append((price, level))
            for price, level in emptied:
                self._drop_level(price, level, book_side is BUY)
        if self._log is not None:
            self._log.extend(events)
        return MassCancelResult(tuple(ids), total, tuple(events))

    # ------------------------------------------------------------------ queries

    @property
    def seq(self) -> int:
        """The sequence number of the last event (0 before any)."""
        return self._seq

    @property
    def last_order_id(self) -> int:
        return len(self._orders)

    def best(self) -> Quote:
        bid, ask = self._best_bid, self._best_ask
        return Quote(
            bid, 0 if bid is None else self._bids[bid].qty, ask, 0 if ask is None else self._asks[ask].qty
        )

    def depth(self, n: int) -> Depth:
        """The best ``n`` levels of each side with total quantity and order count."""
        if type(n) is not int:
            raise InvalidOrderType("n", n, "expected an int")
        if n < 0:
            raise InvalidOrder("n", n, "must be >= 0")
        bids = []
        bid_prices = self._bid_prices
        for price in reversed(bid_prices[max(len(bid_prices) - n, 0) :]):
            level = self._bids[price]
            bids.append(LevelInfo(price, level.qty, level.count))
        asks = []
        for price in self._ask_prices[:n]:
            level = self._asks[price]
            asks.append(LevelInfo(price, level.qty, level.count))
        return Depth(tuple(bids), tuple(asks))

    def snapshot(self) -> BookSnapshot:
        """Full L3 view: every level best first, each queue in time order."""

        def levels(book, prices):
            out = []
            for price in prices:
                level = book[price]
                orders = tuple(
                    RestingOrder(o[ORDER_ID], o[OWNER], o[REMAINING], o[PRIORITY]) for o in self._live(level)
                )
                out.append(LevelOrders(price, level.qty, level.count, orders))
            return tuple(out)

        return BookSnapshot(
            self.symbol,
            self._seq,
            len(self._orders),
            levels(self._bids, reversed(self._bid_prices)),
            levels(self._asks, self._ask_prices),
        )

    def order(self, order_id: int) -> OrderInfo:
        return Order.info(self._lookup(order_id), self.symbol)

    def orders(self) -> tuple[OrderInfo, ...]:
        """Every order ever issued for the symbol, by id."""
        symbol = self.symbol
        info = Order.info
        return tuple(info(o, symbol) for o in self._orders)

    def events(self, after_seq: int = 0) -> tuple:
        """The recorded events with ``seq > after_seq``, in sequence order."""
        if self._log is None:
            raise InvalidOrder("record_events", False, "this book keeps no event log")
        if type(after_seq) is not int:
            raise InvalidOrderType("after_seq", after_seq, "expected an int")
        if after_seq < 0:
            raise InvalidOrder("after_seq", after_seq, "must be >= 0")
        return tuple(self._log[after_seq:])

    # ------------------------------------------------------------------ internals

    def _lookup(self, order_id: int) -> list:
        if type(order_id) is not int:
            raise InvalidOrderType("order_id", order_id, "expected an int")
        if not 0 < order_id <= len(self._orders):
            raise UnknownOrder("order_id", order_id, f"no such order on {self.symbol}")
        return self._orders[order_id - 1]

    def _crosses(self, side: Side, price: int | None) -> bool:
        """Whether an order of ``side`` at ``price`` (``None``: market) meets the opposite best."""
        if side is BUY:
            best = self._best_ask
            return best is not None and (price is None or best <= price)
        best = self._best_bid
        return best is not None and (price is None or best >= price)

    def _open_level(self, price: int, buy: bool) -> Level:
        """Open the level at ``price`` (a parked one, or a new one): enter its price
        in order, update the best price."""
        book = self._bids if buy else self._asks
        level = book.get(price)
        if level is None:
            level = book[price] = Level()
        if buy:
            insort(self._bid_prices, price)
            if self._best_bid is None or price > self._best_bid:
                self._best_bid = price
        else:
            insort(self._ask_prices, price)
            if self._best_ask is None or price < self._best_ask:
                self._best_ask = price
        return level

    def _drop_level(self, price: int, level: Level, buy: bool) -> None:
        """Park the emptied ``level`` at ``price``: out of the price list (updating the
        best price), kept in the dict for reuse."""
        if buy:
            prices = self._bid_prices
            if price == self._best_bid:
                prices.pop()
                self._best_bid = prices[-1] if prices else None
            else:
                del prices[bisect_left(prices, price)]
            book = self._bids
        else:
            prices = self._ask_prices
            if price == self._best_ask:
                del prices[0]
                self._best_ask = prices[0] if prices else None
            else:
                del prices[bisect_left(prices, price)]
            book = self._asks
        level.queue.clear()  # dead stamps only
        level.qty = 0
        if len(book) > 2 * len(prices) + _PARKED_SLACK:  # drop the parked levels
            open_levels = [(p, lv) for p, lv in book.items() if lv.count]
            book.clear()  # in place (callers hold the dict); a fresh table, no deleted slots
            book.update(open_levels)

    def _live(self, level: Level) -> list[list]:
        """The live orders of ``level`` in queue order."""
        resting = self._resting
        return [resting[stamp] for stamp in level.queue if stamp in resting]

    def _maybe_compact(self, level: Level) -> None:
        """Drop dead stamps once they outnumber the live ones (amortised O(1) removal)."""
        if len(level.queue) > 2 * level.count + 8:
            self._compact(level)

    def _compact(self, level: Level) -> None:
        resting = self._resting
        queue = level.queue
        live = [stamp for stamp in queue if stamp in resting]
        queue.clear()  # in place: no new deque (its type's refcount is shared between threads)
        queue.extend(live)

    def _forget_client_id(self, order: list) -> None:
        """Free a finished order's ``(owner, client_id)`` for reuse."""
        key = (order[7], order[8])  # owner, client_id
        if self._client_ids.get(key) is order:
            del self._client_ids[key]

    def _fillable(self, taker: list) -> bool:
        """Whether matching would fill ``taker`` completely (self-trade prevention counted)."""
        need = taker[REMAINING]
        limit = taker[PRICE]
        stp = taker[STP]
        owner = taker[OWNER]
        if taker[SIDE] is BUY:
            book = self._asks
            prices = iter(self._ask_prices)
        else:
            book = self._bids
            prices = reversed(self._bid_prices)
        for price in prices:
            if limit is not None and (price > limit if taker[SIDE] is BUY else price < limit):
                return False
            for maker in self._live(book[price]):
                if stp is not STP_NONE and maker[OWNER] == owner:
                    if stp is CANCEL_OLDEST:
                        continue
                    return False  # the taker would be cancelled here
                need -= maker[REMAINING]
                if need <= 0:
                    return True
        return False

    def _place(self, order: list, events: list, crosses: bool) -> None:
        """Match ``order`` as the taker (if it ``crosses``), then rest, expire or cancel its remainder."""
        stopped = self._match(order, events) if crosses else False
        remaining = order[1]
        if not remaining:
            order[3] = FILLED
            return
        if stopped:
            self._finish(order, CANCELLED, SELF_TRADE, events)
        elif order[13] is not GTC:  # time_in_force
            reason = CancelReason.MARKET_REMAINDER if order[5] is None else CancelReason.IOC_REMAINDER
            self._finish(order, EXPIRED, reason, events)
        else:
            px = order[5]
            buy = order[6] is BUY
            level = (self._bids if buy else self._asks).get(px)
            if level is None or not level.count:
                level = self._open_level(px, buy)
            priority = order[4]
            level.queue.append(priority)
            level.qty += remaining
            level.count += 1
            self._resting[priority] = order
            order[3] = PARTIALLY_FILLED if order[2] else NEW
            if order[8] is not None:
                self._client_ids[(order[7], order[8])] = order
            self._seq = seq = self._seq + 1
            events.append(_tnew(BookUpdate, (self.symbol, seq, order[6], px, level.qty, level.count)))

    def _match(
        self, taker: list, events: list, /,
        BUY=BUY, SELL=SELL, STP_NONE=STP_NONE, CANCEL_NEWEST=CANCEL_NEWEST, CANCEL_OLDEST=CANCEL_OLDEST,
        FILLED=FILLED, PARTIALLY_FILLED=PARTIALLY_FILLED, _tnew=_tnew, Trade=Trade, BookUpdate=BookUpdate,
    ) -> bool:  # fmt: skip
        """Trade ``taker`` against the opposite side; True if self-trade prevention
        stopped it (its remainder is to be cancelled). (Parameters after ``/``:
        constants bound as locals, as in :meth:`_submit`.)"""
        taker_side = taker[6]
        buy = taker_side is BUY
        if buy:
            book = self._asks
            maker_side = SELL
        else:
            book = self._bids
            maker_side = BUY
        limit = taker[5]  # price
        stp = taker[9]
        owner = taker[7]
        taker_id = taker[0]
        want = taker[1]  # the taker's remaining, written back below
        filled = taker[2]
        symbol = self.symbol
        client_ids = self._client_ids
        resting = self._resting
        get = resting.get
        append = events.append
        seq = self._seq
        stop = False
        while True:
            price = self._best_ask if buy else self._best_bid
            if price is None or (limit is not None and (price > limit if buy else price < limit)):
                break
            level = book[price]
            queue = level.queue
            level_qty = level.qty
            count = level.count
            changed = False
            while count:
                maker = get(queue[0])
                if maker is None:  # a dead stamp
                    queue.popleft()
                    continue
                if stp is not STP_NONE and maker[7] == owner:  # same owner
                    if stp is not CANCEL_NEWEST:  # CANCEL_OLDEST or CANCEL_BOTH: the maker goes
                        queue.popleft()
                        del resting[maker[4]]
                        level_qty -= maker[1]
                        count -= 1
                        self._seq = seq
                        self._finish(maker, CANCELLED, SELF_TRADE, events)
                        seq = self._seq
                        changed = True
                    if stp is not CANCEL_OLDEST:  # CANCEL_NEWEST or CANCEL_BOTH: the taker stops
                        stop = True
                        break
                    continue
                have = maker[1]  # remaining
                fill = want if want < have else have
                seq += 1
                append(_tnew(Trade, (symbol, seq, maker[0], taker_id, maker[7], owner, price, fill, taker_side)))
                changed = True
                level_qty -= fill
                maker[2] += fill  # filled
                filled += fill
                want -= fill
                if have == fill:
                    maker[1] = 0
                    maker[3] = FILLED
                    queue.popleft()
                    del resting[maker[4]]  # priority
                    count -= 1
                    if maker[8] is not None:  # client_id
                        del client_ids[(maker[7], maker[8])]
                else:
                    maker[1] = have - fill
                    maker[3] = PARTIALLY_FILLED
                if not want:
                    break
            level.qty = level_qty
            level.count = count
            if changed:
                seq += 1
                append(_tnew(BookUpdate, (symbol, seq, maker_side, price, level_qty, count)))
            if not count:
                self._drop_level(price, level, not buy)
            if stop or not want:
                break
        taker[1] = want
        taker[2] = filled
        self._seq = seq
        return stop

    def _finish(self, order: list, status: OrderStatus, reason: CancelReason, events: list) -> None:
        """End ``order`` (already out of any queue) with ``status``, dropping its open quantity."""
        qty = order[1]
        order[11] += qty  # cancelled
        order[1] = 0
        order[3] = status
        if order[8] is not None:
            self._forget_client_id(order)
        self._seq = seq = self._seq + 1
        events.append(_tnew(Cancelled, (self.symbol, seq, order[0], qty, reason)))

    def _remove_from_level(self, order: list, level: Level, events: list) -> None:
        """Take resting ``order`` out of ``level`` (emitting the level's BookUpdate)."""
        del self._resting[order[PRIORITY]]
        level.qty -= order[REMAINING]
        level.count -= 1
        self._seq = seq = self._seq + 1
        events.append(BookUpdate(self.symbol, seq, order[SIDE], order[PRICE], level.qty, level.count))
        if level.count:
            self._maybe_compact(level)
        else:
            self._drop_level(order[PRICE], level, order[SIDE] is BUY)

    def _unlink(self, order: list, events: list, reason: CancelReason) -> None:
        """Cancel resting ``order``: its Cancelled event, then its level's BookUpdate."""
        buy = order[SIDE] is BUY
        book = self._bids if buy else self._asks
        level = book[order[PRICE]]
        del self._resting[order[PRIORITY]]
        level.qty -= order[REMAINING]
        level.count -= 1
        self._finish(order, CANCELLED, reason, events)
        self._seq = seq = self._seq + 1
        events.append(BookUpdate(self.symbol, seq, order[SIDE], order[PRICE], level.qty, level.count))
        if level.count:
            self._maybe_compact(level)
        else:
            self._drop_level(order[PRICE], level, buy)
