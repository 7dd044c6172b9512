"""SeedEngine: the textbook "lock-free order book", built from freeorder's own structures --
a demonstration of why putting lock-free parts together does not make a lock-free *book*.

The design it ports is the one most write-ups of a lock-free order book propose:

- per side, a lock-free skiplist of price levels, best price first (bids are keyed by
  ``-price``, asks by ``price``): here a :class:`~freeorder.lockfree.SkipListMap`;
- per level, an atomic total quantity and an atomic order count
  (:class:`freeorder.atomic.AtomicInt`), and a lock-free FIFO of the ids of the orders
  resting there (:class:`~freeorder.lockfree.MSQueue`);
- a concurrent map from order id to order (:class:`~freeorder.lockfree.OrderIndex`);
  each order's open quantity is one atomic cell, so a fill of a resting order is one
  compare-exchange;
- a matching loop that walks the opposite side's levels best first, takes the order at
  the head of each level's queue, fills it, and lowers the level total; a level whose
  count reaches 0 is removed; a resting remainder is added to its level (total, queue,
  count) and then published in the order map; a cancel claims the order, lowers the
  level total and removes the level once its total reaches 0.

Each of those steps is atomic on its own; nothing orders one command's steps against
another's -- no log, no lock, no helping -- so the engine is non-blocking and **not
linearizable**. It exists to show that, and it is kept out of the engine conformance
suite (``ReferenceEngine``'s contract): ``tests/test_engine_seed.py`` keeps a two-thread
history that ``freeorder.verify``'s linearizability checker rejects, and the README
explains it.

Surface: ``limit``, ``market``, ``cancel``, ``best``, ``depth`` (plus ``order``,
``orders`` and, at rest only, ``snapshot``, for the invariant checker). Prices and
quantities are parsed by the :class:`~freeorder.book.Instrument` and returned in its
integer units; bad input raises :class:`~freeorder.book.InvalidOrder` naming the field
and value before anything changes. Results are the project's types: a submit returns a
:class:`~freeorder.book.SubmitResult` whose ``events`` are its ``Trade`` s only, each with
``seq`` 0 (this book keeps no event sequence); a cancel a
:class:`~freeorder.book.CancelResult` with no events. Order ids are unique per symbol
but not ordered like the commands: an id is taken with one ``fetch_add`` when a submit
starts, and two concurrent submits may take effect in the other order.

Single-thread bugs of the design as usually written, fixed here (and nothing else):

- a partial fill keeps the resting order's queue priority: the usual loop pops the
  head before filling it, so a partly filled order leaves the front of its queue
  (dropped from it, or pushed back at the tail); here the head is peeked, filled in
  place, and dequeued only once it is filled completely;
- market orders match (the usual version leaves them unimplemented); their unfilled
  rest expires;
- a cancel of a finished order is answered (``cancelled=False``, ``ORDER_NOT_LIVE``)
  instead of vanishing: every order stays in the order map, and "removing it" is the
  atomic transition of its open-quantity cell to filled (0) or cancelled (negative);
- ``count`` is the number of *live* orders at the level (the canceller decrements it),
  so ``depth`` reports it; cancelled ids still leave the queue lazily, when matching
  meets them at the head.

Individually atomic steps (each a linearizable operation of one structure; all atomics
use the default SEQ_CST, which is enough for every step below because each is a single
read-modify-write or load of one cell -- the anomalies come from atomicity, not order):

1. issue an id: ``next_id.fetch_add(1)``;
2. find or create a level: ``SkipListMap.get_or_insert`` (linearizes at its level-0 link
   or the load of the present node's value);
3. rest a remainder: ``total.fetch_add(qty)``, then ``orders.enqueue(id)``, then
   ``count.fetch_add(1)``, then ``OrderIndex.insert(id, order)`` -- four steps, in the
   usual order (the order is queued before it is findable);
4. fill a resting order: one compare-exchange of its open-quantity cell from ``r`` to
   ``r - min(r, wanted)`` (fails if anyone filled or cancelled it meanwhile, and retries);
5. ``total.fetch_sub(fill)`` -- a separate step after 4;
6. a filled or cancelled order at the head leaves the queue: ``peek`` shows it is still
   the head, then ``dequeue`` -- two steps; ``count.fetch_sub(1)`` by whoever filled it;
7. a level whose count reads 0 after matching, or whose total reaches 0 by a cancel,
   is removed: ``SkipListMap.pop(key)`` (whatever level object is at that key by then);
8. cancel: the compare-exchange of the order's cell from ``r > 0`` to ``-r``, then
   ``total.fetch_sub(r)``, ``count.fetch_sub(1)`` and maybe 7;
9. ``best``: ``first()`` of the bid side and the load of its total, then the same for
   the ask side; ``depth``: a weakly consistent walk of each side, one load of ``total``
   and of ``count`` per level.

Invariant of the book between commands, kept when one thread at a time calls it: a
level's total and count are the open quantity and number of its live orders; every
live order is queued in exactly one level, its own; no level is empty; the book is not
crossed. Each is broken by some interleaving below.

Why the whole is not linearizable: a command is a sequence of those steps and other
commands see and act on its intermediate states. Two aggressors can work the same head
order at once: one fills it completely (4) and checks it is still the head (6); the
other finds it filled and checks the same; both dequeue, and the second dequeue takes
the *next* order, which is live and now in no queue -- its quantity stays in the level
total, no taker can reach it, and one aggressor finds the queue empty and rests at a
price that should have traded (a crossed book). A cancel that drives a level total to 0 removes the level (7) while a new
order is being added to that same level object (3): the new order rests in a level no
one can see. A remainder is queued before it is in the order map (3): a taker that
reaches its id in between takes it for cancelled and drops it from the queue. And
readers see the gaps between 4 and 5, between the two sides of ``best``, and between the
levels of ``depth``: states no sequential book passes through. None of this can be
fixed step by step: each step is already atomic; what is missing is an order on whole
commands, which is what ``LockFreeEngine`` (a log that orders each symbol's commands,
with helping) provides.

Not thread-safe to set up: add instruments before threads use the engine.

>>> from freeorder.book import Instrument, Side
>>> engine = SeedEngine([Instrument("XYZ", tick_size="0.01")])
>>> engine.limit("XYZ", Side.SELL, 5, "100.50").order_id
1
>>> r = engine.limit("XYZ", Side.BUY, 3, "101")
>>> r.status.name, r.filled_qty, [(t.maker_id, t.price, t.qty) for t in r.events]
('FILLED', 3, [(1, 10050, 3)])
>>> engine.best("XYZ")
Quote(bid=None, bid_qty=0, ask=10050, ask_qty=2)
"""

