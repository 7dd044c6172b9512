"""Epoch-based reclamation with crossbeam-epoch semantics.

Invariant: a retired slot is freed only once the global epoch has advanced
twice past the epoch its bag was sealed in. The global epoch advances from
``e`` to ``e + 1`` only when every pinned thread has seen ``e``, so after two
advances no thread that could have read the slot before it was unlinked is
still pinned.

    collector = EpochCollector()
    with collector.pin() as guard:          # pin() pins; leaving the block unpins
        ref = guard.protect(0, head, 0)     # an acquire of a shared reference
        ...
        guard.retire(arena, ref)            # the slot returns to the arena later
        guard.defer(callback)               # any deferred cleanup

Hot paths skip the ``with`` statement (costly on 3.13t) and write
``guard = collector.pin()`` … ``finally: guard.unpin()``.

Threads register lazily on first ``pin`` and deregister when they exit; a
thread that exits while pinned (or with a non-empty bag) is unpinned by its
exit hook and its bags go to a shared orphan queue that other threads
collect, so it does not stall reclamation. A thread that stays *alive* and
pinned forever does stall it (the known limit of epochs; the hazard registry
bounds garbage instead).
"""

from __future__ import annotations

import collections

from freeorder import atomic
from freeorder.atomic import RELAXED, RELEASE, SEQ_CST

from .registry import ThreadRegistry

_NO_ARG = object()


class EpochGuard:
    """One thread's pin state and garbage bags; re-entrant (nested pins are cheap)."""

    __slots__ = ("_collector", "_index", "_locals", "_global", "_depth", "_bag", "_sealed", "_pins")

    def __init__(self, collector: "EpochCollector", index: int):
        self._collector = collector
        self._index = index
        self._locals = collector._locals
        self._global = collector._global
        self._depth = 0
        self._bag: list = []
        self._sealed: collections.deque = collections.deque()
        self._pins = 0

    def _pin(self) -> "EpochGuard":
        """Pin: publish the current global epoch as this thread's (the linearization of pin)."""
        if self._depth == 0:
            # A SEQ_CST read-modify-write: the pin is ordered before every later load.
            self._locals.swap(self._index, (self._global.load() << 1) | 1)
            self._pins += 1
            if self._pins % self._collector.advance_every == 0:
                self._collector.try_advance()
                self._collect()
        self._depth += 1
        return self

    def unpin(self) -> None:
        """Leave one pin; the outermost unpin clears this thread's epoch word."""
        self._depth -= 1
        if self._depth == 0:
            self._locals.store(self._index, 0, RELEASE)

    def __enter__(self) -> "EpochGuard":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.unpin()

    @property
    def pinned(self) -> bool:
        return self._depth > 0

    def protect(self, hazard: int, array, index: int) -> int:
        """Load a shared reference; under an epoch pin every load is protected."""
        return array.load(index)

    def retire(self, arena, ref: int) -> None:
        """Hand an unlinked slot to the collector; it is freed two epochs later."""
        if arena.sanitize:
            arena.mark_retired(ref)
        self._collector._retired.fetch_add(1, RELAXED)
        self._push((arena.free, ref))

    def defer(self, fn, arg=_NO_ARG) -> None:
        """Run ``fn()`` (or ``fn(arg)``) once no pinned thread can still see what it frees."""
        self._push((fn, arg))

    def _push(self, item) -> None:
        bag = self._bag
        bag.append(item)
        if len(bag) >= self._collector.bag_size:
            self._seal()
            self._collect()

    def _seal(self) -> None:
        if self._bag:
            self._sealed.append((self._global.load(), self._bag))
            self._bag = []

    def _collect(self) -> int:
        """Free this thread's bags (and orphans) that are two epochs old."""
        now = self._global.load()
        freed = _run_ready(self._sealed, now)
        freed += self._collector._collect_orphans(now)
        if freed:
            self._collector._reclaimed.fetch_add(freed, RELAXED)
        return freed


def _run_ready(bags: collections.deque, now: int) -> int:
    """Run the bags sealed at epoch <= now - 2 from the front of ``bags``."""
    freed = 0
    while bags and bags[0][0] + 2 <= now:
        _, bag = bags.popleft()
        for fn, arg in bag:
            if arg is _NO_ARG:
                fn()
            else:
                fn(arg)
        freed += len(bag)
    return freed


class EpochCollector:
    """A global epoch, one pinned-epoch word per thread, and per-thread garbage bags."""

    name = "epoch"

    def __init__(self, max_threads: int = 256, bag_size: int = 64, advance_every: int = 64):
        self.bag_size = bag_size
        self.advance_every = advance_every
        self._global = atomic.AtomicInt(0)
        # (epoch << 1) | 1 while the thread is pinned, 0 while not.
        self._locals = atomic.AtomicIntArray(max_threads)
        self._retired = atomic.AtomicInt()
        self._reclaimed = atomic.AtomicInt()
        self._orphans: collections.deque = collections.deque()
        self._registry = ThreadRegistry(max_threads, lambda i: EpochGuard(self, i), self._release)
        self._local = self._registry.local

    def pin(self) -> EpochGuard:
        """Pin this thread and return its guard (``with collector.pin() as guard:``)."""
        try:
            guard = self._local.state
        except AttributeError:
            guard = self._registry.current().state
        return guard._pin()

    @property
    def epoch(self) -> int:
        return self._global.load()

    def try_advance(self) -> bool:
        """Advance the global epoch if every pinned thread has seen it."""
        now = self._global.load()
        atomic.fence(SEQ_CST)
        load = self._locals.load
        for i in range(self._registry.high):
            word = load(i)
            if word & 1 and word >> 1 != now:
                return False
        return self._global.compare_exchange(now, now + 1) == now

    def _collect_orphans(self, now: int) -> int:
        orphans = self._orphans
        freed = 0
        for _ in range(len(orphans)):
            try:
                epoch, bag = orphans.popleft()
            except IndexError:
                break
            if epoch + 2 <= now:
                ready: collections.deque = collections.deque([(epoch, bag)])
                freed += _run_ready(ready, now)
            else:
                orphans.append((epoch, bag))
        return freed

    def _release(self, index: int, guard: EpochGuard) -> None:
        """Thread exit: unpin and hand the thread's garbage to the orphan queue."""
        self._locals.store(index, 0, RELEASE)
        guard._depth = 0
        guard._seal()
        while guard._sealed:
            self._orphans.append(guard._sealed.popleft())

    def flush(self) -> int:
        """Seal this thread's bag and advance/collect as far as possible; returns slots freed.

        With no other thread pinned this frees everything retired so far.
        """
        guard = self.pin()
        guard.unpin()
        guard._seal()
        freed = 0
        for _ in range(3):
            self.try_advance()
            freed += guard._collect()
        return freed

    def unregister(self) -> None:
        """Give back this thread's record now, as its exit would (unpin, hand over garbage)."""
        self._registry.release_current()

    def stats(self) -> dict[str, int]:
        retired, reclaimed = self._retired.load(), self._reclaimed.load()
        return {"epoch": self.epoch, "retired": retired, "reclaimed": reclaimed, "pending": retired - reclaimed}
