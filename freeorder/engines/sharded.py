"""The sharded engine: one lock per symbol (the seed's sharded books, with one symbol per shard).

Each symbol is a sequential reference ``OrderBook`` behind its own
``threading.Lock``; every call on the symbol, update or read, holds that
lock. Symbols share nothing, so threads on different symbols never wait for
each other, and threads on one symbol take turns. Results are the
reference's.

Guarantee: linearizable; a call's **linearization point** is any moment
while it holds its symbol's lock. Blocking: a thread stopped while holding
a symbol's lock stops every call on that symbol (only that one).

A plain mutex rather than a reader-writer lock per symbol: a read of one
book is about as short as taking a lock, so shared reads would save little
and cost a second lock round trip; the ``rwlock`` engine measures the
reader-writer variant (over all books, as the seed's ``RwLock<HashMap>``).

This module is also the base of ``hybrid`` and ``rcu``, which keep its
per-symbol writer lock and publish what readers read (``_Shard``,
``_update``). ``on_step``: if set, ``on_step("locked", None)`` runs inside
every update's critical section (the stalled-thread benchmark pauses there).

GC policy: none of its own; the books keep every order (as the reference
does), so long runs on 3.13t should raise the GC thresholds or disable it.
"""

from __future__ import annotations

import threading

from ..book.book import OrderBook
from ..book.errors import DuplicateInstrument, InvalidOrderType
from ..book.instrument import Instrument
from ..book.orders import OrderType, SelfTradePrevention
from .api import lookup_symbol

__all__ = ["PublishingEngine", "ShardedEngine"]

_LIMIT = OrderType.LIMIT
_STP_NONE = SelfTradePrevention.NONE


class _Shard:
    """One symbol: its book and the lock every caller of the book holds."""

    __slots__ = ("lock", "book")

    def __init__(self, instrument: Instrument, record_events: bool) -> None:
        self.lock = threading.Lock()
        self.book = OrderBook(instrument, record_events=record_events)


class ShardedEngine:
    """Per-symbol reference books, each behind its own lock (see module docstring)."""

    name = "sharded"

    def __init__(self, instruments=(), *, record_events: bool = True) -> None:
        self._shards: dict[str, _Shard] = {}
        self._record_events = record_events
        self._registering = threading.Lock()  # add_instrument's check-then-insert
        self.on_step = None
        for instrument in instruments:
            self.add_instrument(instrument)

    def _shard(self, symbol) -> _Shard:
        try:
            return self._shards[symbol]
        except (KeyError, TypeError):
            return lookup_symbol(self._shards, symbol)  # raises the engine API's error

    def add_instrument(self, instrument: Instrument) -> None:
        if not isinstance(instrument, Instrument):
            raise InvalidOrderType("instrument", instrument, "expected an Instrument")
        with self._registering:
            if instrument.symbol in self._shards:
                raise DuplicateInstrument(f"symbol={instrument.symbol!r}: already registered")
            self._shards[instrument.symbol] = self._new_shard(instrument)

    def _new_shard(self, instrument: Instrument) -> _Shard:
        return _Shard(instrument, self._record_events)

    def instrument(self, symbol: str) -> Instrument:
        return self._shard(symbol).book.instrument

    def symbols(self) -> tuple[str, ...]:
        return tuple(self._shards)

    # ------------------------------------------------------------------ updates

    def _update(self, shard: _Shard, fn, args: tuple):
        """``fn(*args)`` (a method of ``shard.book``) under the symbol's lock."""
        with shard.lock:
            if self.on_step is not None:
                self.on_step("locked", None)
            return fn(*args)

    def submit(self, symbol, side, quantity, price=None, *, order_type=_LIMIT, time_in_force=None,
               post_only=False, owner="", client_id=None, stp=_STP_NONE):
        shard = self._shard(symbol)
        return self._update(shard, shard.book._submit,
                            (side, quantity, price, order_type, time_in_force, post_only, owner, client_id, stp))

    def cancel(self, symbol, order_id):
        shard = self._shard(symbol)
        return self._update(shard, shard.book._cancel, (order_id,))

    def modify(self, symbol, order_id, *, price=None, quantity=None):
        shard = self._shard(symbol)
        return self._update(shard, lambda: shard.book.modify(order_id, price=price, quantity=quantity), ())

    def mass_cancel(self, symbol, *, side=None, owner=None):
        shard = self._shard(symbol)
        return self._update(shard, lambda: shard.book.mass_cancel(side=side, owner=owner), ())

    # ------------------------------------------------------------------ reads (under the same lock)

    def _read(self, symbol, method, *args):
        """``method(book, *args)`` (an ``OrderBook`` method) under the symbol's lock."""
        shard = self._shard(symbol)
        with shard.lock:
            return method(shard.book, *args)

    def best(self, symbol):
        return self._read(symbol, OrderBook.best)

    def depth(self, symbol, n):
        return self._read(symbol, OrderBook.depth, n)

    def snapshot(self, symbol):
        return self._read(symbol, OrderBook.snapshot)

    def order(self, symbol, order_id):
        return self._read(symbol, OrderBook.order, order_id)

    def orders(self, symbol):
        return self._read(symbol, OrderBook.orders)

    def events(self, symbol, after_seq=0):
        return self._read(symbol, OrderBook.events, after_seq)


class PublishingEngine(ShardedEngine):
    """The sharded engine's writers, publishing after each update that changed the book.

    The base of ``hybrid`` and ``rcu``: ``_publish(shard, events)`` runs under the
    symbol's lock, after the update, whenever the update emitted events (a command
    changes the book exactly when it emits events), and stores what readers read.
    """

    def _update(self, shard, fn, args: tuple):
        with shard.lock:
            if self.on_step is not None:
                self.on_step("locked", None)
            result = fn(*args)
            if result.events:
                self._publish(shard, result.events)
            return result

    def _publish(self, shard, events: tuple) -> None:
        raise NotImplementedError