from __future__ import annotations

from ..atomic import INT64_MAX, AtomicInt
from ..book.book import _check_enum
from ..book.errors import DuplicateInstrument, InvalidOrder, InvalidOrderType, UnknownOrder
from ..book.events import RejectReason, Trade
from ..book.instrument import Instrument
from ..book.orders import OrderInfo, OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from ..book.results import (
    BookSnapshot,
    CancelResult,
    Depth,
    LevelInfo,
    LevelOrders,
    Quote,
    RestingOrder,
    SubmitResult,
)
from ..lockfree import MSQueue, OrderIndex, SkipListMap
from ..reclaim import make_reclaimer
from .api import lookup_symbol

__all__ = ["SeedEngine"]

BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET
NEW, PARTIALLY_FILLED, FILLED = OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED
CANCELLED, EXPIRED = OrderStatus.CANCELLED, OrderStatus.EXPIRED


class _Order:
    """One order: immutable fields and ``cell``, its state in one atomic int64.

    ``cell > 0``: live with that open quantity; ``0``: filled completely; ``< 0``: its
    open quantity ``-cell`` was cancelled (by ``cancel``, or expired for a market order).
    """

    __slots__ = ("order_id", "side", "price", "quantity", "owner", "order_type", "cell")

    def __init__(self, order_id, side, price, quantity, owner, order_type, open_qty):
        self.order_id = order_id
        self.side = side
        self.price = price
        self.quantity = quantity
        self.owner = owner
        self.order_type = order_type
        self.cell = AtomicInt(open_qty)

    def status(self, cell: int) -> OrderStatus:
        if cell > 0:
            return NEW if cell == self.quantity else PARTIALLY_FILLED
        if cell == 0:
            return FILLED
        return EXPIRED if self.order_type is MARKET else CANCELLED

    def info(self, symbol: str) -> OrderInfo:
        cell = self.cell.load()
        remaining = max(cell, 0)
        cancelled = max(-cell, 0)
        market = self.order_type is MARKET
        return OrderInfo(symbol, self.order_id, self.owner, None, self.side, self.order_type,
                         TimeInForce.IOC if market else TimeInForce.GTC, False, SelfTradePrevention.NONE,
                         self.price, self.quantity, self.quantity - remaining - cancelled, remaining, cancelled,
                         self.status(cell))


class _Level:
    """A price level: atomic ``total`` open quantity and ``count`` of live orders, and a
    FIFO of order ids (cancelled ids stay in it until matching meets them at the head)."""

    __slots__ = ("price", "total", "count", "orders")

    def __init__(self, price: int):
        self.price = price
        self.total = AtomicInt(0)
        self.count = AtomicInt(0)
        self.orders = MSQueue()


