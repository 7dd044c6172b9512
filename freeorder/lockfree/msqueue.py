"""MSQueue: Michael & Scott's lock-free FIFO queue, with tail helping.

Invariant: ``head`` references a dummy node whose successors, in ``next``
order, are the queued items oldest first; ``tail`` references the last node
or its predecessor (never further behind: any thread that sees a lagging
tail swings it forward before going on). A dequeue retires the old dummy;
the node it advanced to becomes the new dummy.
"""

from __future__ import annotations

from freeorder import atomic
from freeorder.reclaim import EpochCollector
from freeorder.atomic import RELAXED

from .arena import INDEX_MASK, Arena

_MISSING = object()


class MSQueue:
    """Lock-free queue: enqueue, dequeue, peek, is_empty. Default reclaimer: EpochCollector."""

    def __init__(self, capacity: int = 1 << 16, reclaimer=None, name: str = "MSQueue",
                 sanitize: bool | None = None):
        if reclaimer is None:
            reclaimer = EpochCollector()
        self.reclaimer = reclaimer
        # +1 slot for the dummy node
        self.arena = Arena(capacity + 1, fields=("next",), name=name, sanitize=sanitize)
        self._next = self.arena.next
        dummy = self.arena.alloc(None)
        self._next.store((dummy >> 1) & INDEX_MASK, 0)
        self._head = atomic.AtomicIntArray(1, dummy)
        self._tail = atomic.AtomicIntArray(1, dummy)
        self.cas_retries = atomic.AtomicInt()

    def enqueue(self, item) -> None:
        """Append ``item``. Linearization point: the compare-exchange linking it after the last node."""
        arena = self.arena
        ref = arena.alloc(item)
        nxt, tail_cell = self._next, self._tail
        nxt.store((ref >> 1) & INDEX_MASK, 0, RELAXED)
        guard = self.reclaimer.pin()
        try:
            while True:
                tail = guard.protect(0, tail_cell, 0)
                if arena.sanitize:
                    arena.check(tail)
                tail_index = (tail >> 1) & INDEX_MASK
                after = nxt.load(tail_index)
                if tail != tail_cell.load(0):
                    continue
                if after == 0:
                    if nxt.compare_exchange(tail_index, 0, ref) == 0:
                        tail_cell.compare_exchange(0, tail, ref)
                        return
                else:
                    tail_cell.compare_exchange(0, tail, after)  # help a lagging tail
                self.cas_retries.fetch_add(1, RELAXED)
        finally:
            guard.unpin()

    def dequeue(self, default=_MISSING):
        """Remove and return the oldest item; raise IndexError (or return ``default``) if empty.

        Linearization point: the compare-exchange advancing head, or the load
        of the dummy's ``next`` that saw null.
        """
        arena = self.arena
        nxt, head_cell, tail_cell, payload = self._next, self._head, self._tail, arena.payload
        guard = self.reclaimer.pin()
        try:
            while True:
                head = guard.protect(0, head_cell, 0)
                if arena.sanitize:
                    arena.check(head)
                head_index = (head >> 1) & INDEX_MASK
                after = guard.protect(1, nxt, head_index)
                if head != head_cell.load(0):
                    continue
                if after == 0:
                    break
                if head == tail_cell.load(0):
                    tail_cell.compare_exchange(0, head, after)  # help: tail lags behind head's successor
                    continue
                if arena.sanitize:
                    arena.check(after)
                after_index = (after >> 1) & INDEX_MASK
                item = payload[after_index]
                if head_cell.compare_exchange(0, head, after) == head:
                    payload[after_index] = None  # the new dummy holds no item
                    guard.retire(arena, head)
                    return item
                self.cas_retries.fetch_add(1, RELAXED)
        finally:
            guard.unpin()
        if default is _MISSING:
            raise IndexError("dequeue from an empty MSQueue")
        return default

    def peek(self, default=_MISSING):
        """The oldest item without removing it.

        Linearization point: the re-load of head that confirms the dummy was
        still the head after its successor's item was read.
        """
        arena = self.arena
        nxt, head_cell, payload = self._next, self._head, arena.payload
        guard = self.reclaimer.pin()
        try:
            while True:
                head = guard.protect(0, head_cell, 0)
                after = guard.protect(1, nxt, (head >> 1) & INDEX_MASK)
                if after == 0:
                    if head == head_cell.load(0):
                        break
                    continue
                if arena.sanitize:
                    arena.check(after)
                item = payload[(after >> 1) & INDEX_MASK]
                if head == head_cell.load(0):
                    return item
        finally:
            guard.unpin()
        if default is _MISSING:
            raise IndexError("peek at an empty MSQueue")
        return default

    def is_empty(self) -> bool:
        """True if the dummy had no successor when its next was read."""
        guard = self.reclaimer.pin()
        try:
            while True:
                head = guard.protect(0, self._head, 0)
                after = self._next.load((head >> 1) & INDEX_MASK)
                if head == self._head.load(0):
                    return after == 0
        finally:
            guard.unpin()

    def to_list(self) -> list:
        """Items oldest first. Quiescent use only (tests, audits): not a snapshot."""
        items = []
        ref = self._next.load((self._head.load(0) >> 1) & INDEX_MASK)
        while ref:
            index = (ref >> 1) & INDEX_MASK
            items.append(self.arena.payload[index])
            ref = self._next.load(index)
        return items

    def audit(self) -> dict[str, int]:
        """Quiescent check: head reaches tail, tail is last, no cycles, (sanitizer) no leaks."""
        chain, last = self.arena.walk(self._head.load(0))
        if self._tail.load(0) != last:
            raise AssertionError("at rest, tail must reference the last node")
        self.arena.assert_no_leaks(chain)
        return {"length": len(chain) - 1, "in_use": self.arena.in_use, "peak": self.arena.peak}
