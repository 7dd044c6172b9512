"""The RCU engine: every read from an immutable published version, writers copy what they change.

Per symbol, writers are serialised by the symbol's writer lock (the sharded
engine's) and apply each update to a private sequential reference
``OrderBook``. An update that changed the book then publishes a new
**version** with one store to the symbol's ``version`` slot: the L3
``BookSnapshot`` (its levels rebuilt only where the update's ``BookUpdate``
events say a level changed; the other levels, immutable tuples, are shared
with the previous version), the quote, and the sequence number and last
order id that select what the version sees of the two histories all
versions share:

- order states: per order a chain of immutable ``(seq, record)`` nodes (the
  order record's fields as a tuple; ``OrderInfo`` is built when read), newest first; a writer pushes a node for each order the update changed (the
  events name them) before publishing, and a reader of version ``v`` walks the
  chain to the first node with ``seq <= v.seq`` (multi-version concurrency);
- events: one append-only list; version ``v`` sees its first ``v.seq``.

Every read -- ``best``, ``depth``, ``snapshot``, ``order``, ``orders``,
``events`` -- loads the version once and answers from it: no lock, no
waiting for writers, and the same answer however long it takes.

Grace period (no sleeps): a node pushed over an older one makes that older
one unreachable for every reader that loads a version from then on; readers
that loaded an older version may still walk to it. So after publishing, the
writer *retires* the cut ``node -> older`` to the engine's
:class:`~freeorder.reclaim.EpochCollector`, and readers of chains pin the
collector around the load of the version and the walk. The collector runs
the cut -- freeing the older states, which then die by reference counting --
two epochs later, when every reader pinned at the retire has unpinned. A
cut run too early would make a reader walk off the end of a chain (a
``RuntimeError``, never a wrong answer). The snapshot, quote and tuples of
an old version need no grace period in Python: a reader holding a version
holds a reference, and reference counting frees it after the last one.

Guarantee: linearizable. An update's **linearization point** is its version
store (an update that changed nothing: any moment under the lock); a read's
is its load of the version. Memory ordering: on 3.13t the slot store is a
release store and the slot load a sequentially consistent load (CPython's
``PyMember_SetOne``/``GetOne``), so a reader that loads a version also sees
the nodes and events written before it was published; list item stores and
appends are atomic per list. A load racing the store retries under the
object's own critical section, which the writer holds only for the store.

Costs: an update rebuilds each level it touched (a tuple of the level's
``RestingOrder`` values, kept per live order by the writers and remade only
for the orders the update changed) and copies the level tuples of each side
it touched (O(levels), in C);
``best`` and ``snapshot`` are one load; ``order`` pins, loads and walks a
chain (one node once its grace period is over).

This module reads ``OrderBook``'s private state (the order records
``_orders``, the levels ``_bids``/``_asks`` and ``_live``) to copy what an
update changed; the engine conformance suite compares
every version with the reference after every command.

GC policy: none of its own; the chains hold one live node per order (every
order stays queryable, as in the reference) plus those awaiting their grace
period, so long runs on 3.13t should raise the GC thresholds or disable it.
"""

from __future__ import annotations

from bisect import bisect_left

from ..book.book import OrderBook, _tnew
from ..book.errors import InvalidOrder, InvalidOrderType, UnknownOrder
from ..book.events import BookUpdate, Trade
from ..book.instrument import Instrument
from ..book.orders import ORDER_ID, OWNER, PRICE, PRIORITY, REMAINING, SIDE, STATUS, Order, OrderStatus, Side
from ..book.results import BookSnapshot, Depth, LevelInfo, LevelOrders, Quote, RestingOrder
from ..reclaim import EpochCollector
from .api import check_events_query
from .sharded import PublishingEngine, _Shard

__all__ = ["RcuEngine"]

_BUY = Side.BUY
NEW, PARTIALLY_FILLED = OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED
_SEQ, _STATE, _OLDER = 0, 1, 2  # a chain node: [seq, the order record's fields as a tuple, older node or None]


