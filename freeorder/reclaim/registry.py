"""Per-thread participant records for reclaimers.

A thread takes a record (an index in ``0..max_threads-1``, a compare-exchange
on an owner array: lock-free) the first time it uses a reclaimer. Its state
object is then found through the backend's ``thread_index()`` -- one C call
and one list subscript, no ``threading.local`` on the hot path:
``registry.by_thread[thread_index()]``.

The record is given back when the thread exits: registration also puts a
handle in a ``threading.local``, and CPython clears a thread's locals when
the thread ends, before the C thread index is released, so the release hook
(``on_release``: unpin, hand the garbage over) runs and ``by_thread`` forgets
the thread before any later thread can be given the same thread index.

Memory orders: the compare-exchange raising ``high`` must be SEQ_CST (a scan
after its SEQ_CST fence must see every registered thread; the ``memory="c11"``
model catches it weakened); the others are SEQ_CST as the cheapest call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from freeorder import atomic

_RELAXED, _RELEASE = int(atomic.RELAXED), int(atomic.RELEASE)


class TooManyThreads(RuntimeError):
    """More threads use a reclaimer at once than it has records for."""


class _Handle:
    """One thread's registration; its finaliser gives the record back."""

    __slots__ = ("thread", "index", "state", "_release", "__weakref__")

    def __init__(self, thread: int, index: int, state: object, release: Callable[["_Handle"], None]):
        self.thread = thread
        self.index = index
        self.state = state
        self._release = release

    def __del__(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release(self)


class ThreadRegistry:
    """Hands out participant records; ``owners[i]`` is 1 while record i is taken."""

    def __init__(self, max_threads: int, make_state: Callable[[int], object],
                 on_release: Callable[[int, object], None]):
        if type(max_threads) is not int or max_threads < 1:
            raise ValueError(f"max_threads={max_threads!r} must be an int >= 1")
        self.max_threads = max_threads
        self.owners = atomic.AtomicIntArray(max_threads)
        # 1 + the highest record index ever taken: scans need look no further.
        self._high = atomic.AtomicInt(0)
        self._make_state = make_state
        self._on_release = on_release
        self._local = threading.local()
        self.thread_index = atomic.current_backend().thread_index
        # thread index -> that thread's state; None where no live thread is registered
        self.by_thread: list = []

    def current(self):
        """This thread's state, registering the thread on first use (the slow path of a lookup)."""
        thread = self.thread_index()
        by_thread = self.by_thread
        if thread < len(by_thread) and by_thread[thread] is not None:
            return by_thread[thread]
        handle = self._acquire(thread)
        self._local.handle = handle
        if len(by_thread) <= thread:
            by_thread.extend([None] * (thread + 1 - len(by_thread)))
        by_thread[thread] = handle.state
        return handle.state

    def _acquire(self, thread: int) -> _Handle:
        owners = self.owners
        for i in range(self.max_threads):
            # RELAXED peek, then the SEQ_CST compare-exchange that actually claims the record
            if owners.load(i, _RELAXED) == 0 and owners.compare_exchange(i, 0, 1) == 0:
                high = self._high.load()
                while high < i + 1:
                    high = self._high.compare_exchange(high, i + 1)
                return _Handle(thread, i, self._make_state(i), self._release)
        raise TooManyThreads(
            f"all {self.max_threads} thread records are in use; raise max_threads"
        )

    def _release(self, handle: _Handle) -> None:
        self._on_release(handle.index, handle.state)
        by_thread = self.by_thread
        if handle.thread < len(by_thread) and by_thread[handle.thread] is handle.state:
            by_thread[handle.thread] = None
        # RELEASE: the hook's writes (unpinning, handing garbage over) happen-before the next claim
        self.owners.store(handle.index, 0, _RELEASE)

    def release_current(self) -> None:
        """Give back this thread's record now (as thread exit would)."""
        handle = self._local.__dict__.pop("handle", None)
        if handle is not None:
            handle.__del__()

    @property
    def high(self) -> int:
        """Records ``0 .. high-1`` are the only ones ever taken."""
        return self._high.load()

    def active(self) -> list[int]:
        """Indexes of the records currently taken."""
        owners = self.owners
        return [i for i in range(self._high.load()) if owners.load(i)]

    def states(self) -> list:
        """The state objects of the threads registered now (for statistics)."""
        return [s for s in list(self.by_thread) if s is not None]
