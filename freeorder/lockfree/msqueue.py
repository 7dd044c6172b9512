"""MSQueue: Michael & Scott's lock-free FIFO queue, with tail helping.

Invariant: ``head`` references a dummy node whose successors, in ``next``
order, are the queued items oldest first; ``tail`` references the last node
or its predecessor (never further behind: any thread that sees a lagging
tail swings it forward before going on). A dequeue frees (or retires) the
old dummy; the node it advanced to becomes the new dummy.

A node's ``next`` starts as a **tagged null**: its own reference with the
index cleared (version bits only), not 0. So an enqueuer holding a stale
``tail`` -- a node since dequeued, freed and reused -- cannot link after the
reused node: its compare-exchange expects the old incarnation's null.

Two memory schemes, chosen at construction:

* **counted pointers** (the default, ``reclaimer=None``; Michael and Scott's
  1996 design): a type-stable arena, and a dequeued dummy is freed at once.
  Every reference carries a version, so compare-exchanges holding stale
  references fail; the stale reads that remain (a freed node's ``next``,
  its payload) are validated by the compare-exchange that follows them;
* **a reclaimer** (epoch, hazard, none): operations pin and protect, a
  dequeued dummy is retired and reused only once freed.

Each thread works through its own handle (``queue.handle()``; the plain
methods look it up). Where CPython still serialises: the payload list's
per-object lock on 3.13t, taken by the enqueue's write and the free's clear.
The dummy node keeps a reference to the last dequeued item until it is
itself dequeued past.

>>> q = MSQueue()
>>> q.enqueue("a"); q.enqueue("b")
>>> q.dequeue(), q.peek(), len(q.to_list())
('a', 'b', 1)
"""

from __future__ import annotations

from freeorder import atomic
from freeorder.reclaim import key_of

from .arena import INDEX_MASK, INDEX_SHIFT, SLOT_BITS, VERSION_ONE, Arena

_RELAXED = int(atomic.RELAXED)
_MISSING = object()
_VERSION_BITS = ~(VERSION_ONE - 1)   # a reference with index and mark cleared: its tagged null


class _Handle:
    """One thread's access to a queue: the algorithm lives here."""

    __slots__ = ("_queue", "_head", "_tail", "_next", "_payload", "_slots", "_on_step", "_reclaimer",
                 "_retries")

    def __init__(self, queue: "MSQueue", on_step=None):
        self._queue = queue
        self._head, self._tail, self._next = queue._head, queue._tail, queue._next
        self._payload = queue.arena.payload
        self._slots = queue.arena.local()
        self._reclaimer = queue.reclaimer
        self._on_step = on_step
        self._retries = 0

    def enqueue(self, item) -> None:
        """Append ``item``. Linearization point: the compare-exchange linking it after the last node."""
        ref = self._slots.alloc(item)
        nxt, tail_cell, on_step = self._next, self._tail, self._on_step
        # RELAXED: the SEQ_CST compare-exchange that links the node publishes this store
        nxt.store((ref >> INDEX_SHIFT) & INDEX_MASK, ref & _VERSION_BITS, _RELAXED)
        guard = self._reclaimer.pin() if self._reclaimer is not None else None
        try:
            while True:
                tail = guard.protect(0, tail_cell, 0) if guard is not None else tail_cell.load(0)
                tail_index = (tail >> INDEX_SHIFT) & INDEX_MASK
                after = nxt.load(tail_index)
                if not after & SLOT_BITS:
                    # expects tail's own tagged null: fails if tail's slot was reused meanwhile
                    if nxt.compare_exchange(tail_index, tail & _VERSION_BITS, ref) == tail & _VERSION_BITS:
                        if on_step is not None:
                            on_step("enqueue:linked")
                        tail_cell.compare_exchange(0, tail, ref)  # swing; others help if we stop here
                        return
                else:
                    # help a lagging tail; fails harmlessly if tail moved (or was reused) meanwhile
                    tail_cell.compare_exchange(0, tail, after)
                self._retries += 1
        finally:
            if guard is not None:
                guard.unpin()

    def dequeue(self, default=_MISSING):
        """Remove and return the oldest item; raise IndexError (or return ``default``) if empty.

        Linearization point: the compare-exchange advancing head, or the load
        of the dummy's ``next`` that saw its own tagged null.
        """
        if self._reclaimer is not None:
            return self._dequeue_guarded(default)
        nxt, head_cell, tail_cell, payload = self._next, self._head, self._tail, self._payload
        while True:
            head = head_cell.load(0)
            head_index = (head >> INDEX_SHIFT) & INDEX_MASK
            after = nxt.load(head_index)
            if not after & SLOT_BITS:
                if after == head & _VERSION_BITS:  # head's own null: head was the last node
                    break
                continue                           # head's slot was reused: read again
            if head == tail_cell.load(0):
                tail_cell.compare_exchange(0, head, after)  # help: tail lags behind head's successor
                continue
            after_index = (after >> INDEX_SHIFT) & INDEX_MASK
            item = payload[after_index]            # validated by the exchange below
            if head_cell.compare_exchange(0, head, after) == head:
                # the new dummy keeps its item until it is freed: clearing it here could
                # clobber a later incarnation of the slot (it may be freed and reused at once)
                self._slots.free(head)
                return item
            self._retries += 1
        if default is _MISSING:
            raise IndexError("dequeue from an empty MSQueue")
        return default

    def _dequeue_guarded(self, default):
        """``dequeue`` under a reclaimer: head and its successor protected, the old dummy retired."""
        nxt, head_cell, tail_cell, payload = self._next, self._head, self._tail, self._payload
        arena = self._queue.arena
        guard = self._reclaimer.pin()
        try:
            while True:
                head = guard.protect(0, head_cell, 0)
                if arena.sanitize:
                    arena.check(head)
                head_index = (head >> INDEX_SHIFT) & INDEX_MASK
                after = guard.protect(1, nxt, head_index)
                if head != head_cell.load(0):
                    continue
                if not after & SLOT_BITS:
                    break
                if head == tail_cell.load(0):
                    tail_cell.compare_exchange(0, head, after)
                    continue
                if arena.sanitize:
                    arena.check(after)
                after_index = (after >> INDEX_SHIFT) & INDEX_MASK
                item = payload[after_index]
                if head_cell.compare_exchange(0, head, after) == head:
                    payload[after_index] = None
                    if arena.sanitize:
                        arena.mark_retired(head)
                    guard.retire(arena.free, head, key_of(head))
                    return item
                self._retries += 1
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
        nxt, head_cell, payload = self._next, self._head, self._payload
        guard = self._reclaimer.pin() if self._reclaimer is not None else None
        try:
            while True:
                head = guard.protect(0, head_cell, 0) if guard is not None else head_cell.load(0)
                after = nxt.load((head >> INDEX_SHIFT) & INDEX_MASK)
                if not after & SLOT_BITS:
                    if head == head_cell.load(0):
                        break
                    continue
                item = payload[(after >> INDEX_SHIFT) & INDEX_MASK]
                if head == head_cell.load(0):
                    return item
        finally:
            if guard is not None:
                guard.unpin()
        if default is _MISSING:
            raise IndexError("peek at an empty MSQueue")
        return default