class _Version:
    """One immutable state of a symbol: its L3 snapshot, quote, and the levels' sort keys
    (``-price`` for bids, ``price`` for asks: ascending = best first, as in the snapshot)."""

    __slots__ = ("snapshot", "quote", "bid_keys", "ask_keys")

    def __init__(self, snapshot: BookSnapshot, bid_keys: tuple, ask_keys: tuple) -> None:
        self.snapshot = snapshot
        self.bid_keys = bid_keys
        self.ask_keys = ask_keys
        bid = snapshot.bids[0] if snapshot.bids else None
        ask = snapshot.asks[0] if snapshot.asks else None
        self.quote = _tnew(Quote, (bid and bid.price, bid.qty if bid else 0, ask and ask.price, ask.qty if ask else 0))


def _cut(nodes: list) -> None:
    """The grace period is over: no reader can walk past these nodes any more."""
    for node in nodes:
        node[_OLDER] = None


def _relevel(levels: tuple, keys: tuple, prices, book: OrderBook, resting: dict, appended: dict, buy: bool):
    """One side's (levels, keys) with the levels at ``prices`` rebuilt from ``book``.

    ``resting``: each live order's current ``RestingOrder``; ``appended``: price -> the one
    order the update queued there, if any. A level that gained exactly one order gained
    only it, at the back (one command adds at most one order to a level of its side and
    removes none there), so its tuple is the old one plus that order; others are rebuilt.
    """
    levels, keys = list(levels), list(keys)
    side = book._bids if buy else book._asks
    for price in prices:
        key = -price if buy else price
        i = bisect_left(keys, key)
        found = i < len(keys) and keys[i] == key
        level = side.get(price)
        if level is None or not level.count:
            if found:
                del levels[i], keys[i]
            continue
        if found and level.count == levels[i][2] + 1 and price in appended:
            queue = levels[i][3] + (resting[appended[price]],)
        else:
            queue = tuple([resting[o[ORDER_ID]] for o in book._live(level)])
        rebuilt = _tnew(LevelOrders, (price, level.qty, level.count, queue))
        if found:
            levels[i] = rebuilt
        else:
            levels.insert(i, rebuilt)
            keys.insert(i, key)
    return tuple(levels), tuple(keys)


class _RcuShard(_Shard):
    """The writers' book (private to whoever holds ``lock``) and what readers share."""

    __slots__ = ("version", "chains", "events", "resting")

    def __init__(self, instrument: Instrument, record_events: bool) -> None:
        super().__init__(instrument, False)  # the shared ``events`` list is the log
        self.version = _Version(BookSnapshot(instrument.symbol, 0, 0, (), ()), (), ())
        self.chains: list[list] = []  # order_id - 1 -> newest node
        self.events: list | None = [] if record_events else None
        self.resting: dict[int, RestingOrder] = {}  # writers only: live order id -> its RestingOrder


