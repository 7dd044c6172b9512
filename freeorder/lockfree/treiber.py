"""TreiberStack: a lock-free LIFO stack of Python objects.

Invariant: ``head`` holds null or a versioned reference to the top node, and
each node's ``next`` (written before the node is published, never changed
while it is on the stack) references the node below it.

Two memory schemes, chosen at construction:

* **counted pointers** (the default, ``reclaimer=None``): the arena is
  type-stable and a popped slot is freed at once, to be reused by the next
  push. That is safe without a reclaimer because every reference carries
  its slot's version: a pop that read a head which has since been popped,
  freed and pushed again holds the old version, so its compare-exchange
  fails (no ABA), and the ``next`` it read from the reused slot is thrown
  away with it. The only stale read is that ``next`` (validated by the
  compare-exchange); the payload is read after the compare-exchange made
  the slot ours.
* **a reclaimer** (``EpochCollector``, ``HazardRegistry``, ``NoReclaim``):
  pops pin, protect the head, and retire the popped slot; it is reused
  only after the reclaimer frees it, so no read is ever stale.

Each thread works through its own handle (``stack.handle()``; the plain
methods look it up), which holds the thread's slot allocator: no shared
state is touched but the head and the nodes. Where CPython still
serialises: writing the payload list takes its per-object lock on 3.13t.

>>> s = TreiberStack()
>>> s.push(1); s.push(2)
>>> s.pop(), s.pop(), s.pop(None)
(2, 1, None)
"""

from __future__ import annotations

from freeorder import atomic
from freeorder.reclaim import key_of

from .arena import INDEX_MASK, INDEX_SHIFT, Arena

_RELAXED = int(atomic.RELAXED)
_MISSING = object()


class _Handle:
    """One thread's access to a stack: the algorithm lives here."""

    __slots__ = ("_stack", "_head", "_next", "_payload", "_slots", "_on_step", "_reclaimer", "_retries")

    def __init__(self, stack: "TreiberStack", on_step=None):
        self._stack = stack
        self._head = stack._head
        self._next = stack._next
        self._payload = stack.arena.payload
        self._slots = stack.arena.local()
        self._reclaimer = stack.reclaimer
        self._on_step = on_step
        self._retries = 0

    def push(self, item) -> None:
        """Push ``item``. Linearization point: the successful compare-exchange of head."""
        ref = self._slots.alloc(item)
        index = (ref >> INDEX_SHIFT) & INDEX_MASK
        head_cell, nxt = self._head, self._next
        head = head_cell.load(0, _RELAXED)  # RELAXED: only a guess; the compare-exchange checks it
        while True:
            # RELAXED: the SEQ_CST compare-exchange publishing the node orders this store before it
            nxt.store(index, head, _RELAXED)
            witnessed = head_cell.compare_exchange(0, head, ref)
            if witnessed == head:
                return
            self._retries += 1
            head = witnessed

    def pop(self, default=_MISSING):
        """Pop the top item; raise IndexError (or return ``default``) if empty.

        Linearization point: the successful compare-exchange of head, or the
        load that saw head null.
        """
        if self._reclaimer is not None:
            return self._pop_guarded(default)
        head_cell, nxt, on_step = self._head, self._next, self._on_step
        head = head_cell.load(0)
        while head:
            if on_step is not None:
                on_step("pop:read-head")
            index = (head >> INDEX_SHIFT) & INDEX_MASK
            # may read a slot freed and reused since: then head moved on and the exchange fails
            witnessed = head_cell.compare_exchange(0, head, nxt.load(index))
            if witnessed == head:
                item = self._payload[index]
                self._slots.free(head)
                return item
            self._retries += 1
            head = witnessed
        if default is _MISSING:
            raise IndexError("pop from an empty TreiberStack")
        return default

    def _pop_guarded(self, default):
        """``pop`` under a reclaimer: the head is protected, the popped slot retired."""
        stack, head_cell, nxt, on_step = self._stack, self._head, self._next, self._on_step
        arena = stack.arena
        guard = self._reclaimer.pin()
        try:
            head = guard.protect(0, head_cell, 0)
            while head:
                if on_step is not None:
                    on_step("pop:read-head")
                if arena.sanitize:
                    arena.check(head)
                index = (head >> INDEX_SHIFT) & INDEX_MASK
                witnessed = head_cell.compare_exchange(0, head, nxt.load(index))
                if witnessed == head:
                    item = self._payload[index]
                    if arena.sanitize:
                        arena.mark_retired(head)
                    guard.retire(arena.free, head, key_of(head))
                    return item
                self._retries += 1
                head = guard.protect(0, head_cell, 0)
        finally:
            guard.unpin()
        if default is _MISSING:
            raise IndexError("pop from an empty TreiberStack")
        return default

    def peek(self, default=_MISSING):
        """The top item without removing it. Linearization point: the load of head
        (re-confirmed after the item was read, so a reused slot is never reported)."""
        head_cell, stack = self._head, self._stack
        guard = self._reclaimer.pin() if self._reclaimer is not None else None
        try:
            while True:
                head = guard.protect(0, head_cell, 0) if guard is not None else head_cell.load(0)
                if not head:
                    break
                if stack.arena.sanitize and guard is not None:
                    stack.arena.check(head)
                item = self._payload[(head >> INDEX_SHIFT) & INDEX_MASK]
                if head_cell.load(0) == head:  # the slot was not popped (and reused) meanwhile
                    return item
        finally:
            if guard is not None:
                guard.unpin()
        if default is _MISSING:
            raise IndexError("peek at an empty TreiberStack")
        return default


