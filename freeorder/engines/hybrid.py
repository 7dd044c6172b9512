"""The hybrid engine (the seed's §10): lock-free market-data reads, serialised writes.

Per symbol, updates are the sharded engine's: the sequential reference
``OrderBook`` behind the symbol's writer lock. After each update that
changed the book, still holding the lock, the writer publishes a new
immutable **view** -- the best quote and the best ``view_depth`` levels of
each side (price, quantity, order count) -- with one store to the symbol's
``view`` slot. ``best`` and ``depth(n)`` with ``n <= view_depth`` read that
view and take no lock: the hot path of a market-data consumer. Everything
else (deeper ``depth``, the L3 ``snapshot``, ``order``, ``orders``,
``events``) takes the writer lock, as the seed's hybrid keeps only a depth
snapshot.

Guarantee: linearizable. An update's **linearization point** is its view
store (or, for an update that changed nothing, any moment under the lock);
a view read's is its load of the view; a locked read's any moment under the
lock, when the view is exactly the book's state (the writer publishes
before it releases the lock). Memory ordering: on 3.13t the slot store is a
release store and the slot load a sequentially consistent load (CPython's
``PyMember_SetOne``/``GetOne``), so a reader that loads a view sees it fully
built; a view is never changed after it is published. A load racing the
store retries under the object's own critical section, which the writer
holds only for the store itself. Blocking: readers of the view never wait
for a writer; updates and locked reads wait for the symbol's lock.

Building the view is incremental: the update's ``BookUpdate`` events name
every level it changed, and are merged into the previous view's levels (a
binary search each); only when a side of the view falls below
``view_depth`` levels while the book has more is that side refilled from the
book (``OrderBook.depth``).

GC policy: none of its own; each view is a few tuples freed by reference
counting when the next replaces it and its last reader drops it. The books
keep every order (as the reference does), so long runs on 3.13t should
raise the GC thresholds or disable it.
"""

from __future__ import annotations

from bisect import bisect_left

from ..book.book import _tnew
from ..book.errors import InvalidOrder
from ..book.events import BookUpdate
from ..book.instrument import Instrument
from ..book.orders import Side
from ..book.results import Depth, LevelInfo, Quote
from .sharded import PublishingEngine, _Shard

__all__ = ["HybridEngine", "DEFAULT_VIEW_DEPTH"]

DEFAULT_VIEW_DEPTH = 10
_BUY = Side.BUY


class _View:
    """An immutable top-of-book view: the quote and each side's best levels, best first.

    ``*_keys`` are the levels' sort keys (``-price`` for bids, ``price`` for
    asks: ascending = best first); ``*_complete`` tells whether the side
    holds every level of the book's side (else exactly the best ``view_depth``).
    """

    __slots__ = ("quote", "bids", "asks", "bid_keys", "ask_keys", "bids_complete", "asks_complete")

    def __init__(self, bids, bid_keys, bids_complete, asks, ask_keys, asks_complete):
        self.bids, self.bid_keys, self.bids_complete = bids, bid_keys, bids_complete
        self.asks, self.ask_keys, self.asks_complete = asks, ask_keys, asks_complete
        bid = bids[0] if bids else None
        ask = asks[0] if asks else None
        self.quote = _tnew(Quote, (bid and bid.price, bid.qty if bid else 0, ask and ask.price, ask.qty if ask else 0))


_EMPTY = _View((), (), True, (), (), True)


def _merge(levels, keys, complete, updates, buy, book, view_depth):
    """The side's new (levels, keys, complete) after ``updates`` (its ``BookUpdate`` events, in order).

    Invariant kept by each step: the levels held are every level of the book
    (as of the updates applied so far) whose key is at most the last key held,
    or every level if ``complete``. An update beyond the last key of an
    incomplete side is outside the view and skipped.
    """
    levels, keys = list(levels), list(keys)
    for update in updates:
        price = update.price
        key = -price if buy else price
        i = bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            if update.count:
                levels[i] = _tnew(LevelInfo, update[3:])
            else:
                del levels[i], keys[i]
        elif update.count and (complete or i < len(keys)):
            levels.insert(i, _tnew(LevelInfo, update[3:]))
            keys.insert(i, key)
    if len(levels) > view_depth:
        del levels[view_depth:], keys[view_depth:]
        complete = False
    elif len(levels) < view_depth and not complete:  # the window shrank: refill from the book
        depth = book.depth(view_depth)
        levels = list(depth.bids if buy else depth.asks)
        keys = [-lv.price if buy else lv.price for lv in levels]
        complete = len(levels) < view_depth
    return tuple(levels), tuple(keys), complete


class _HybridShard(_Shard):
    __slots__ = ("view",)

    def __init__(self, instrument: Instrument, record_events: bool) -> None:
        super().__init__(instrument, record_events)
        self.view = _EMPTY


class HybridEngine(PublishingEngine):
    """Serialised writes per symbol, lock-free best/depth from a published view (see module docstring)."""

    name = "hybrid"

    def __init__(self, instruments=(), *, record_events: bool = True, view_depth: int = DEFAULT_VIEW_DEPTH) -> None:
        if type(view_depth) is not int or view_depth < 1:
            raise InvalidOrder("view_depth", view_depth, "must be an int >= 1")
        self._view_depth = view_depth
        super().__init__(instruments, record_events=record_events)

    def _new_shard(self, instrument: Instrument) -> _HybridShard:
        return _HybridShard(instrument, self._record_events)

    def _publish(self, shard: _HybridShard, events) -> None:
        bids, asks = [], []
        for event in events:
            if type(event) is BookUpdate:
                (bids if event.side is _BUY else asks).append(event)
        if not bids and not asks:
            return  # no level changed: the view stands
        old = shard.view
        side_bids = (old.bids, old.bid_keys, old.bids_complete)
        side_asks = (old.asks, old.ask_keys, old.asks_complete)
        if bids:
            side_bids = _merge(*side_bids, bids, True, shard.book, self._view_depth)
        if asks:
            side_asks = _merge(*side_asks, asks, False, shard.book, self._view_depth)
        shard.view = _View(*side_bids, *side_asks)  # the release store: the linearization point

    # ------------------------------------------------------------------ lock-free reads

    def best(self, symbol):
        return self._shard(symbol).view.quote

    def depth(self, symbol, n):
        shard = self._shard(symbol)
        if type(n) is int and 0 <= n <= self._view_depth:
            view = shard.view
            return _tnew(Depth, (view.bids[:n], view.asks[:n]))
        return super().depth(symbol, n)  # deeper (or bad n): under the lock