class MSQueue:
    """Lock-free queue: enqueue, dequeue, peek, is_empty. Default scheme: counted pointers."""

    def __init__(self, max_capacity: int | None = None, reclaimer=None, name: str = "MSQueue",
                 sanitize: bool | None = None, initial_capacity: int | None = None):
        self.reclaimer = reclaimer
        extra = 1 if max_capacity is not None else 0  # +1 slot for the dummy node
        self.arena = Arena(None if max_capacity is None else max_capacity + extra, fields=("next",), name=name,
                           sanitize=sanitize, initial_capacity=initial_capacity, reclaimer=reclaimer)
        if self.arena.sanitize:
            self.arena.direct_free = reclaimer is None
        self._next = self.arena.next
        dummy = self.arena.alloc(None)
        self._next.store((dummy >> INDEX_SHIFT) & INDEX_MASK, dummy & _VERSION_BITS)
        self._head = atomic.AtomicIntArray(1)
        self._tail = atomic.AtomicIntArray(1)
        self._head.store(0, dummy)
        self._tail.store(0, dummy)
        self._handles: list = []
        self._thread_index = atomic.current_backend().thread_index

    def handle(self, on_step=None) -> _Handle:
        """This thread's handle (``enqueue``/``dequeue``/``peek`` with no per-call lookup).

        ``on_step``: a callable given the name of each named step this handle
        passes (``"enqueue:linked"``: after the link, before the tail swing); a
        new handle, for tests and the stall benchmark.
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

    def enqueue(self, item) -> None:
        """Append ``item`` (see ``_Handle.enqueue``)."""
        try:
            handle = self._handles[self._thread_index()]
        except IndexError:
            handle = None
        (handle or self.handle()).enqueue(item)

    def dequeue(self, default=_MISSING):
        """Remove and return the oldest item; IndexError (or ``default``) if empty."""
        try:
            handle = self._handles[self._thread_index()]
        except IndexError:
            handle = None
        return (handle or self.handle()).dequeue(default)

    def peek(self, default=_MISSING):
        """The oldest item without removing it; IndexError (or ``default``) if empty."""
        return self.handle().peek(default)

    def is_empty(self) -> bool:
        """True if the dummy had no successor when its next was read (see ``peek``)."""
        return self.peek(_MISSING_EMPTY) is _MISSING_EMPTY

    @property
    def cas_retries(self) -> int:
        """Compare-exchanges that lost a race, summed over threads (exact at rest)."""
        return sum(h._retries for h in list(self._handles) if h is not None)

    def to_list(self) -> list:
        """Items oldest first. Quiescent use only (tests, audits): not a snapshot."""
        items = []
        ref = self._next.load((self._head.load(0) >> INDEX_SHIFT) & INDEX_MASK)
        while ref & SLOT_BITS:
            index = (ref >> INDEX_SHIFT) & INDEX_MASK
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


_MISSING_EMPTY = object()
