"""The lock-free engine: a replicated state machine over a lock-free command log per symbol.

Per-symbol price–time matching is sequential by nature: two aggressors
sweeping one side cannot interleave their fills and stay linearizable. So
each symbol's commands are totally ordered by a lock-free log, and every
thread applies that log, in order, to its own private replica of the
symbol's book (the sequential reference ``OrderBook``). This is Herlihy's
lock-free universal construction:

- **update** (submit, cancel, modify, mass cancel): append the command to the
  symbol's log — a Michael–Scott style linked list whose ``next`` links are
  atomic ints naming the next node, with tail helping — then bring this
  thread's replica up to and including the command and return its result.
  Linearization point: the compare-exchange that links the command into the
  log. Every replica computes the same result, because the book is
  deterministic and sees the same commands in the same order.
- **read** (best, depth, snapshot, order, orders, events): bring the replica
  up to the last command in the log and answer from it. Linearization point:
  the load that found that command had no successor.
- **progress**: no thread ever waits for another. A failed link means another
  thread linked its command; a thread frozen anywhere in an operation holds
  only its private replica, and the others apply its command themselves.
  Different symbols share nothing; readers never write shared state.

Costs and limits, measured in ``benchmarks/bench_engines.py``: a command
costs one reference-book application per thread that touches its symbol, so
throughput scales across symbols (threads working on different symbols never
meet) but not within one symbol; a thread's first touch of a symbol replays
that symbol's history. The log keeps every command (as the event log keeps
every event); each replica keeps its own orders and events.

GC policy: none of its own; every replica's orders and events are long-lived
objects, so long runs on 3.13t should raise the GC thresholds or disable it
(the benchmarks state theirs).
"""

from __future__ import annotations

import threading

from freeorder import atomic

from ..book.book import OrderBook
from ..book.errors import DuplicateInstrument, InvalidOrderType
from ..book.instrument import Instrument
from ..book.orders import OrderType, SelfTradePrevention
from .api import lookup_symbol

__all__ = ["LockFreeEngine"]

_LIMIT = OrderType.LIMIT
_STP_NONE = SelfTradePrevention.NONE


class _Command:
    """One log entry: a book method call. ``next`` holds the id of the next entry (0: none yet)."""

    __slots__ = ("id", "pos", "method", "args", "kwargs", "next")

    def __init__(self, ident: int, method: str | None, args: tuple, kwargs: dict):
        self.id = ident
        self.pos = 0
        self.method = method
        self.args = args
        self.kwargs = kwargs
        self.next = atomic.AtomicInt(0)


class _SymbolLog:
    """The command log of one symbol.

    Invariant: entries reachable from ``first`` through ``next`` ids, in
    ``entries``, are the symbol's commands in linearization order, with
    ``pos`` 1, 2, 3, …; ``tail`` names the last entry or its predecessor.
    An entry is put in ``entries`` before it is linked, so any id read from
    a ``next`` cell resolves.
    """

    __slots__ = ("instrument", "entries", "first", "tail", "ids", "link_retries")

    def __init__(self, instrument: Instrument):
        self.instrument = instrument
        self.first = _Command(1, None, (), {})
        self.entries = {1: self.first}
        self.tail = atomic.AtomicInt(1)
        self.ids = atomic.AtomicInt(2)
        self.link_retries = atomic.AtomicInt(0)

    def append(self, method: str, args: tuple, kwargs: dict) -> _Command:
        """Link a new command at the end; the successful compare-exchange is its linearization point."""
        entries, tail = self.entries, self.tail
        command = _Command(self.ids.fetch_add(1), method, args, kwargs)
        entries[command.id] = command
        while True:
            tail_id = tail.load()
            last = entries[tail_id]
            after = last.next.load()
            if after:
                tail.compare_exchange(tail_id, after)  # help a lagging tail
                continue
            command.pos = last.pos + 1
            if last.next.compare_exchange(0, command.id) == 0:
                tail.compare_exchange(tail_id, command.id)
                return command
            self.link_retries.fetch_add(1, atomic.RELAXED)

    def __len__(self) -> int:
        """Commands linked so far (a lower bound while appends are in flight)."""
        last = self.entries[self.tail.load()]
        while after := last.next.load():
            last = self.entries[after]
        return last.pos


