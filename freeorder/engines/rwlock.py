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
where it is installed (the harness does: engine ``rwlock-ft``).

``on_step``: if set, ``on_step("locked", None)`` runs inside every update's
critical section (the stalled-thread benchmark pauses there).

GC policy: none of its own; the books keep every order (as the reference
does), so long runs on 3.13t should raise the GC thresholds or disable it.
"""

from __future__ import annotations

import threading

from ..book.orders import OrderType, SelfTradePrevention
from .reference import ReferenceEngine

__all__ = ["RWLock", "RWLockEngine"]

_LIMIT = OrderType.LIMIT
_STP_NONE = SelfTradePrevention.NONE


class RWLock:
    """A phase-fair reader-writer lock: one mutex, two conditions, three counters.

    Invariant (under ``_mutex``): ``_writing`` implies ``_readers == 0``, and
    ``_readers > 0`` implies not ``_writing``. Readers enter while no writer
    holds the lock and none waits, so a stream of readers cannot starve a
    writer; a writer leaving with readers waiting admits exactly those
    readers (``_admit``) before the next writer, so a stream of writers
    cannot starve readers either. Not re-entrant. The uncontended paths take
    the mutex once on entry and once on exit and touch no condition.
    """

    __slots__ = ("_mutex", "_read_ok", "_write_ok", "_readers", "_writing", "_waiting_readers",
                 "_waiting_writers", "_admit")

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._read_ok = threading.Condition(self._mutex)
        self._write_ok = threading.Condition(self._mutex)
        self._readers = 0  # readers inside
        self._writing = False
        self._waiting_readers = 0
        self._waiting_writers = 0
        self._admit = 0  # readers let in ahead of waiting writers by the last writer to leave

    def lock_read(self) -> None:
        with self._mutex:
            if self._writing or (self._waiting_writers and not self._admit):
                self._waiting_readers += 1
                try:
                    while self._writing or (self._waiting_writers and not self._admit):
                        self._read_ok.wait()
                finally:
                    self._waiting_readers -= 1
            if self._admit:
                self._admit -= 1
            self._readers += 1

    def unlock_read(self) -> None:
        with self._mutex:
            self._readers -= 1
            if not self._readers and not self._admit and self._waiting_writers:
                self._write_ok.notify()

    def lock_write(self) -> None:
        with self._mutex:
            if self._writing or self._readers or self._admit:
                self._waiting_writers += 1
                try:
                    while self._writing or self._readers or self._admit:
                        self._write_ok.wait()
                finally:
                    self._waiting_writers -= 1
            self._writing = True

    def unlock_write(self) -> None:
        with self._mutex:
            self._writing = False
            if self._waiting_readers:
                self._admit = self._waiting_readers
                self._read_ok.notify_all()
            elif self._waiting_writers:
                self._write_ok.notify()


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
