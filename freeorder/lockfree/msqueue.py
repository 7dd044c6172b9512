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

Memory orders: calls without an order argument are SEQ_CST, the cheapest call
on 3.13t and the same cost as ACQUIRE/ACQ_REL on x86-64 and AArch64; none of
them needs more than ACQUIRE/ACQ_REL here (``memory="c11"`` model checks:
tests/test_verify_c11_orderings.py); RELAXED operations say why they suffice.

>>> q = MSQueue()
>>> q.enqueue("a"); q.enqueue("b")
>>> q.dequeue(), q.peek(), len(q.to_list())
('a', 'b', 1)
"""

from __future__ import annotations

from freeorder import atomic
from freeorder.reclaim import key_of

from .handles import Missing, PerThreadHandles, thread_owned
from .arena import CACHE_LIMIT, INDEX_MASK, INDEX_SHIFT, MARK, REF_MASK, SLOT_BITS, VERSION_ONE, Arena, inline_slot_ops

_RELAXED = int(atomic.RELAXED)
_MISSING = Missing
_VERSION_BITS = ~(VERSION_ONE - 1)   # a reference with index and mark cleared: its tagged null


class _Handle:
    """One thread's access to a queue: ``enqueue``, ``dequeue``, ``peek`` and ``retries()``.

    The operations are closures made once per handle over bound methods and
    constants: on 3.13t (no specialising interpreter) every attribute or global
    lookup costs 15-30 ns and a closure variable a few, so the hot path looks
    nothing up. With a plain arena the slot cache is used inline (the body of
    ``ThreadSlots.alloc``/``free``); a sanitizing arena's checked ``alloc``/``free``
    are called instead.
    """

    __slots__ = ("enqueue", "dequeue", "peek", "retries")

    def __init__(self, queue: "MSQueue", on_step=None):
        if queue.reclaimer is None:
            self.enqueue, self.dequeue, self.retries = _counted_ops(queue, on_step)
        else:
            self.enqueue, self.dequeue, self.retries = _guarded_ops(queue, on_step)
        self.peek = _peek_op(queue)


def _counted_ops(queue: "MSQueue", on_step):
    """enqueue/dequeue for the counted-pointer scheme (no reclaimer: slots are freed at once)."""
    arena = queue.arena
    checked, checked_alloc, checked_free, cache, cache_pop, cache_append, refill, spill, payload = (
        inline_slot_ops(arena))
    nxt_load, nxt_store, nxt_cas = queue._next.load, queue._next.store, queue._next.compare_exchange
    head_load, head_cas = queue._head.load, queue._head.compare_exchange
    tail_load, tail_cas = queue._tail.load, queue._tail.compare_exchange
    # this thread's own copies of the constants (see thread_owned)
    shift, mask, slot_bits, version_bits, not_mark, version_one, ref_mask, cache_limit, relaxed = thread_owned(
        INDEX_SHIFT, INDEX_MASK, SLOT_BITS, _VERSION_BITS, ~MARK, VERSION_ONE, REF_MASK, CACHE_LIMIT, _RELAXED)
    retries = 0

    def enqueue(item) -> None:
        """Append ``item``. Linearization point: the compare-exchange linking it after the last node."""
        nonlocal retries
        if checked:
            ref = checked_alloc(item)
        else:                                    # ThreadSlots.alloc, inline
            try:
                ref = cache_pop()
            except IndexError:
                ref = refill(cache)
            payload[(ref >> shift) & mask] = item
        # RELAXED: the SEQ_CST compare-exchange that links the node publishes this store
        nxt_store((ref >> shift) & mask, ref & version_bits, relaxed)
        while True:
            tail = tail_load(0)
            tail_index = (tail >> shift) & mask
            after = nxt_load(tail_index)
            if not after & slot_bits:
                null = tail & version_bits
                # expects tail's own tagged null: fails if tail's slot was reused meanwhile
                if nxt_cas(tail_index, null, ref) == null:
                    if on_step is not None:
                        on_step("enqueue:linked")
                    tail_cas(0, tail, ref)       # swing; others help if we stop here
                    return
            else:
                # help a lagging tail; fails harmlessly if tail moved (or was reused) meanwhile
                tail_cas(0, tail, after)
            retries += 1

    def dequeue(default=_MISSING):
        """Remove and return the oldest item; raise IndexError (or return ``default``) if empty.

        Linearization point: the compare-exchange advancing head, or the load
        of the dummy's ``next`` that saw its own tagged null.
        """
        nonlocal retries
        while True:
            head = head_load(0)
            after = nxt_load((head >> shift) & mask)
            if not after & slot_bits:
                if after == head & version_bits:  # head's own null: head was the last node
                    break
                continue                          # head's slot was reused: read again
            if head == tail_load(0):
                tail_cas(0, head, after)          # help: tail lags behind head's successor
                continue
            item = payload[(after >> shift) & mask]   # validated by the exchange below
            if head_cas(0, head, after) == head:
                # the new dummy keeps its item until it is freed: clearing it here could
                # clobber a later incarnation of the slot (it may be freed and reused at once)
                if checked:
                    checked_free(head)
                else:                             # ThreadSlots.free, inline
                    payload[(head >> shift) & mask] = None
                    cache_append(((head & not_mark) + version_one) & ref_mask)
                    if len(cache) > cache_limit:
                        spill(cache)
                return item
            retries += 1
        if default is _MISSING:
            raise IndexError("dequeue from an empty MSQueue")
        return default

    return enqueue, dequeue, lambda: retries


def _guarded_ops(queue: "MSQueue", on_step):
    """enqueue/dequeue under a reclaimer: operations pin and protect, the old dummy is retired."""
    arena, reclaimer = queue.arena, queue.reclaimer
    slots = arena.local()
    alloc = slots.alloc
    payload, free = arena.payload, arena.free
    nxt, head_cell, tail_cell = queue._next, queue._head, queue._tail
    retries = 0

    def enqueue(item) -> None:
        nonlocal retries
        ref = alloc(item)
        # RELAXED: the SEQ_CST compare-exchange that links the node publishes this store
        nxt.store((ref >> INDEX_SHIFT) & INDEX_MASK, ref & _VERSION_BITS, _RELAXED)
        guard = reclaimer.pin()
        try:
            while True:
                tail = guard.protect(0, tail_cell, 0)
                if arena.sanitize:
                    arena.check(tail)
                tail_index = (tail >> INDEX_SHIFT) & INDEX_MASK
                after = nxt.load(tail_index)
                if tail != tail_cell.load(0):
                    continue
                if not after & SLOT_BITS:
                    if nxt.compare_exchange(tail_index, tail & _VERSION_BITS, ref) == tail & _VERSION_BITS:
                        if on_step is not None:
                            on_step("enqueue:linked")
                        tail_cell.compare_exchange(0, tail, ref)
                        return
                else:
                    tail_cell.compare_exchange(0, tail, after)
                retries += 1
        finally:
            guard.unpin()

    def dequeue(default=_MISSING):
        nonlocal retries
        guard = reclaimer.pin()
        try:
            while True:
                head = guard.protect(0, head_cell, 0)
                if arena.sanitize:
                    arena.check(head)
                after = guard.protect(1, nxt, (head >> INDEX_SHIFT) & INDEX_MASK)
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
                    payload[after_index] = None   # safe here: the slot cannot be reused while we are pinned
                    if arena.sanitize:
                        arena.mark_retired(head)
                    guard.retire(free, head, key_of(head))
                    return item
                retries += 1
        finally:
            guard.unpin()
        if default is _MISSING:
            raise IndexError("dequeue from an empty MSQueue")
        return default

    return enqueue, dequeue, lambda: retries


def _peek_op(queue: "MSQueue"):
    nxt, head_cell, payload, reclaimer = queue._next, queue._head, queue.arena.payload, queue.reclaimer

    def peek(default=_MISSING):
        """The oldest item without removing it.

        Linearization point: the re-load of head that confirms the dummy was
        still the head after its successor's item was read.
        """
        guard = reclaimer.pin() if reclaimer is not None else None
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

    return peek


class MSQueue(PerThreadHandles):
    """Lock-free queue: enqueue, dequeue, peek, is_empty. Default scheme: counted pointers.

    ``max_capacity``: most items it may ever hold (plus nodes awaiting reuse); None: grows as
    needed. Named steps (``handle(on_step=...)``): ``"enqueue:linked"``, after the link
    compare-exchange and before the tail swing.
    """

    _handle_class = _Handle

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
        self._init_handles()

    # The plain operations: one thread lookup (a C call and a subscript), then this thread's handle.
    def enqueue(self, item) -> None:
        """Append ``item``. Linearization point: the compare-exchange linking it after the last node."""
        try:
            handle = self._handles[self._thread_index()]
        except IndexError:
            handle = None
        (handle or self.handle()).enqueue(item)

    def dequeue(self, default=_MISSING):
        """Remove and return the oldest item; IndexError (or ``default``) if empty. Linearization
        point: the compare-exchange advancing head, or the load that saw the dummy's own null."""
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
