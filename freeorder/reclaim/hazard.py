"""Hazard pointers (Michael 2004) behind the same guard protocol as the epochs.

Invariant: a retired slot is freed only by a scan that found no hazard
naming it. ``protect`` publishes the reference's slot index in one of this
thread's hazard cells and re-reads the source: if it is unchanged, the slot
cannot have been freed in between (a freeing scan would have seen the
hazard), so it is safe until the hazard is overwritten or the guard exits.

    registry = HazardRegistry()
    with registry.pin() as guard:
        ref = guard.protect(0, head, 0)   # hazard cell 0 now guards ref's slot
        guard.retire(arena, ref)

Each thread's retired list is scanned when it passes a threshold
proportional to hazards × active threads, so unreclaimed garbage stays
bounded by O(threshold × threads) even when a thread stalls. A thread that
exits hands its retired list to an orphan queue that later scans adopt.
"""

from __future__ import annotations

import collections

from freeorder import atomic
from freeorder.atomic import RELAXED, RELEASE

from .registry import ThreadRegistry

_INDEX_MASK = 0x7FFFFFFF


class HazardGuard:
    """One thread's hazard cells and retired list."""

    __slots__ = ("_registry", "_hazards", "_base", "_depth", "_used", "_retired", "_threshold")

    def __init__(self, registry: "HazardRegistry", index: int):
        self._registry = registry
        self._hazards = registry._hazards
        self._base = index * registry.hazards_per_thread
        self._depth = 0
        self._used = 0  # bitmask of hazard cells set inside the current pin
        self._retired: list = []
        self._threshold = registry.min_scan

    def __enter__(self) -> "HazardGuard":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.unpin()

    def unpin(self) -> None:
        """Leave one pin; the outermost unpin clears the hazard cells this pin set."""
        self._depth -= 1
        if self._depth == 0 and self._used:
            used, base, hz = self._used, self._base, self._hazards
            self._used = 0
            cell = 0
            while used:
                if used & 1:
                    hz.store(base + cell, 0, RELEASE)
                used >>= 1
                cell += 1

    @property
    def pinned(self) -> bool:
        return self._depth > 0

    def protect(self, hazard: int, array, index: int) -> int:
        """Load ``array[index]`` and guard its slot in hazard cell ``hazard``.

        Loop: load, publish the slot index (SEQ_CST), re-load; stop when the
        two loads agree (the linearization point is the second load).
        """
        hz, cell = self._hazards, self._base + hazard
        self._used |= 1 << hazard
        ref = array.load(index)
        while True:
            hz.store(cell, (ref >> 1) & _INDEX_MASK)
            again = array.load(index)
            if again == ref:
                return ref
            ref = again

    def retire(self, arena, ref: int) -> None:
        """Hand an unlinked slot over; freed by a scan that finds no hazard on it."""
        if arena.sanitize:
            arena.mark_retired(ref)
        self._registry._retired.fetch_add(1, RELAXED)
        retired = self._retired
        retired.append((arena, ref))
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
        hazards = set(self._hazards.to_list())
        keep = []
        freed = 0
        for item in retired:
            arena, ref = item
            if (ref >> 1) & _INDEX_MASK in hazards:
                keep.append(item)
            else:
                arena.free(ref)
                freed += 1
        self._retired = keep
        active = max(1, len(registry._registry.active()))
        self._threshold = max(registry.min_scan, registry.scan_factor * registry.hazards_per_thread * active)
        if freed:
            registry._reclaimed.fetch_add(freed, RELAXED)
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
        self._hazards = atomic.AtomicIntArray(max_threads * hazards_per_thread)
        self._retired = atomic.AtomicInt()
        self._reclaimed = atomic.AtomicInt()
        self._orphans: collections.deque = collections.deque()
        self._registry = ThreadRegistry(max_threads, lambda i: HazardGuard(self, i), self._release)
        self._local = self._registry.local

    def pin(self) -> HazardGuard:
        """This thread's guard, pinned (``with registry.pin() as guard:``)."""
        try:
            guard = self._local.state
        except AttributeError:
            guard = self._registry.current().state
        guard._depth += 1
        return guard

    def _release(self, index: int, guard: HazardGuard) -> None:
        base = index * self.hazards_per_thread
        for cell in range(self.hazards_per_thread):
            self._hazards.store(base + cell, 0, RELEASE)
        guard._depth = 0
        guard._used = 0
        if guard._retired:
            self._orphans.append(guard._retired)
            guard._retired = []

    def flush(self) -> int:
        """Scan now (this thread's retired list and the orphans); returns slots freed."""
        guard = self.pin()
        try:
            return guard.scan()
        finally:
            guard.unpin()

    def unregister(self) -> None:
        """Give back this thread's record now, as its exit would (unpin, hand over garbage)."""
        self._registry.release_current()

    def stats(self) -> dict[str, int]:
        retired, reclaimed = self._retired.load(), self._reclaimed.load()
        return {"retired": retired, "reclaimed": reclaimed, "pending": retired - reclaimed}
