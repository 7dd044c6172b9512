"""Arena: node slots addressed by int, with versioned references.

A node is a slot index into an arena. Its int fields live in
``AtomicIntArray``s (one per field name, ``arena.<field>[index]``) and its
payload, a Python object, in ``arena.payload[index]``: written before the
slot is published (with a release or SEQ_CST store of its reference) and read
after the reference is loaded.

A reference is one int64::

    ref = version << 32 | index << 1 | mark

with ``index`` in ``1..capacity`` (0 is the null reference) and ``mark`` a
bit an algorithm may use (skiplist deletion). Every time a slot is freed its
version is bumped, so a compare-exchange holding a stale reference fails:
no ABA. Slots come from a lock-free free list (a Treiber stack with its own
version tag) and, until the arena has been used once through, from a bump
counter; when both are empty ``alloc`` raises ``ArenaExhausted``.

Slots leave a structure only through a reclaimer (``freeorder.reclaim``),
which calls ``free`` when no thread can still reach them.
"""

from __future__ import annotations

from freeorder import atomic
from freeorder.atomic import RELAXED
from freeorder.reclaim import sanitizer
from freeorder.reclaim.sanitizer import FREE, LIVE, POISON, POISON_VALUE, RETIRED, DoubleRetire, UseAfterReclaim

NULL = 0
INDEX_MASK = 0x7FFFFFFF
VERSION_MASK = 0x7FFFFFFF
MAX_CAPACITY = INDEX_MASK
_TAG_SHIFT = 32


class ArenaExhausted(MemoryError):
    """Every slot of an arena is in use or waiting for reclamation."""


def make_ref(index: int, version: int, mark: int = 0) -> int:
    return (version << 32) | (index << 1) | mark


def ref_index(ref: int) -> int:
    return (ref >> 1) & INDEX_MASK


def ref_version(ref: int) -> int:
    return ref >> 32


def is_marked(ref: int) -> bool:
    return bool(ref & 1)


def marked(ref: int) -> int:
    return ref | 1


def unmarked(ref: int) -> int:
    return ref & ~1


