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

Memory orders: calls without an order argument are SEQ_CST, the cheapest call
on 3.13t and the same cost as ACQUIRE/ACQ_REL on x86-64 and AArch64; none of
them needs more than ACQUIRE/ACQ_REL here (``memory="c11"`` model checks:
tests/test_verify_c11_orderings.py); RELAXED operations say why they suffice.

>>> s = TreiberStack()
>>> s.push(1); s.push(2)
>>> s.pop(), s.pop(), s.pop(None)
(2, 1, None)
"""

from __future__ import annotations

from freeorder import atomic
from freeorder.reclaim import key_of

from .handles import Missing, PerThreadHandles, thread_owned
from .arena import CACHE_LIMIT, INDEX_MASK, INDEX_SHIFT, MARK, REF_MASK, VERSION_ONE, Arena, inline_slot_ops

_RELAXED = int(atomic.RELAXED)
_MISSING = Missing


class _Handle:
    """One thread's access to a stack: ``push``, ``pop``, ``peek`` and ``retries()``.

    The operations are closures made once per handle over bound methods and
    constants: on 3.13t (no specialising interpreter) every attribute or global
    lookup costs 15-30 ns and a closure variable a few, so the hot path looks
    nothing up. With a plain arena the slot cache is used inline (the body of
    ``ThreadSlots.alloc``/``free``); a sanitizing arena's checked versions are called.
    """

    __slots__ = ("push", "pop", "peek", "retries")

    def __init__(self, stack: "TreiberStack", on_step=None):
        self.push, self.pop, self.peek, self.retries = _ops(stack, on_step)


def _ops(stack: "TreiberStack", on_step):
    arena, reclaimer, free = stack.arena, stack.reclaimer, stack.arena.free
    checked, checked_alloc, checked_free, cache, cache_pop, cache_append, refill, spill, payload = (
        inline_slot_ops(arena))
    head_cell = stack._head
    head_load, head_cas = head_cell.load, head_cell.compare_exchange
    nxt_load, nxt_store = stack._next.load, stack._next.store
    # this thread's own copies of the constants (see thread_owned)
    shift, mask, relaxed, not_mark, version_one, ref_mask, cache_limit = thread_owned(
        INDEX_SHIFT, INDEX_MASK, _RELAXED, ~MARK, VERSION_ONE, REF_MASK, CACHE_LIMIT)
    retries = 0

    def push(item) -> None:
        """Push ``item``. Linearization point: the successful compare-exchange of head."""
        nonlocal retries
        if checked:
            ref = checked_alloc(item)
        else:                                    # ThreadSlots.alloc, inline
            try:
                ref = cache_pop()
            except IndexError:
                ref = refill(cache)
            payload[(ref >> shift) & mask] = item
        index = (ref >> shift) & mask
        head = head_load(0, relaxed)             # RELAXED: only a guess; the compare-exchange checks it
        while True:
            # RELAXED: the SEQ_CST compare-exchange publishing the node orders this store before it
            nxt_store(index, head, relaxed)
            witnessed = head_cas(0, head, ref)
            if witnessed == head:
                return
            retries += 1
            head = witnessed

    def pop(default=_MISSING):
        """Pop the top item; raise IndexError (or return ``default``) if empty.

        Linearization point: the successful compare-exchange of head, or the
        load that saw head null.
        """
        nonlocal retries
        head = head_load(0)
        while head:
            if on_step is not None:
                on_step("pop:read-head")
            index = (head >> shift) & mask
            # may read a slot freed and reused since: then head moved on and the exchange fails
            witnessed = head_cas(0, head, nxt_load(index))
            if witnessed == head:
                item = payload[index]            # ours now: read after the exchange
                if checked:
                    checked_free(head)
                else:                            # ThreadSlots.free, inline
                    payload[index] = None
                    cache_append(((head & not_mark) + version_one) & ref_mask)
                    if len(cache) > cache_limit:
                        spill(cache)
                return item
            retries += 1
            head = witnessed
        if default is _MISSING:
            raise IndexError("pop from an empty TreiberStack")
        return default

    def pop_guarded(default=_MISSING):
        """``pop`` under a reclaimer: the head is protected, the popped slot retired."""
        nonlocal retries
        guard = reclaimer.pin()
        try:
            head = guard.protect(0, head_cell, 0)
            while head:
                if on_step is not None:
                    on_step("pop:read-head")
                if checked:
                    arena.check(head)
                index = (head >> shift) & mask
                witnessed = head_cas(0, head, nxt_load(index))
                if witnessed == head:
                    item = payload[index]
                    if checked:
                        arena.mark_retired(head)
                    guard.retire(free, head, key_of(head))
                    return item
                retries += 1
                head = guard.protect(0, head_cell, 0)
        finally:
            guard.unpin()
        if default is _MISSING:
            raise IndexError("pop from an empty TreiberStack")
        return default

    def peek(default=_MISSING):
        """The top item without removing it. Linearization point: the load of head
        (re-confirmed after the item was read, so a reused slot is never reported)."""
        guard = reclaimer.pin() if reclaimer is not None else None
        try:
            while True:
                head = guard.protect(0, head_cell, 0) if guard is not None else head_load(0)
                if not head:
                    break
                if on_step is not None:
                    on_step("peek:read-head")
                if checked and guard is not None:
                    arena.check(head)
                item = payload[(head >> shift) & mask]
                if head_load(0) == head:         # the slot was not popped (and reused) meanwhile
                    return item
        finally:
            if guard is not None:
                guard.unpin()
        if default is _MISSING:
            raise IndexError("peek at an empty TreiberStack")
        return default

    return push, (pop if reclaimer is None else pop_guarded), peek, lambda: retries


class TreiberStack(PerThreadHandles):
    """Lock-free stack: push, pop, peek, is_empty. Default scheme: counted pointers (see module doc).

    ``max_capacity``: most slots (items plus nodes awaiting reuse) it may ever hold; None: grows
    as needed. Named steps (``handle(on_step=...)``): ``"pop:read-head"`` and ``"peek:read-head"``,
    after reading the head (before using it).
    """

    _handle_class = _Handle

    def __init__(self, max_capacity: int | None = None, reclaimer=None, name: str = "TreiberStack",
                 sanitize: bool | None = None, initial_capacity: int | None = None):
        self.reclaimer = reclaimer
        self.arena = Arena(max_capacity, fields=("next",), name=name, sanitize=sanitize,
                           initial_capacity=initial_capacity, reclaimer=reclaimer)
        if self.arena.sanitize:
            self.arena.direct_free = reclaimer is None
        self._next = self.arena.next
        self._head = atomic.AtomicIntArray(1)
        self._init_handles()

    # The plain operations: one thread lookup (a C call and a subscript), then this thread's handle.
    def push(self, item) -> None:
        """Push ``item``. Linearization point: the successful compare-exchange of head."""
        try:
            handle = self._handles[self._thread_index()]
        except IndexError:
            handle = None
        (handle or self.handle()).push(item)

    def pop(self, default=_MISSING):
        """Pop the top item; IndexError (or ``default``) if empty. Linearization point: the
        successful compare-exchange of head, or the load that saw head null."""
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
