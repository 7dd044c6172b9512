"""Hazard pointers (Michael 2004) behind the same guard protocol as the epochs.

Invariant: a retired slot is freed only by a scan that found no hazard
naming its key. ``protect`` publishes the loaded reference's key (the
reference with its tag bit clear, ``key_of``) in one of this thread's hazard
cells and re-reads the source: if it is unchanged, the slot cannot have been
freed in between (a freeing scan would have seen the hazard), so it is safe
until the hazard is cleared (``unpin``) or overwritten.

    registry = HazardRegistry()
    guard = registry.pin()
    try:
        ref = guard.protect(0, head, 0)        # hazard cell 0 now guards ref's slot
        guard.retire(arena.free, ref, key_of(ref))
    finally:
        guard.unpin()                           # clears the cells this pin set

Cost of protect + unpin: one thread lookup (in ``pin``), three atomic calls
in ``protect`` (load, publish, re-load) and one per cell cleared.

Each thread's retired list is scanned when it passes a threshold
proportional to hazards × active threads, so unreclaimed garbage stays
bounded by O(threshold × threads) even when a thread stalls. A thread that
exits hands its retired list to an orphan queue that later scans adopt. An
arena out of free slots calls ``help()`` (a scan) before it grows.

Memory orders: the publish and the validating re-load in ``protect`` must be
SEQ_CST, and the unpin's clear RELEASE (the ``memory="c11"`` model catches each
weakened one step, tests/test_verify_c11_orderings.py); the scan's loads could
be ACQUIRE while its fence is SEQ_CST (not both weakened) and stay SEQ_CST as
the cheapest call.
"""

from __future__ import annotations

import collections

from freeorder import atomic

from . import key_of
from .registry import ThreadRegistry

_RELAXED, _RELEASE = int(atomic.RELAXED), int(atomic.RELEASE)
_NOT_TAG = ~1


class HazardGuard:
    """One thread's hazard cells and retired list."""

    __slots__ = ("_registry", "_hazards", "_base", "_depth", "_used", "_retired", "_threshold",
                 "retired", "reclaimed")

    def __init__(self, registry: "HazardRegistry", index: int):
        self._registry = registry
        self._hazards = registry._hazards
        self._base = index * registry._stride
        self._depth = 0
        self._used = 0  # bitmask of hazard cells set inside the current pin
        self._retired: list = []
        self._threshold = registry.min_scan
        self.retired = 0
        self.reclaimed = 0

    def pin(self) -> "HazardGuard":
        self._depth += 1
        return self

    def __enter__(self) -> "HazardGuard":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.unpin()

    def unpin(self) -> None:
        """Leave one pin; the outermost unpin clears the hazard cells this pin set."""
        depth = self._depth - 1
        self._depth = depth
        if not depth and self._used:
            used, base, hz = self._used, self._base, self._hazards
            self._used = 0
            cell = base
            while used:
                if used & 1:
                    # RELEASE: our reads of the slot happen-before a scan that sees the cell clear
                    hz.store(cell, 0, _RELEASE)
                used >>= 1
                cell += 1

    @property
    def pinned(self) -> bool:
        return self._depth > 0

    def protect(self, hazard: int, array, index: int) -> int:
        """Load ``array[index]`` and guard its slot in hazard cell ``hazard``.

        Loop: load, publish the key (SEQ_CST), re-load; stop when the two loads
        agree (the linearization point is the second load).
        """
        hz, cell = self._hazards, self._base + hazard
        self._used |= 1 << hazard
        ref = array.load(index)
        while True:
            # SEQ_CST store then SEQ_CST load: the publish is ordered before the re-read
            # (a store-load order only SEQ_CST gives), pairing with the scan's SEQ_CST fence
            hz.store(cell, ref & _NOT_TAG)
            again = array.load(index)
            if again == ref:
                return ref
            ref = again

    def retire(self, free, ref: int, key: int) -> None:
        """Hand an unlinked slot over: ``free(ref)`` runs in a scan that finds no hazard on ``key``."""
        self.retired += 1
        retired = self._retired
        retired.append((free, ref, key))
        if len(retired) >= self._threshold:
            self.scan()

    def scan(self) -> int:
        """Free every retired slot no hazard names; returns how many."""
        registry = self._registry
        retired = self._retired
        orphans = registry._orphans
        while orphans:
            try:
                retired.extend(orphans.popleft())
            except IndexError:
                break
        hazards = registry._published()
        keep = []
        freed = 0
        for item in retired:
            if item[2] in hazards:
                keep.append(item)
            else:
                item[0](item[1])
                freed += 1
        self._retired = keep
        active = max(1, len(registry._registry.active()))
        self._threshold = max(registry.min_scan, registry.scan_factor * registry.hazards_per_thread * active)
        self.reclaimed += freed
        return freed


