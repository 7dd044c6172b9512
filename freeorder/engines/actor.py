"""The actor engine: worker threads own the books; commands go in through queues, results come back through futures.

``workers`` threads each own a shard of the symbols (assigned round-robin
in registration order) and a private sequential ``ReferenceEngine`` holding
them. Every call -- update or read -- is a message ``(future, method, args)``
put on the owning worker's ``queue.SimpleQueue``; the worker runs messages
one at a time, in queue order, and completes each message's :class:`Future`
with the result or the exception. The public methods send and wait;
:meth:`ActorEngine.send` sends without waiting and returns the future, so a
caller can have many commands in flight (the queue is unbounded: a caller
that sends faster than the worker runs grows it).

Guarantee: linearizable; a call's **linearization point** is its execution
by the owning worker, which lies between the send and the future's
completion. No state is shared between threads but the queues and futures:
each book is touched by its worker only. Blocking: callers wait for the
worker (a worker stopped in a command stops its whole shard), and each call
costs two thread hand-offs (the put wakes the worker, the result wakes the
caller), which dominate a command's cost here.

Lifecycle: the workers start in the constructor (daemon threads, so an
engine never closed does not keep the interpreter alive); ``close()`` -- or
leaving ``with ActorEngine(...) as engine:`` -- runs what is queued, stops
and joins the workers. A call after ``close()`` raises ``RuntimeError``,
and so does a wait on a message the stopped worker will never run.

``on_step``: if set, the worker calls ``on_step("executing", ident)`` just
before running each update, ``ident`` being the sending thread's
``threading.get_ident()`` (the stalled-thread benchmark pauses there, in the
shard's critical section).

GC policy: none of its own; a message and its future are freed by reference
counting once answered (no cycles). The books keep every order (as the
reference does), so long runs on 3.13t should raise the GC thresholds or
disable it.
"""

from __future__ import annotations

import os
import queue
import threading

from ..book.errors import DuplicateInstrument, InvalidOrder, InvalidOrderType
from ..book.instrument import Instrument
from ..book.orders import OrderType, SelfTradePrevention
from .api import lookup_symbol
from .reference import ReferenceEngine

__all__ = ["ActorEngine", "Future"]

_LIMIT = OrderType.LIMIT
_STP_NONE = SelfTradePrevention.NONE
_STOP = object()
_UPDATES = frozenset({"submit", "cancel", "modify", "mass_cancel"})
_POLL = 0.5  # seconds between checks that the worker is still alive, while waiting for a future


class Future:
    """One message's answer: set once by the worker, waited for by the sender.

    A lock acquired at creation and released by the worker when it sets the
    answer: the cheapest one-shot wake-up ``threading`` offers.
    """

    __slots__ = ("_done", "_value", "_error", "_worker")

    def __init__(self, worker: "_Worker") -> None:
        self._done = threading.Lock()
        self._done.acquire()
        self._value = None
        self._error = None
        self._worker = worker

    def done(self) -> bool:
        return not self._done.locked()

    def result(self):
        """Wait for the answer: return the result or raise the command's exception."""
        done = self._done
        while not done.acquire(timeout=_POLL):
            if not self._worker.thread.is_alive() and not done.acquire(blocking=False):
                raise RuntimeError("the engine was closed before this command ran")
        done.release()  # others may wait on the same future
        if self._error is not None:
            raise self._error
        return self._value