class _Book:
    """One symbol: bid and ask skiplists (keys ``-price`` and ``price``: best first), the order map."""

    __slots__ = ("instrument", "symbol", "bids", "asks", "orders", "next_id")

    def __init__(self, instrument: Instrument, reclaimer: str):
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.bids = SkipListMap(reclaimer=make_reclaimer(reclaimer))
        self.asks = SkipListMap(reclaimer=make_reclaimer(reclaimer))
        self.orders = OrderIndex(reclaimer=make_reclaimer(reclaimer))
        self.next_id = AtomicInt(0)

    def side(self, side: Side):
        """(levels of ``side``, the key of a price there: ``-price`` for bids)."""
        return (self.bids, -1) if side is BUY else (self.asks, 1)


def _take(cell: AtomicInt, want: int) -> tuple[int, bool]:
    """Fill up to ``want`` from a resting order's cell: (filled, whether it is now filled
    completely). Linearization point: the compare-exchange (or the load that saw it finished)."""
    have = cell.load()
    while have > 0:
        fill = want if want < have else have
        seen = cell.compare_exchange(have, have - fill)
        if seen == have:
            return fill, fill == have
        have = seen
    return 0, False


class SeedEngine:
    """The seed's lock-free book (see the module docstring): non-blocking, not linearizable.

    ``reclaimer`` names the reclaimer of each skiplist and order map (``"epoch"``,
    ``"hazard"`` or ``"none"``); the level queues use counted pointers.
    """

    name = "seed"

    def __init__(self, instruments=(), *, reclaimer: str = "epoch") -> None:
        make_reclaimer(reclaimer)  # a bad name raises here, before anything is built
        self._reclaimer = reclaimer
        self._books: dict[str, _Book] = {}
        for instrument in instruments:
            self.add_instrument(instrument)

    def add_instrument(self, instrument: Instrument) -> None:
        if not isinstance(instrument, Instrument):
            raise InvalidOrderType("instrument", instrument, "expected an Instrument")
        if instrument.symbol in self._books:
            raise DuplicateInstrument(f"symbol={instrument.symbol!r}: already registered")
        self._books[instrument.symbol] = _Book(instrument, self._reclaimer)

    def instrument(self, symbol: str) -> Instrument:
        return lookup_symbol(self._books, symbol).instrument

    def symbols(self) -> tuple[str, ...]:
        return tuple(self._books)

    # ------------------------------------------------------------------ commands

    def limit(self, symbol: str, side: Side, quantity, price, *, owner: str = "") -> SubmitResult:
        """A GTC limit order: match what crosses, rest the remainder at the back of its level."""
        book = lookup_symbol(self._books, symbol)
        _check_enum("side", side, Side)
        px = book.instrument.parse_price(price)
        qty = book.instrument.parse_quantity(quantity)
        _check_owner(owner)
        order_id = book.next_id.fetch_add(1) + 1
        want, trades = _match(book, order_id, side, qty, px, owner)
        filled = qty - want
        order = _Order(order_id, side, px, qty, owner, LIMIT, want)
        if want:
            levels, sign = book.side(side)
            level = levels.get(sign * px)
            if level is None:
                level = levels.get_or_insert(sign * px, _Level(px))
            level.total.fetch_add(want)
            level.orders.enqueue(order_id)
            level.count.fetch_add(1)
        book.orders.insert(order_id, order)
        status = FILLED if not want else (PARTIALLY_FILLED if filled else NEW)
        return SubmitResult(order_id, status, filled, want, trades)

    def market(self, symbol: str, side: Side, quantity, *, owner: str = "") -> SubmitResult:
        """A market order: match at any price; the unfilled rest expires (status EXPIRED)."""
        book = lookup_symbol(self._books, symbol)
        _check_enum("side", side, Side)
        qty = book.instrument.parse_quantity(quantity)
        _check_owner(owner)
        order_id = book.next_id.fetch_add(1) + 1
        want, trades = _match(book, order_id, side, qty, None, owner)
        book.orders.insert(order_id, _Order(order_id, side, None, qty, owner, MARKET, -want))
        return SubmitResult(order_id, EXPIRED if want else FILLED, qty - want, 0, trades)

    def cancel(self, symbol: str, order_id: int) -> CancelResult:
        """Cancel a live order; a finished one is answered with ``cancelled=False``.

        Linearization point of the claim: the compare-exchange of the order's cell to
        ``-open``; the level total, count and removal follow as separate steps.
        """
        book = lookup_symbol(self._books, symbol)
        order = _lookup(book, order_id)
        cell = order.cell
        have = cell.load()
        while have > 0:
            seen = cell.compare_exchange(have, -have)
            if seen == have:
                break
            have = seen
        else:
            return CancelResult(order_id, False, order.status(have), 0, RejectReason.ORDER_NOT_LIVE, ())
        levels, sign = book.side(order.side)
        level = levels.get(sign * order.price)
        if level is not None:
            left = level.total.fetch_sub(have) - have
            level.count.fetch_sub(1)
            if left <= 0:
                levels.pop(sign * order.price, None)
        return CancelResult(order_id, True, CANCELLED, have, None, ())

    # ------------------------------------------------------------------ queries

    def best(self, symbol: str) -> Quote:
        """Best bid and ask with their level totals, read one side after the other."""
        book = lookup_symbol(self._books, symbol)
        bid, bid_qty = _top(book.bids)
        ask, ask_qty = _top(book.asks)
        return Quote(bid, bid_qty, ask, ask_qty)

    def depth(self, symbol: str, n: int) -> Depth:
        """The best ``n`` levels per side (price, total, live count), weakly consistent."""
        book = lookup_symbol(self._books, symbol)
        if type(n) is not int:
            raise InvalidOrderType("n", n, "expected an int")
        if n < 0:
            raise InvalidOrder("n", n, "must be >= 0")
        return Depth(_levels(book.bids, n), _levels(book.asks, n))

    def order(self, symbol: str, order_id: int) -> OrderInfo:
        """The state of one order (ids not issued, or whose submit has not finished: ``UnknownOrder``)."""
        book = lookup_symbol(self._books, symbol)
        order = _lookup(book, order_id)
        return order.info(book.symbol)

    def orders(self, symbol: str) -> tuple[OrderInfo, ...]:
        """Every order whose submit has finished, by id."""
        book = lookup_symbol(self._books, symbol)
        return tuple(order.info(book.symbol) for _, order in sorted(book.orders.items(), key=_first))

    def snapshot(self, symbol: str) -> BookSnapshot:
        """The L3 view for ``freeorder.book.violations``: at rest only (no thread inside the
        symbol), not a snapshot. Each level lists its queued live orders; ``priority`` is the
        queue position; ``seq`` is 0 (no event sequence)."""
        book = lookup_symbol(self._books, symbol)
        lookup = book.orders.get

        def side(levels):
            out = []
            for _, level in levels.items():
                queued = [lookup(i) for i in level.orders.to_list()]
                live = [(o, o.cell.load()) for o in queued if o is not None]
                rest = tuple(RestingOrder(o.order_id, o.owner, c, k) for k, (o, c) in enumerate(live, 1) if c > 0)
                out.append(LevelOrders(level.price, level.total.load(), level.count.load(), rest))
            return tuple(out)

        return BookSnapshot(book.symbol, 0, book.next_id.load(), side(book.bids), side(book.asks))


