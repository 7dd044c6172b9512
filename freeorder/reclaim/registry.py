"""Per-thread participant records for reclaimers.

A thread takes a record (an index in ``0..max_threads``) the first time it
uses a reclaimer and gives it back when it exits: the record lives in a
``threading.local`` whose cleanup at thread exit runs ``on_release``. So a
thread that dies while pinned, or with garbage still in its bags, does not
stall reclamation: its release hook unpins it and hands its garbage over.
Taking and giving back a record is lock-free (compare-exchange on an owner
array).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from freeorder import atomic


class TooManyThreads(RuntimeError):
    """More threads use a reclaimer at once than it has records for."""


class _Handle:
    """One thread's record; released when the thread's locals are cleared."""

    __slots__ = ("index", "state", "_release", "__weakref__")

    def __init__(self, index: int, state: object, release: Callable[[int, object], None]):
        self.index = index
        self.state = state
        self._release = release

    def __del__(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release(self.index, self.state)


class ThreadRegistry:
    """Hands out participant records; ``owners[i]`` is 1 while record i is taken."""

    def __init__(self, max_threads: int, make_state: Callable[[int], object],
                 on_release: Callable[[int, object], None]):
        if max_threads < 1:
            raise ValueError(f"max_threads={max_threads!r} must be >= 1")
        self.max_threads = max_threads
        self.owners = atomic.AtomicIntArray(max_threads)
        # 1 + the highest record index ever taken: scans need look no further.
        self._high = atomic.AtomicInt(0)
        self._make_state = make_state
        self._on_release = on_release
        self._local = threading.local()

    @property
    def local(self) -> threading.local:
        """Per-thread storage: ``local.state`` is this thread's state once registered."""
        return self._local

    def current(self) -> _Handle:
        """This thread's record, taken on first use."""
        try:
            return self._local.handle
        except AttributeError:
            handle = self._local.handle = self._acquire()
            self._local.state = handle.state
            return handle

    def _acquire(self) -> _Handle:
        owners = self.owners
        for i in range(self.max_threads):
            if owners.load(i, atomic.RELAXED) == 0 and owners.compare_exchange(i, 0, 1) == 0:
                high = self._high.load()
                while high < i + 1:
                    high = self._high.compare_exchange(high, i + 1)
                return _Handle(i, self._make_state(i), self._release)
        raise TooManyThreads(
            f"all {self.max_threads} thread records are in use; raise max_threads"
        )

    def _release(self, index: int, state: object) -> None:
        self._on_release(index, state)
        self.owners.store(index, 0, atomic.RELEASE)

    def release_current(self) -> None:
        """Give back this thread's record now (as thread exit would)."""
        handle = self._local.__dict__.pop("handle", None)
        self._local.__dict__.pop("state", None)
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