class TreiberStack:
    """Lock-free stack: push, pop, peek, is_empty. Default scheme: counted pointers (see module doc)."""

    def __init__(self, max_capacity: int | None = None, reclaimer=None, name: str = "TreiberStack",
                 sanitize: bool | None = None, initial_capacity: int | None = None):
        self.reclaimer = reclaimer
        self.arena = Arena(max_capacity, fields=("next",), name=name, sanitize=sanitize,
                           initial_capacity=initial_capacity, reclaimer=reclaimer)
        if self.arena.sanitize:
            self.arena.direct_free = reclaimer is None
        self._next = self.arena.next
        self._head = atomic.AtomicIntArray(1)
        self._handles: list = []   # thread index -> that thread's handle
        self._thread_index = atomic.current_backend().thread_index

    def handle(self, on_step=None) -> _Handle:
        """This thread's handle (``push``/``pop``/``peek`` with no per-call lookup).

        ``on_step``: a callable given the name of each named step this handle
        passes (``"pop:read-head"``); a new handle, for tests and the stall benchmark.
        """
        if on_step is not None:
            return _Handle(self, on_step)
        index = self._thread_index()
        handles = self._handles
        if len(handles) <= index:
            handles.extend([None] * (index + 1 - len(handles)))
        handle = handles[index]
        if handle is None:
            handle = handles[index] = _Handle(self)
        return handle

    def push(self, item) -> None:
        """Push ``item`` (see ``_Handle.push``)."""
        try:
            handle = self._handles[self._thread_index()]
        except IndexError:
            handle = None
        (handle or self.handle()).push(item)

    def pop(self, default=_MISSING):
        """Pop the top item; IndexError (or ``default``) if empty (see ``_Handle.pop``)."""
        try:
            handle = self._handles[self._thread_index()]
        except IndexError:
            handle = None
        return (handle or self.handle()).pop(default)

    def peek(self, default=_MISSING):
        """The top item without removing it; IndexError (or ``default``) if empty."""
        return self.handle().peek(default)

    def is_empty(self) -> bool:
        """True if the stack was empty at the load of head."""
        return self._head.load(0) == 0

    @property
    def cas_retries(self) -> int:
        """Compare-exchanges that lost a race, summed over threads (exact at rest)."""
        return sum(h._retries for h in list(self._handles) if h is not None)

    def to_list(self) -> list:
        """Items top first. Quiescent use only (tests, audits): not a snapshot."""
        items, ref = [], self._head.load(0)
        while ref:
            index = (ref >> INDEX_SHIFT) & INDEX_MASK
            items.append(self.arena.payload[index])
            ref = self._next.load(index)
        return items

    def audit(self) -> dict[str, int]:
        """Quiescent check: the chain is acyclic, within the arena, and (sanitizer) leak-free."""
        chain, _ = self.arena.walk(self._head.load(0))
        self.arena.assert_no_leaks(chain)
        return {"length": len(chain), "in_use": self.arena.in_use, "peak": self.arena.peak}