class _Replica:
    """One thread's private copy of a symbol's book, with the last command applied."""

    __slots__ = ("book", "last")

    def __init__(self, log: _SymbolLog, record_events: bool):
        self.book = OrderBook(log.instrument, record_events=record_events)
        self.last = log.first


def _apply(book: OrderBook, command: _Command):
    return getattr(book, command.method)(*command.args, **command.kwargs)


class LockFreeEngine:
    """Multi-symbol engine with the reference engine's API and results, lock-free (see module docstring)."""

    def __init__(self, instruments=(), *, record_events: bool = True) -> None:
        self._logs: dict[str, _SymbolLog] = {}
        self._record_events = record_events
        self._local = threading.local()
        for instrument in instruments:
            self.add_instrument(instrument)

    # ------------------------------------------------------------------ plumbing

    def _log(self, symbol: str) -> _SymbolLog:
        return lookup_symbol(self._logs, symbol)

    def _replica(self, symbol: str, log: _SymbolLog) -> _Replica:
        try:
            return self._local.replicas[symbol]
        except AttributeError:
            self._local.replicas = {}
        except KeyError:
            pass
        replica = self._local.replicas[symbol] = _Replica(log, self._record_events)
        return replica

    def _update(self, symbol: str, method: str, args: tuple, kwargs: dict):
        log = self._log(symbol)
        replica = self._replica(symbol, log)
        mine = log.append(method, args, kwargs)
        entries, book, command = log.entries, replica.book, replica.last
        try:
            while True:
                command = entries[command.next.load()]
                if command is mine:
                    return _apply(book, command)
                try:
                    _apply(book, command)
                except Exception:  # noqa: BLE001 - another thread's refused input: raised there, changed nothing
                    pass
        finally:
            replica.last = command

    def _read(self, symbol: str) -> OrderBook:
        log = self._log(symbol)
        replica = self._replica(symbol, log)
        entries, book, command = log.entries, replica.book, replica.last
        try:
            while after := command.next.load():
                command = entries[after]
                try:
                    _apply(book, command)
                except Exception:  # noqa: BLE001 - as in _update
                    pass
        finally:
            replica.last = command
        return book

    # ------------------------------------------------------------------ instruments

    def add_instrument(self, instrument: Instrument) -> None:
        if not isinstance(instrument, Instrument):
            raise InvalidOrderType("instrument", instrument, "expected an Instrument")
        log = _SymbolLog(instrument)
        if self._logs.setdefault(instrument.symbol, log) is not log:
            raise DuplicateInstrument(f"symbol={instrument.symbol!r}: already registered")

    def instrument(self, symbol: str) -> Instrument:
        return self._log(symbol).instrument

    def symbols(self) -> tuple[str, ...]:
        return tuple(self._logs)

    def log_length(self, symbol: str) -> int:
        """How many commands the symbol's log holds."""
        return len(self._log(symbol))

    # ------------------------------------------------------------------ commands

    def submit(self, symbol, side, quantity, price=None, *, order_type=_LIMIT, time_in_force=None,
               post_only=False, owner="", client_id=None, stp=_STP_NONE):
        return self._update(symbol, "submit", (side, quantity, price), {
            "order_type": order_type, "time_in_force": time_in_force, "post_only": post_only,
            "owner": owner, "client_id": client_id, "stp": stp,
        })

    def cancel(self, symbol, order_id):
        return self._update(symbol, "cancel", (order_id,), {})

    def modify(self, symbol, order_id, *, price=None, quantity=None):
        return self._update(symbol, "modify", (order_id,), {"price": price, "quantity": quantity})

    def mass_cancel(self, symbol, *, side=None, owner=None):
        return self._update(symbol, "mass_cancel", (), {"side": side, "owner": owner})

    # ------------------------------------------------------------------ queries

    def best(self, symbol):
        return self._read(symbol).best()

    def depth(self, symbol, n):
        return self._read(symbol).depth(n)

    def snapshot(self, symbol):
        return self._read(symbol).snapshot()

    def order(self, symbol, order_id):
        return self._read(symbol).order(order_id)

    def orders(self, symbol):
        return self._read(symbol).orders()

    def events(self, symbol, after_seq=0):
        return self._read(symbol).events(after_seq)
