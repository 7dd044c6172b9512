"""TreiberStack: a lock-free LIFO stack of Python objects.

Invariant: ``head`` holds null or a versioned reference to the top node, and
each node's ``next`` (written before the node is published, never changed
after) references the node below it. A slot is retired by the thread whose
pop unlinked it, and reused only after its reclaimer frees it; the version
in every reference makes a compare-exchange on a stale head fail (no ABA).
"""

from __future__ import annotations

from freeorder import atomic
from freeorder.atomic import RELAXED
from freeorder.reclaim import EpochCollector

from .arena import INDEX_MASK, Arena

_MISSING = object()


class TreiberStack:
    """Lock-free stack: push, pop, peek, is_empty. Default reclaimer: EpochCollector."""

    def __init__(self, capacity: int = 1 << 16, reclaimer=None, name: str = "TreiberStack",
                 sanitize: bool | None = None):
        if reclaimer is None:
            reclaimer = EpochCollector()
        self.reclaimer = reclaimer
        self.arena = Arena(capacity, fields=("next",), name=name, sanitize=sanitize)
        self._next = self.arena.next
        self._head = atomic.AtomicIntArray(1)
        self.cas_retries = atomic.AtomicInt()

    def push(self, item) -> None:
        """Push ``item``. Linearization point: the successful compare-exchange of head."""
        arena = self.arena
        ref = arena.alloc(item)
        index = (ref >> 1) & INDEX_MASK
        head_cell, nxt = self._head, self._next
        head = head_cell.load(0)
        while True:
            nxt.store(index, head, RELAXED)
            witnessed = head_cell.compare_exchange(0, head, ref)
            if witnessed == head:
                return
            self.cas_retries.fetch_add(1, RELAXED)
            head = witnessed

    def pop(self, default=_MISSING):
        """Pop the top item; raise IndexError (or return ``default``) if empty.

        Linearization point: the successful compare-exchange of head, or the
        load that saw head null.
        """
        arena = self.arena
        head_cell, nxt = self._head, self._next
        guard = self.reclaimer.pin()
        try:
            head = guard.protect(0, head_cell, 0)
            while head:
                if arena.sanitize:
                    arena.check(head)
                index = (head >> 1) & INDEX_MASK
                witnessed = head_cell.compare_exchange(0, head, nxt.load(index))
                if witnessed == head:
                    item = arena.payload[index]
                    guard.retire(arena, head)
                    return item
                self.cas_retries.fetch_add(1, RELAXED)
                head = guard.protect(0, head_cell, 0)
        finally:
            guard.unpin()
        if default is _MISSING:
            raise IndexError("pop from an empty TreiberStack")
        return default

    def peek(self, default=_MISSING):
        """The top item without removing it. Linearization point: the load of head."""
        arena = self.arena
        guard = self.reclaimer.pin()
        try:
            head = guard.protect(0, self._head, 0)
            if head:
                if arena.sanitize:
                    arena.check(head)
                return arena.payload[(head >> 1) & INDEX_MASK]
        finally:
            guard.unpin()
        if default is _MISSING:
            raise IndexError("peek at an empty TreiberStack")
        return default

    def is_empty(self) -> bool:
        """True if the stack was empty at the load of head."""
        return self._head.load(0) == 0

    def to_list(self) -> list:
        """Items top first. Quiescent use only (tests, audits): not a snapshot."""
        items, ref = [], self._head.load(0)
        while ref:
            index = (ref >> 1) & INDEX_MASK
            items.append(self.arena.payload[index])
            ref = self._next.load(index)
        return items

    def audit(self) -> dict[str, int]:
        """Quiescent check: the chain is acyclic, within the arena, and (sanitizer) leak-free."""
        chain, _ = self.arena.walk(self._head.load(0))
        self.arena.assert_no_leaks(chain)
        return {"length": len(chain), "in_use": self.arena.in_use, "peak": self.arena.peak}