class Arena:
    """A fixed-capacity pool of node slots with int fields and a payload each."""

    def __init__(self, capacity: int, fields: tuple[str, ...] = (), name: str = "arena",
                 sanitize: bool | None = None):
        if not 1 <= capacity <= MAX_CAPACITY:
            raise ValueError(f"capacity={capacity!r} must be in 1..{MAX_CAPACITY}")
        self.name = name
        self.capacity = capacity
        self.fields = tuple(fields)
        size = capacity + 1  # slot 0 is the null reference
        for field in self.fields:
            if hasattr(self, field):
                raise ValueError(f"field name {field!r} clashes with an Arena attribute")
            setattr(self, field, atomic.AtomicIntArray(size))
        self.payload: list = [None] * size
        self._version = atomic.AtomicIntArray(size, 1)
        self._free_next = atomic.AtomicIntArray(size)
        self._free_head = atomic.AtomicInt(0)  # tag << 32 | index
        self._bump = atomic.AtomicInt(1)
        self._in_use = atomic.AtomicInt(0)
        self.sanitize = sanitizer.enabled_by_environment() if sanitize is None else bool(sanitize)
        self.violations: list[str] = []
        if self.sanitize:
            self._state = atomic.AtomicIntArray(size, FREE)
            sanitizer.track(self)

    def __repr__(self) -> str:
        return f"Arena({self.name!r}, capacity={self.capacity}, in_use={self.in_use})"

    # -- allocation -------------------------------------------------------

    def alloc(self, payload=None) -> int:
        """Take a free slot, store ``payload`` in it, and return its reference.

        Lock-free: pops the free list (tag-versioned compare-exchange), else
        bumps. The slot is private to the caller until it publishes the ref.
        """
        head_cell, nxt = self._free_head, self._free_next
        head = head_cell.load()
        while head & INDEX_MASK:
            index = head & INDEX_MASK
            new = ((head >> _TAG_SHIFT) + 1) << _TAG_SHIFT | nxt.load(index)
            witnessed = head_cell.compare_exchange(head, new)
            if witnessed == head:
                break
            head = witnessed
        else:
            index = self._bump.fetch_add(1)
            if index > self.capacity:
                self._bump.fetch_sub(1)
                raise ArenaExhausted(
                    f"arena {self.name!r} is exhausted: all {self.capacity} slots are in use "
                    "or awaiting reclamation"
                )
        self._in_use.fetch_add(1, RELAXED)
        self.payload[index] = payload
        version = self._version.load(index)
        if self.sanitize:
            self._transition(index, version, FREE, LIVE, "alloc")
        return (version << 32) | (index << 1)

    def free(self, ref: int) -> None:
        """Return a retired slot to the free list and bump its version (reclaimers only)."""
        index = (ref >> 1) & INDEX_MASK
        version = ref >> 32
        if self.sanitize:
            self._transition(index, version, RETIRED, FREE, "free")
            self.payload[index] = POISON
            for field in self.fields:
                getattr(self, field).store(index, POISON_VALUE)
        else:
            self.payload[index] = None
        self._version.store(index, (version % VERSION_MASK) + 1)
        head_cell, nxt = self._free_head, self._free_next
        head = head_cell.load()
        while True:
            nxt.store(index, head & INDEX_MASK)
            new = ((head >> _TAG_SHIFT) + 1) << _TAG_SHIFT | index
            witnessed = head_cell.compare_exchange(head, new)
            if witnessed == head:
                break
            head = witnessed
        self._in_use.fetch_sub(1, RELAXED)

    # -- inspection -------------------------------------------------------

    @property
    def in_use(self) -> int:
        """Slots allocated and not yet freed (live or awaiting reclamation)."""
        return self._in_use.load()

    @property
    def peak(self) -> int:
        """Most slots ever in use at once (free slots are reused before new ones)."""
        return min(self._bump.load(), self.capacity + 1) - 1

    def version(self, index: int) -> int:
        return self._version.load(index)

    def is_current(self, ref: int) -> bool:
        """True if ``ref``'s slot has not been freed since ``ref`` was made."""
        return self._version.load((ref >> 1) & INDEX_MASK) == ref >> 32

    # -- sanitizer --------------------------------------------------------

    def check(self, ref: int) -> None:
        """Sanitizer: raise UseAfterReclaim unless ``ref`` names a live or retired slot."""
        index = (ref >> 1) & INDEX_MASK
        if index == 0:
            return
        current = self._version.load(index)
        if current != ref >> 32 or self._state.load(index) == FREE:
            self._violation(
                UseAfterReclaim,
                f"use after reclaim: slot {index} version {ref >> 32} was freed (now version {current})",
            )

    def mark_retired(self, ref: int) -> None:
        """Sanitizer: LIVE -> RETIRED, else DoubleRetire."""
        index = (ref >> 1) & INDEX_MASK
        self._transition(index, ref >> 32, LIVE, RETIRED, "retire")

    def _transition(self, index: int, version: int, old: int, new: int, what: str) -> None:
        current = self._version.load(index)
        if current != version:
            self._violation(
                UseAfterReclaim if what != "retire" else DoubleRetire,
                f"{what} of slot {index} version {version}, but the slot is at version {current}",
            )
        witnessed = self._state.compare_exchange(index, old, new)
        if witnessed != old:
            error = DoubleRetire if what == "retire" else UseAfterReclaim
            self._violation(
                error,
                f"{what} of slot {index}: expected it {sanitizer.STATE_NAMES[old]}, "
                f"found it {sanitizer.STATE_NAMES[witnessed]}",
            )

    def _violation(self, error: type, message: str):
        self.violations.append(message)
        raise error(f"arena {self.name!r}: {message}")

    def walk(self, ref: int, next_field: str = "next") -> tuple[list[int], int]:
        """Quiescent: follow ``next_field`` from ``ref``; returns (slot indexes in order, last ref).

        Raises AssertionError on a stale reference or a cycle.
        """
        nxt = getattr(self, next_field)
        order: list[int] = []
        seen: set[int] = set()
        last = ref
        while ref:
            if not self.is_current(ref):
                raise AssertionError(f"arena {self.name!r}: stale reference {ref:#x} is reachable")
            index = (ref >> 1) & INDEX_MASK
            if index in seen:
                raise AssertionError(f"arena {self.name!r}: cycle through slot {index}")
            seen.add(index)
            order.append(index)
            last = ref
            ref = nxt.load(index)
        return order, last

    def assert_no_leaks(self, reachable) -> None:
        """Sanitizer (quiescent): raise if a live slot is not in ``reachable``."""
        leaked = self.leaks(set(reachable)) if self.sanitize else []
        if leaked:
            raise AssertionError(
                f"arena {self.name!r}: leaked slots (allocated, unreachable, never retired): {leaked[:10]}"
            )

    def leaks(self, reachable: set[int]) -> list[int]:
        """Sanitizer (quiescent): live slots not in ``reachable`` — allocated, never retired."""
        states = self._state.to_list()
        return [i for i in range(1, self.capacity + 1) if states[i] == LIVE and i not in reachable]

    def retired_unreclaimed(self) -> int:
        """Sanitizer (quiescent): slots retired but not yet freed."""
        return sum(1 for s in self._state.to_list()[1:] if s == RETIRED)