class HazardRegistry:
    """Per-thread hazard cells (``hazards_per_thread`` each) in one atomic array."""

    name = "hazard"

    def __init__(self, max_threads: int = 256, hazards_per_thread: int = 4, scan_factor: int = 2,
                 min_scan: int = 32):
        if not 1 <= hazards_per_thread <= 62:
            raise ValueError(f"hazards_per_thread={hazards_per_thread!r} must be in 1..62")
        self.hazards_per_thread = hazards_per_thread
        self.scan_factor = scan_factor
        self.min_scan = min_scan
        # each thread's cells start on a cache line of their own (8 int64 cells a line)
        self._stride = -(-hazards_per_thread // 8) * 8
        self._hazards = atomic.AtomicIntArray(max_threads * self._stride)
        self._retired = atomic.AtomicInt()     # totals of threads that have exited
        self._reclaimed = atomic.AtomicInt()
        self._orphans: collections.deque = collections.deque()
        self._registry = ThreadRegistry(max_threads, lambda i: HazardGuard(self, i), self._release)
        self._by_thread = self._registry.by_thread
        self._thread_index = self._registry.thread_index
        self.pin = self._make_pin()   # pin(): this thread's guard, pinned (see _make_pin)

    def _make_pin(self):
        """``pin`` as a closure (no attribute lookups on the shared registry; see EpochCollector)."""
        by_thread, thread_index, register = self._by_thread, self._thread_index, self._registry.current

        def pin() -> HazardGuard:
            """This thread's guard, pinned (``with registry.pin() as guard:``)."""
            try:
                guard = by_thread[thread_index()]
                guard._depth += 1                  # AttributeError: this thread is not registered
            except (IndexError, AttributeError):
                guard = register()
                guard._depth += 1
            return guard

        return pin

    def local(self):
        """This thread's guard, unpinned unless it is pinned already (``guard.pin()`` pins it)."""
        return self._registry.current()

    def _published(self) -> set:
        """The keys in every registered thread's hazard cells."""
        # SEQ_CST fence: pairs with protect's SEQ_CST publish, so a reader that re-read the
        # source after publishing is seen here, or saw the slot already unlinked
        atomic.fence()
        load, per, stride = self._hazards.load, self.hazards_per_thread, self._stride
        return {load(base + c) for base in range(0, self._registry.high * stride, stride) for c in range(per)}

    def help(self) -> int:
        """Scan now (an allocator out of free slots calls this); returns slots freed."""
        return self.local().scan()

    def _release(self, index: int, guard: HazardGuard) -> None:
        base = guard._base
        for cell in range(self.hazards_per_thread):
            self._hazards.store(base + cell, 0, _RELEASE)
        guard._depth = 0
        guard._used = 0
        if guard._retired:
            self._orphans.append(guard._retired)
            guard._retired = []
        self._retired.fetch_add(guard.retired, _RELAXED)      # statistics only
        self._reclaimed.fetch_add(guard.reclaimed, _RELAXED)
        guard.retired = guard.reclaimed = 0

    def flush(self) -> int:
        """Scan now (this thread's retired list and the orphans); returns slots freed."""
        return self.help()

    def unregister(self) -> None:
        """Give back this thread's record now, as its exit would (unpin, hand over garbage)."""
        self._registry.release_current()

    def stats(self) -> dict[str, int]:
        """Retired/reclaimed totals (exact at rest; approximate while threads run)."""
        guards = self._registry.states()
        retired = self._retired.load() + sum(g.retired for g in guards)
        reclaimed = self._reclaimed.load() + sum(g.reclaimed for g in guards)
        return {"retired": retired, "reclaimed": reclaimed, "pending": retired - reclaimed}


__all__ = ["HazardGuard", "HazardRegistry", "key_of"]