def _lookup(book: _Book, order_id) -> _Order:
    """The order ``order_id`` of ``book``, or the error naming it (bad type, never issued,
    or its submit has not finished)."""
    if type(order_id) is not int:
        raise InvalidOrderType("order_id", order_id, "expected an int")
    order = book.orders.get(order_id) if 0 < order_id <= INT64_MAX else None
    if order is None:
        raise UnknownOrder("order_id", order_id, f"no such order on {book.symbol}")
    return order


def _first(pair):
    return pair[0]


def _check_owner(owner) -> None:
    if type(owner) is not str:
        raise InvalidOrderType("owner", owner, "expected a str")


def _top(levels: SkipListMap) -> tuple[int | None, int]:
    try:
        _, level = levels.first()
    except KeyError:
        return None, 0
    return level.price, level.total.load()


def _levels(levels: SkipListMap, n: int) -> tuple[LevelInfo, ...]:
    out = []
    if n:
        for _, level in levels.items():
            out.append(LevelInfo(level.price, level.total.load(), level.count.load()))
            if len(out) == n:
                break
    return tuple(out)


def _match(book: _Book, taker_id: int, side: Side, want: int, limit: int | None, owner: str):
    """Trade up to ``want`` against the opposite side, best level first, each queue in
    order, at the maker's price; returns (unfilled quantity, trades). ``limit`` None: any price."""
    buy = side is BUY
    levels = book.asks if buy else book.bids
    lookup = book.orders.get
    symbol = book.symbol
    trades = []
    for key, level in levels.items():
        price = level.price
        if limit is not None and (price > limit if buy else price < limit):
            break
        queue = level.orders
        while want:
            maker_id = queue.peek(None)
            if maker_id is None:
                break
            maker = lookup(maker_id)
            fill, done = (0, False) if maker is None else _take(maker.cell, want)
            if fill:
                want -= fill
                level.total.fetch_sub(fill)
                trades.append(Trade(symbol, 0, maker_id, taker_id, maker.owner, owner, price, fill, side))
                if done:
                    level.count.fetch_sub(1)
            if (not fill or done) and queue.peek(None) == maker_id:
                queue.dequeue(None)  # a finished (or not yet findable) head leaves the queue
        if level.count.load() == 0:
            levels.pop(key, None)
        if not want:
            break
    return want, tuple(trades)
