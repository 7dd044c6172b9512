"""SanitizingArena: the arena with every slot's state and version checked.

``Arena(..., sanitize=True)`` (or ``FREEORDER_SANITIZE=1``) builds one of
these instead of a plain :class:`~freeorder.lockfree.arena.Arena`: the checks
live in this subclass, so the plain arena's hot paths carry none of them.

Each slot has a state (FREE, LIVE, RETIRED) and a current version. A freed
slot's payload becomes ``POISON`` and its int fields ``POISON_VALUE``;
``check(ref)`` raises ``UseAfterReclaim`` unless ``ref`` is the slot's current
incarnation and not free. Which stale reads are allowed depends on the
structure's scheme: under a reclaimer a protected reference is never stale,
so structures check on every dereference; a counted-pointer structure
(``direct_free=True``) frees slots without retiring them and reads them
optimistically, validating with a compare-exchange, so it checks only after
validation. Violations raise in the offending thread and are recorded in
``violations`` (reported at exit).
"""

from __future__ import annotations

from freeorder import atomic
from freeorder.reclaim import sanitizer
from freeorder.reclaim.sanitizer import FREE, LIVE, POISON, POISON_VALUE, RETIRED, DoubleRetire, UseAfterReclaim

from .arena import CACHE_LIMIT, INDEX_MASK, INDEX_SHIFT, MARK, VERSION_MASK, VERSION_SHIFT, Arena, ThreadSlots, next_incarnation


class SanitizingArena(Arena):
    """An arena whose allocation, retirement, free and dereferences are checked."""

    sanitize = True

    def __init__(self, *args, direct_free: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        reserve = self.max_capacity + 1
        size = self.initial_capacity + 1
        self.direct_free = direct_free
        self.violations: list[str] = []
        self._version = atomic.AtomicIntArray(size, reserve=reserve)
        self._state = atomic.AtomicIntArray(size, reserve=reserve)  # FREE == 0
        sanitizer.track(self)

    def _grow_extra(self, length: int) -> None:
        self._version.grow(length)
        self._state.grow(length)

    def _checked_alloc(self, slots: "SanitizingThreadSlots", payload) -> int:
        cache = slots.cache
        try:
            ref = cache.pop()
        except IndexError:
            ref = self.refill(cache)
        index = (ref >> INDEX_SHIFT) & INDEX_MASK
        self._transition(index, ref >> VERSION_SHIFT, FREE, LIVE, "alloc")
        self.payload[index] = payload
        return ref

    def _checked_free(self, slots: "SanitizingThreadSlots", ref: int) -> None:
        index = (ref >> INDEX_SHIFT) & INDEX_MASK
        version = ref >> VERSION_SHIFT
        self._transition(index, version, LIVE if self.direct_free else RETIRED, FREE, "free")
        if not self.direct_free:
            # under a reclaimer no thread may read a freed slot: poison its fields. A
            # counted-pointer structure's readers may, and validate what they read, so its
            # fields keep their last values (as in Michael and Scott's type-stable nodes)
            for field in self.fields:
                getattr(self, field).store(index, POISON_VALUE)
        self.payload[index] = POISON
        self._version.store(index, (version + 1) & VERSION_MASK)
        cache = slots.cache
        cache.append(next_incarnation(ref))
        if len(cache) > CACHE_LIMIT:
            self.spill(cache)

    def mark_retired(self, ref: int) -> None:
        """LIVE -> RETIRED, else DoubleRetire."""
        self._transition((ref >> INDEX_SHIFT) & INDEX_MASK, ref >> VERSION_SHIFT, LIVE, RETIRED, "retire")

    def check(self, ref: int) -> None:
        """Raise UseAfterReclaim unless ``ref`` names a live or retired slot's current incarnation."""
        index = (ref >> INDEX_SHIFT) & INDEX_MASK
        if index == 0:
            return
        current = self._version.load(index)
        if current != ref >> VERSION_SHIFT or self._state.load(index) == FREE:
            self._violation(
                UseAfterReclaim,
                f"use after reclaim: slot {index} version {ref >> VERSION_SHIFT} was freed (now version {current})",
            )

    def version(self, index: int) -> int:
        return self._version.load(index)

    def is_current(self, ref: int) -> bool:
        """True if ``ref``'s slot has not been freed since ``ref`` was made."""
        return self._version.load((ref >> INDEX_SHIFT) & INDEX_MASK) == ref >> VERSION_SHIFT

    def _check_reachable(self, ref: int) -> None:
        if not self.is_current(ref & ~MARK):
            raise AssertionError(f"arena {self.name!r}: stale reference {ref:#x} is reachable")

    def _transition(self, index: int, version: int, old: int, new: int, what: str) -> None:
        current = self._version.load(index)
        if current != version:
            self._violation(
                UseAfterReclaim if what != "retire" else DoubleRetire,
                f"{what} of slot {index} version {version}, but the slot is at version {current}",
            )
        witnessed = self._state.compare_exchange(index, old, new)
        if witnessed != old:
            error = DoubleRetire if what in ("retire", "free") else UseAfterReclaim
            self._violation(
                error,
                f"{what} of slot {index}: expected it {sanitizer.STATE_NAMES[old]}, "
                f"found it {sanitizer.STATE_NAMES[witnessed]}",
            )

    def _violation(self, error: type, message: str):
        self.violations.append(message)
        raise error(f"arena {self.name!r}: {message}")

    # -- quiescent audits ----------------------------------------------------

    def assert_no_leaks(self, reachable) -> None:
        """Raise if a live slot is not in ``reachable``."""
        leaked = self.leaks(set(reachable))
        if leaked:
            raise AssertionError(
                f"arena {self.name!r}: leaked slots (allocated, unreachable, never retired): {leaked[:10]}"
            )

    def leaks(self, reachable: set[int]) -> list[int]:
        """Live slots not in ``reachable``: allocated, never retired."""
        states = self._state.to_list()
        return [i for i in range(1, len(states)) if states[i] == LIVE and i not in reachable]

    def retired_unreclaimed(self) -> int:
        """Slots retired but not yet freed."""
        return sum(1 for s in self._state.to_list()[1:] if s == RETIRED)


class SanitizingThreadSlots(ThreadSlots):
    """A thread's allocator for a sanitizing arena: every alloc and free checked."""

    __slots__ = ()

    def alloc(self, payload=None) -> int:
        return self.arena._checked_alloc(self, payload)

    def free(self, ref: int) -> None:
        self.arena._checked_free(self, ref)


SanitizingArena._slots_class = SanitizingThreadSlots
