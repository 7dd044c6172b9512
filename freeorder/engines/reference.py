"""The reference engine: the sequential oracle every other engine must match.

One :class:`~freeorder.book.book.OrderBook` per symbol (price levels in a
dict with a sorted price list per side, a ``deque`` per level), commands
applied one at a time in call order. Its results define the expected outcome
of any operation order for the linearizability checker.

Threads: it is **single-threaded per symbol**. Call each symbol from one
thread at a time (one thread, or a lock you hold around the calls); different
symbols are independent books, so two threads may each drive their own
symbols of one engine at the same time. A call that finds its symbol busy in
another thread raises :class:`~freeorder.book.errors.ConcurrentUse` before it
touches anything, instead of corrupting the book: each symbol has a
``threading.Lock`` that every call takes without waiting (about 1% of a
command on 3.13t, measured by ``benchmarks/bench_book.py check``). For
concurrent use of one symbol, use a thread-safe engine (``LockFreeEngine``).
Add instruments before other threads start using the engine.

GC policy: none of its own. Each order is one long-lived list (kept after it
finishes so its state stays queryable), and the event log holds every
event unless ``record_events=False``; long runs on 3.13t should raise the GC
thresholds or ``gc.freeze()`` (see benchmarks/README.md).

>>> from freeorder.book import Instrument, Side
>>> engine = ReferenceEngine()
>>> engine.add_instrument(Instrument("XYZ", tick_size="0.01"))
>>> sell = engine.submit("XYZ", Side.SELL, 5, "100.50", owner="alice")
>>> buy = engine.submit("XYZ", Side.BUY, 3, "101", owner="bob")
>>> [(t.maker_id, t.taker_id, t.price, t.qty) for t in buy.events if type(t).__name__ == "Trade"]
[(1, 2, 10050, 3)]
>>> engine.best("XYZ")
Quote(bid=None, bid_qty=0, ask=10050, ask_qty=2)
"""

from __future__ import annotations

import threading

from ..book.book import OrderBook
from ..book.errors import ConcurrentUse, DuplicateInstrument, InvalidOrderType
from ..book.instrument import Instrument
from ..book.orders import OrderType, SelfTradePrevention
from .api import lookup_symbol

__all__ = ["ReferenceEngine"]

_LIMIT = OrderType.LIMIT
_STP_NONE = SelfTradePrevention.NONE


def _modify(book, order_id, price, quantity):
    return book.modify(order_id, price=price, quantity=quantity)


def _mass_cancel(book, side, owner):
    return book.mass_cancel(side=side, owner=owner)


class ReferenceEngine:
    """Sequential multi-symbol engine over per-symbol order books (see module docstring).

    ``_books`` maps a symbol to ``(book, enter, leave)``: its book and the
    ``acquire``/``release`` of the lock that refuses a concurrent call.
    """

    __slots__ = ("_books", "_record_events")

    def __init__(self, instruments=(), *, record_events: bool = True) -> None:
        self._books: dict[str, tuple] = {}
        self._record_events = record_events
        for instrument in instruments:
            self.add_instrument(instrument)

    def _entry(self, symbol) -> tuple:
        return lookup_symbol(self._books, symbol)

    def _run(self, symbol, fn, *args):
        """``fn(book, *args)`` on ``symbol``'s book, refusing a concurrent call."""
        book, enter, leave = lookup_symbol(self._books, symbol)
        if not enter(False):
            raise ConcurrentUse(symbol)
        try:
            return fn(book, *args)
        finally:
            leave()

    def add_instrument(self, instrument: Instrument) -> None:
        if not isinstance(instrument, Instrument):
            raise InvalidOrderType("instrument", instrument, "expected an Instrument")
        if instrument.symbol in self._books:
            raise DuplicateInstrument(f"symbol={instrument.symbol!r}: already registered")
        lock = threading.Lock()
        book = OrderBook(instrument, record_events=self._record_events)
        self._books[instrument.symbol] = (book, lock.acquire, lock.release)

    def instrument(self, symbol: str) -> Instrument:
        return self._entry(symbol)[0].instrument

    def symbols(self) -> tuple[str, ...]:
        return tuple(self._books)

    # The two hottest commands are written out (no _run): one call less each.

    def submit(
        self,
        symbol,
        side,
        quantity,
        price=None,
        *,
        order_type=_LIMIT,
        time_in_force=None,
        post_only=False,
        owner="",
        client_id=None,
        stp=_STP_NONE,
    ):
        try:
            book, enter, leave = self._books[symbol]
        except (KeyError, TypeError):
            book, enter, leave = lookup_symbol(self._books, symbol)  # raises the right error
        if not enter(False):
            raise ConcurrentUse(symbol)
        try:
            return book._submit(side, quantity, price, order_type, time_in_force, post_only, owner, client_id, stp)
        finally:
            leave()

    def cancel(self, symbol, order_id):
        try:
            book, enter, leave = self._books[symbol]
        except (KeyError, TypeError):
            book, enter, leave = lookup_symbol(self._books, symbol)
        if not enter(False):
            raise ConcurrentUse(symbol)
        try:
            return book._cancel(order_id)
        finally:
            leave()

    def modify(self, symbol, order_id, *, price=None, quantity=None):
        return self._run(symbol, _modify, order_id, price, quantity)

    def mass_cancel(self, symbol, *, side=None, owner=None):
        return self._run(symbol, _mass_cancel, side, owner)

    def best(self, symbol):
        return self._run(symbol, OrderBook.best)

    def depth(self, symbol, n):
        return self._run(symbol, OrderBook.depth, n)

    def snapshot(self, symbol):
        return self._run(symbol, OrderBook.snapshot)

    def order(self, symbol, order_id):
        return self._run(symbol, OrderBook.order, order_id)

    def orders(self, symbol):
        return self._run(symbol, OrderBook.orders)

    def events(self, symbol, after_seq=0):
        return self._run(symbol, OrderBook.events, after_seq)