class _Worker:
    """One thread, its queue, and the books of its shard."""

    __slots__ = ("engine", "queue", "put", "thread", "owner")

    def __init__(self, index: int, record_events: bool, owner: "ActorEngine") -> None:
        self.engine = ReferenceEngine(record_events=record_events)
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.put = self.queue.put
        self.owner = owner
        self.thread = threading.Thread(target=self._run, name=f"actor-{index}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        get = self.queue.get
        owner = self.owner
        while True:
            message = get()
            if message is _STOP:
                return
            future, method, args, kwargs, sender = message
            try:
                step = owner.on_step
                if step is not None and method.__name__ in _UPDATES:
                    step("executing", sender)
                future._value = method(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - the sender's to raise
                future._error = exc
            future._done.release()


class ActorEngine:
    """Books owned by worker threads, driven by messages (see module docstring)."""

    name = "actor"

    def __init__(self, instruments=(), *, record_events: bool = True, workers: int | None = None) -> None:
        if workers is None:
            workers = min(os.cpu_count() or 1, 8)
        if type(workers) is not int or workers < 1:
            raise InvalidOrder("workers", workers, "must be an int >= 1")
        self.on_step = None
        self._closed = False
        self._lifecycle = threading.Lock()  # add_instrument's check-then-insert, and close()
        self._route: dict[str, _Worker] = {}
        self._instruments: dict[str, Instrument] = {}
        self._workers = [_Worker(i, record_events, self) for i in range(workers)]
        try:
            for instrument in instruments:
                self.add_instrument(instrument)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "ActorEngine":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    def close(self) -> None:
        """Run what is queued, then stop and join the workers (idempotent)."""
        with self._lifecycle:
            if self._closed:
                return
            self._closed = True
            for worker in self._workers:
                worker.put(_STOP)
        for worker in self._workers:
            if worker.thread is not threading.current_thread():
                worker.thread.join()

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------------ messages

    def _worker(self, symbol) -> _Worker:
        try:
            return self._route[symbol]
        except (KeyError, TypeError):
            return lookup_symbol(self._route, symbol)  # raises the engine API's error

    def send(self, method: str, symbol, *args, **kwargs) -> Future:
        """Queue ``engine.<method>(symbol, *args, **kwargs)`` on the symbol's worker; returns its future."""
        worker = self._worker(symbol)
        if self._closed:
            raise RuntimeError("the engine is closed")
        future = Future(worker)
        worker.put((future, getattr(worker.engine, method), (symbol, *args), kwargs, threading.get_ident()))
        return future

    def _call(self, method: str, symbol, args: tuple, kwargs: dict):
        return self.send(method, symbol, *args, **kwargs).result()

    # ------------------------------------------------------------------ the Engine protocol

    def add_instrument(self, instrument: Instrument) -> None:
        if not isinstance(instrument, Instrument):
            raise InvalidOrderType("instrument", instrument, "expected an Instrument")
        with self._lifecycle:
            if self._closed:
                raise RuntimeError("the engine is closed")
            if instrument.symbol in self._route:
                raise DuplicateInstrument(f"symbol={instrument.symbol!r}: already registered")
            worker = self._workers[len(self._route) % len(self._workers)]
            future = Future(worker)
            worker.put((future, worker.engine.add_instrument, (instrument,), {}, threading.get_ident()))
            future.result()
            self._instruments[instrument.symbol] = instrument
            self._route[instrument.symbol] = worker  # published last: callers route only to registered books

    def instrument(self, symbol: str) -> Instrument:
        return lookup_symbol(self._instruments, symbol)

    def symbols(self) -> tuple[str, ...]:
        return tuple(self._route)

    def submit(self, symbol, side, quantity, price=None, *, order_type=_LIMIT, time_in_force=None,
               post_only=False, owner="", client_id=None, stp=_STP_NONE):
        return self._call("submit", symbol, (side, quantity, price), {
            "order_type": order_type, "time_in_force": time_in_force, "post_only": post_only, "owner": owner,
            "client_id": client_id, "stp": stp})

    def cancel(self, symbol, order_id):
        return self._call("cancel", symbol, (order_id,), {})

    def modify(self, symbol, order_id, *, price=None, quantity=None):
        return self._call("modify", symbol, (order_id,), {"price": price, "quantity": quantity})

    def mass_cancel(self, symbol, *, side=None, owner=None):
        return self._call("mass_cancel", symbol, (), {"side": side, "owner": owner})

    def best(self, symbol):
        return self._call("best", symbol, (), {})

    def depth(self, symbol, n):
        return self._call("depth", symbol, (n,), {})

    def snapshot(self, symbol):
        return self._call("snapshot", symbol, (), {})

    def order(self, symbol, order_id):
        return self._call("order", symbol, (order_id,), {})

    def orders(self, symbol):
        return self._call("orders", symbol, (), {})

    def events(self, symbol, after_seq=0):
        return self._call("events", symbol, (after_seq,), {})
