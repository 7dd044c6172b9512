"""The reference engine: the sequential oracle every other engine must match.

One :class:`~freeorder.book.book.OrderBook` per symbol (price levels in a
dict with a sorted price list per side, a ``deque`` per level), commands
applied one at a time in call order. Its results define the expected outcome
of any operation order for the linearizability checker.

Threads: it is **single-threaded per symbol** and does not check it. Call each
symbol from one thread at a time (one thread, or a lock you hold around the
calls): two threads inside one symbol's book at once corrupt it. Different
symbols are independent books, so two threads may each drive their own
symbols of one engine at the same time (add the instruments first). For
concurrent calls on one symbol use a thread-safe engine (``LockFreeEngine``).
A check that refuses a concurrent call with an error was measured and left
out: the cheapest reliable one found (a ``threading.Lock`` per symbol, taken
without waiting) costs 150-220 ns a call, 5-7% of an average command on
3.13t, more than the 5% it was allowed (``benchmarks/bench_book.py check``).

GC policy: none of its own. Each order is one long-lived list (kept after it
finishes so its state stays queryable), and the event log holds every event
unless ``record_events=False``; long runs on 3.13t should raise the GC
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

from ..book.book import OrderBook
from ..book.errors import DuplicateInstrument, InvalidOrderType
from ..book.instrument import Instrument
from ..book.orders import OrderType, SelfTradePrevention
from .api import lookup_symbol

__all__ = ["ReferenceEngine"]

_LIMIT = OrderType.LIMIT
_STP_NONE = SelfTradePrevention.NONE


class ReferenceEngine:
    """Sequential multi-symbol engine over per-symbol order books (see module docstring)."""

    __slots__ = ("_books", "_record_events")

    def __init__(self, instruments=(), *, record_events: bool = True) -> None:
        self._books: dict[str, OrderBook] = {}
        self._record_events = record_events
        for instrument in instruments:
            self.add_instrument(instrument)

    def _book(self, symbol: str) -> OrderBook:
        return lookup_symbol(self._books, symbol)

    def add_instrument(self, instrument: Instrument) -> None:
        if not isinstance(instrument, Instrument):
            raise InvalidOrderType("instrument", instrument, "expected an Instrument")
        if instrument.symbol in self._books:
            raise DuplicateInstrument(f"symbol={instrument.symbol!r}: already registered")
        self._books[instrument.symbol] = OrderBook(instrument, record_events=self._record_events)

    def instrument(self, symbol: str) -> Instrument:
        return self._book(symbol).instrument

    def symbols(self) -> tuple[str, ...]:
        return tuple(self._books)

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
            book = self._books[symbol]
        except (KeyError, TypeError):
            book = self._book(symbol)  # raises the right error
        return book._submit(side, quantity, price, order_type, time_in_force, post_only, owner, client_id, stp)

    def cancel(self, symbol, order_id):
        try:
            book = self._books[symbol]
        except (KeyError, TypeError):
            book = self._book(symbol)
        return book._cancel(order_id)

    def modify(self, symbol, order_id, *, price=None, quantity=None):
        return self._book(symbol).modify(order_id, price=price, quantity=quantity)

    def mass_cancel(self, symbol, *, side=None, owner=None):
        return self._book(symbol).mass_cancel(side=side, owner=owner)

    def best(self, symbol):
        return self._book(symbol).best()

    def depth(self, symbol, n):
        return self._book(symbol).depth(n)

    def snapshot(self, symbol):
        return self._book(symbol).snapshot()

    def order(self, symbol, order_id):
        return self._book(symbol).order(order_id)

    def orders(self, symbol):
        return self._book(symbol).orders()

    def events(self, symbol, after_seq=0):
        return self._book(symbol).events(after_seq)