class RcuEngine(PublishingEngine):
    """Serialised writers publish immutable versions; every read is lock-free (see module docstring)."""

    name = "rcu"

    def __init__(self, instruments=(), *, record_events: bool = True) -> None:
        self._collector = EpochCollector()
        super().__init__(instruments, record_events=record_events)

    def _new_shard(self, instrument: Instrument) -> _RcuShard:
        return _RcuShard(instrument, self._record_events)

    def _publish(self, shard: _RcuShard, events: tuple) -> None:
        book = shard.book
        seq = events[-1].seq
        changed, bid_prices, ask_prices = set(), set(), set()
        for event in events:
            kind = type(event)
            if kind is BookUpdate:
                (bid_prices if event.side is _BUY else ask_prices).add(event.price)
            elif kind is Trade:
                changed.add(event.maker_id)
                changed.add(event.taker_id)
            else:  # Accepted, Rejected, Cancelled, Modified
                changed.add(event.order_id)
        chains, resting, records = shard.chains, shard.resting, book._orders
        superseded = []
        appended_bids, appended_asks = {}, {}
        for order_id in sorted(changed):  # a new order has the next id: appended in order
            record = records[order_id - 1]
            if record[STATUS] is NEW or record[STATUS] is PARTIALLY_FILLED:
                resting[order_id] = _tnew(RestingOrder, (order_id, record[OWNER], record[REMAINING], record[PRIORITY]))
                (appended_bids if record[SIDE] is _BUY else appended_asks)[record[PRICE]] = order_id
            else:
                resting.pop(order_id, None)
            node = [seq, tuple(record), None]  # the record's fields now; OrderInfo built when read
            if order_id <= len(chains):
                node[_OLDER] = chains[order_id - 1]
                chains[order_id - 1] = node
                superseded.append(node)
            else:
                chains.append(node)
        if shard.events is not None:
            shard.events.extend(events)
        old = shard.version
        bids, bid_keys = old.snapshot.bids, old.bid_keys
        asks, ask_keys = old.snapshot.asks, old.ask_keys
        if bid_prices:
            bids, bid_keys = _relevel(bids, bid_keys, bid_prices, book, resting, appended_bids, True)
        if ask_prices:
            asks, ask_keys = _relevel(asks, ask_keys, ask_prices, book, resting, appended_asks, False)
        snapshot = _tnew(BookSnapshot, (book.symbol, seq, len(records), bids, asks))
        shard.version = _Version(snapshot, bid_keys, ask_keys)  # the release store: the linearization point
        if superseded:
            guard = self._collector.pin()
            try:
                guard.retire(_cut, superseded, 0)  # runs once every reader pinned now has unpinned
            finally:
                guard.unpin()

    # ------------------------------------------------------------------ reads: one version each, no lock

    def best(self, symbol):
        return self._shard(symbol).version.quote

    def snapshot(self, symbol):
        return self._shard(symbol).version.snapshot

    def depth(self, symbol, n):
        if type(n) is not int:
            raise InvalidOrderType("n", n, "expected an int")
        if n < 0:
            raise InvalidOrder("n", n, "must be >= 0")
        snapshot = self._shard(symbol).version.snapshot
        return _tnew(Depth, (tuple([_tnew(LevelInfo, lv[:3]) for lv in snapshot.bids[:n]]),
                             tuple([_tnew(LevelInfo, lv[:3]) for lv in snapshot.asks[:n]])))

    def order(self, symbol, order_id):
        shard = self._shard(symbol)
        if type(order_id) is not int:
            raise InvalidOrderType("order_id", order_id, "expected an int")
        guard = self._collector.pin()
        try:
            snapshot = shard.version.snapshot
            if not 0 < order_id <= snapshot.last_order_id:
                raise UnknownOrder("order_id", order_id, f"no such order on {symbol}")
            return Order.info(_state_at(shard.chains[order_id - 1], snapshot.seq), snapshot.symbol)
        finally:
            guard.unpin()

    def orders(self, symbol):
        shard = self._shard(symbol)
        guard = self._collector.pin()
        try:
            snapshot = shard.version.snapshot
            seq, chains, symbol, info = snapshot.seq, shard.chains, snapshot.symbol, Order.info
            return tuple(info(_state_at(chains[i], seq), symbol) for i in range(snapshot.last_order_id))
        finally:
            guard.unpin()

    def events(self, symbol, after_seq=0):
        shard = self._shard(symbol)
        check_events_query(shard.events is not None, after_seq)
        return tuple(shard.events[after_seq:shard.version.snapshot.seq])

    def reclaimer_stats(self) -> dict[str, int]:
        """The collector's retired/reclaimed counts (one retirement per update that superseded states)."""
        return self._collector.stats()


def _state_at(node: list, seq: int) -> tuple:
    """The order's record in the version with sequence number ``seq``: the newest node not after it."""
    while node[_SEQ] > seq:
        node = node[_OLDER]
        if node is None:
            raise RuntimeError("an order state was freed before its grace period ended")
    return node[_STATE]
