"""The reader-writer lock engine: one reader-writer lock over all books (the seed's ``RwLock<HashMap>``).

Every update (submit, cancel, modify, mass cancel, add_instrument) holds the
lock exclusively; every read (best, depth, snapshot, order, orders, events)
holds it shared, so reads run in parallel with each other and never with an
update. Under the lock each symbol is the sequential reference ``OrderBook``,
so results are the reference's.

Guarantee: linearizable; every call's **linearization point** is the moment
it holds the lock (updates exclusively, reads shared: no update is in
progress then). Blocking: a thread that stops while holding the lock
(preempted, paused, or in a slow ``on_step``) stops every update on every
symbol, and, with it, every read.

The lock is :class:`RWLock` below, our own, from ``threading`` primitives.
``ft_utils.synchronization.RWLock`` was the first choice, but on a fresh
3.13t machine ``pip install ft-utils`` picks its newest release, 0.2.0,
which has no 3.13t wheel and builds from source (only 0.1.0 has one). Any
object with the same four methods (``lock_read``/``unlock_read``/
``lock_write``/``unlock_write``, ft-utils' names) can be passed as ``lock=``,
so ``RWLockEngine(lock=ft_utils.synchronization.RWLock())`` measures theirs
where it is installed (the harness does: engine ``rwlock-ft``). Measured
there, one writer beside one reader looping on reads (``read-heavy``, 3.13t):
a first lock of ours, phase-fair on two conditions, handed over through a
sleep and a wake-up at every turn and kept the writer at a few thousand
commands per second; ft-utils' kept it at ~40 k/s with the reader at ~1.5 k
reads/s; the gate design below keeps both going (~60-75 k/s and ~45-70 k/s
on the same busy machine).

``on_step``: if set, ``on_step("locked", None)`` runs inside every update's
critical section (the stalled-thread benchmark pauses there).

GC policy: none of its own; the books keep every order (as the reference
does), so long runs on 3.13t should raise the GC thresholds or disable it.
"""

from __future__ import annotations

import threading

from .. import atomic
from ..book.orders import OrderType, SelfTradePrevention
from .reference import ReferenceEngine

__all__ = ["RWLock", "RWLockEngine"]

_LIMIT = OrderType.LIMIT
_STP_NONE = SelfTradePrevention.NONE
SPIN = 100  # looks at the reader count before a writer sleeps until it is 0


class RWLock:
    """A reader-writer lock: a gate (``threading.Lock``) and a count of readers inside.

    A writer takes the gate for its whole critical section, then waits for the
    readers already inside to leave; a reader takes the gate only to enter
    (increment the count) and leaves without it. Invariant: while a writer
    holds the gate and has seen the count at 0, no reader is inside and none
    can enter. Fairness is the gate's: 3.13's lock spins briefly, then parks
    its waiters and hands itself to one that has waited 1 ms, so neither
    readers nor writers starve. Not re-entrant.

    Waiting for the readers to drain: the writer looks at the count ``SPIN``
    times, then raises ``_waiting`` and sleeps on ``_drained``; the last reader
    out wakes it if ``_waiting`` is raised. Both flags are sequentially
    consistent atomics (the writer stores ``_waiting`` then loads the count;
    the reader decrements the count then loads ``_waiting``: one of them sees
    the other's write), and the reader notifies holding ``_drained``'s lock,
    which the writer releases only in ``wait()``, so the wake-up is not lost.
    """

    __slots__ = ("_gate", "_readers", "_waiting", "_drained")

    def __init__(self) -> None:
        self._gate = threading.Lock()
        self._readers = atomic.AtomicInt(0)
        self._waiting = atomic.AtomicInt(0)  # 1 while a writer sleeps until the readers are out
        self._drained = threading.Condition(threading.Lock())

    def lock_read(self) -> None:
        gate = self._gate
        gate.acquire()
        self._readers.fetch_add(1)
        gate.release()

    def unlock_read(self) -> None:
        if self._readers.fetch_add(-1) == 1 and self._waiting.load():
            with self._drained:
                self._drained.notify()

    def lock_write(self) -> None:
        self._gate.acquire()
        readers = self._readers
        for _ in range(SPIN):  # read sections are a few microseconds: look before sleeping
            if not readers.load():
                return
        with self._drained:
            self._waiting.store(1)
            try:
                while readers.load():
                    self._drained.wait()
            finally:
                self._waiting.store(0)

    def unlock_write(self) -> None:
        self._gate.release()


class RWLockEngine(ReferenceEngine):
    """The reference engine's books behind one reader-writer lock (see module docstring)."""

    __slots__ = ("_lock", "on_step")
    name = "rwlock"

    def __init__(self, instruments=(), *, record_events: bool = True, lock=None) -> None:
        self._lock = RWLock() if lock is None else lock
        self.on_step = None
        super().__init__(instruments, record_events=record_events)

    def add_instrument(self, instrument) -> None:
        lock = self._lock
        lock.lock_write()
        try:
            ReferenceEngine.add_instrument(self, instrument)
        finally:
            lock.unlock_write()

    # ------------------------------------------------------------------ updates: exclusive

    def submit(self, symbol, side, quantity, price=None, *, order_type=_LIMIT, time_in_force=None,
               post_only=False, owner="", client_id=None, stp=_STP_NONE):
        lock = self._lock
        lock.lock_write()
        try:
            if self.on_step is not None:
                self.on_step("locked", None)
            return ReferenceEngine.submit(self, symbol, side, quantity, price, order_type=order_type,
                                          time_in_force=time_in_force, post_only=post_only, owner=owner,
                                          client_id=client_id, stp=stp)
        finally:
            lock.unlock_write()

    def _update(self, method, symbol, *args, **kwargs):
        lock = self._lock
        lock.lock_write()
        try:
            if self.on_step is not None:
                self.on_step("locked", None)
            return method(self, symbol, *args, **kwargs)
        finally:
            lock.unlock_write()

    def cancel(self, symbol, order_id):
        return self._update(ReferenceEngine.cancel, symbol, order_id)

    def modify(self, symbol, order_id, *, price=None, quantity=None):
        return self._update(ReferenceEngine.modify, symbol, order_id, price=price, quantity=quantity)

    def mass_cancel(self, symbol, *, side=None, owner=None):
        return self._update(ReferenceEngine.mass_cancel, symbol, side=side, owner=owner)

    # ------------------------------------------------------------------ reads: shared

    def _read(self, method, symbol, *args):
        lock = self._lock
        lock.lock_read()
        try:
            return method(self, symbol, *args)
        finally:
            lock.unlock_read()

    def best(self, symbol):
        return self._read(ReferenceEngine.best, symbol)

    def depth(self, symbol, n):
        return self._read(ReferenceEngine.depth, symbol, n)

    def snapshot(self, symbol):
        return self._read(ReferenceEngine.snapshot, symbol)

    def order(self, symbol, order_id):
        return self._read(ReferenceEngine.order, symbol, order_id)

    def orders(self, symbol):
        return self._read(ReferenceEngine.orders, symbol)

    def events(self, symbol, after_seq=0):
        return self._read(ReferenceEngine.events, symbol, after_seq)
