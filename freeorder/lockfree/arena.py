"""Arena: node slots addressed by int, with versioned references, that grows.

A node is a slot index into an arena. Its int fields live in
``AtomicIntArray``s (one per field name, ``arena.<field>[index]``) and its
payload, a Python object, in ``arena.payload[index]``: written before the
slot is published (with a release or SEQ_CST store of its reference) and read
after the reference is loaded.

A reference is one int64, laid out by the constants below (named here once;
every module decodes references with them)::

    ref = version << VERSION_SHIFT | index << INDEX_SHIFT | mark

``index`` is in ``1..capacity`` (0 is the null reference), ``mark`` (bit
``MARK``) a bit an algorithm may use (skiplist deletion, a dead value).
A freed slot comes back with its version bumped (``next_incarnation``), so a
compare-exchange holding a reference to an earlier incarnation fails: no ABA.
Versions live only in references (and, in sanitizer mode, in a version array
the sanitizer checks): the fast path keeps no per-slot version cell.

Free slots, fastest first:

1. this thread's **cache**, a plain list of references (no atomics; a thread
   reuses the slots it freed, LIFO, so they are warm);
2. the **shared free chain**, a Treiber stack of slots threaded through
   ``_free_next``; its head is a full reference, whose version is its ABA tag.
   A cache past ``CACHE_LIMIT`` spills half of itself onto it with one
   compare-exchange; an empty cache pops up to half that many with one
   compare-exchange (after walking their links);
3. **helping reclamation** (only once the initial capacity is handed out):
   the structure's reclaimer (``Arena.reclaimer``) advances its epoch,
   collects this thread's and orphaned garbage, scans hazards -- the frees
   land in this thread's cache;
4. **fresh slots**: the bump counter hands out a batch of never-used slots,
   growing the arena past ``capacity`` if needed (its atomic arrays reserve
   address space up to ``max_capacity``, pages committed only when touched,
   and ``grow`` moves no cell; the payload list grows with the slots handed
   out) without stopping any other thread;
5. at ``max_capacity`` only: free slots other threads hold in their caches.

``ArenaExhausted`` is raised only when ``max_capacity`` slots are in use
(``DEFAULT_MAX_CAPACITY`` when none is given: the address space reserved).
A new arena costs a few KiB of memory whatever its capacity.

Where CPython still serialises: ``payload[index] = x`` takes the list's
per-object lock on 3.13t (short, never held across our code), and extending
the payload list on growth takes it once per chunk.

Memory orders: calls without an order argument are SEQ_CST, the cheapest call
on 3.13t and the same cost as ACQUIRE/ACQ_REL on x86-64 and AArch64; none of
them needs more than ACQUIRE/ACQ_REL here (``memory="c11"`` model checks:
tests/test_verify_c11_orderings.py); RELAXED operations say why they suffice.
"""

from __future__ import annotations

from freeorder import atomic
from freeorder.reclaim import TAG_BIT, sanitizer

_RELAXED = int(atomic.RELAXED)

# ---- reference layout: the one place it is defined --------------------------------------
NULL = 0
MARK = 1                                   # the mark bit
INDEX_SHIFT = 1                            # index bits start above the mark
INDEX_BITS = 31
INDEX_MASK = (1 << INDEX_BITS) - 1         # after shifting by INDEX_SHIFT
VERSION_SHIFT = 32
VERSION_ONE = 1 << VERSION_SHIFT           # add to a reference: its next incarnation
VERSION_MASK = (1 << 31) - 1               # versions wrap at 2**31 so references stay >= 0
REF_MASK = (1 << 63) - 1                   # drops the carry out of a wrapping version
UNVERSIONED = VERSION_ONE - 1              # index and mark bits of a reference
SLOT_BITS = INDEX_MASK << INDEX_SHIFT      # a reference's index field, in place
MAX_CAPACITY = INDEX_MASK

DEFAULT_INITIAL_CAPACITY = 1 << 16         # address space: pages are committed as slots are first used
DEFAULT_MAX_CAPACITY = 1 << 28             # 256 Mi slots (2 GiB of address space per field, not memory)
CACHE_LIMIT = 128                          # a thread keeps at most this many free slots to itself
BUMP_BATCH = 32                            # fresh slots a thread takes at once

assert MARK == 1 << (INDEX_SHIFT - 1) and INDEX_SHIFT + INDEX_BITS == VERSION_SHIFT
assert MARK == TAG_BIT  # reclaimers' key_of(ref) clears exactly the mark


class ArenaExhausted(MemoryError):
    """Every slot up to the arena's ``max_capacity`` is in use or awaiting reclamation."""


def make_ref(index: int, version: int, mark: int = 0) -> int:
    return (version << VERSION_SHIFT) | (index << INDEX_SHIFT) | mark


def ref_index(ref: int) -> int:
    return (ref >> INDEX_SHIFT) & INDEX_MASK


def ref_version(ref: int) -> int:
    return ref >> VERSION_SHIFT


def is_marked(ref: int) -> bool:
    return bool(ref & MARK)


def marked(ref: int) -> int:
    return ref | MARK


def unmarked(ref: int) -> int:
    return ref & ~MARK


def next_incarnation(ref: int) -> int:
    """The reference the slot of ``ref`` has once freed: same index, version + 1 (wrapping), unmarked."""
    return ((ref & ~MARK) + VERSION_ONE) & REF_MASK


class Arena:
    """A growable pool of node slots with int fields and a payload each.

    ``Arena(fields=("next",), initial_capacity=1024, max_capacity=None)``;
    ``Arena(8)`` is an arena of at most 8 slots (the positional argument is
    ``max_capacity``). With ``sanitize=True`` (or ``FREEORDER_SANITIZE=1``)
    the constructor returns a :class:`~freeorder.lockfree.arena_sanitizer.SanitizingArena`.
    """

    sanitize = False

    def __new__(cls, max_capacity: int | None = None, fields: tuple[str, ...] = (), name: str = "arena",
                sanitize: bool | None = None, initial_capacity: int | None = None, reclaimer=None):
        if cls is Arena and (sanitizer.enabled_by_environment() if sanitize is None else sanitize):
            cls = _sanitizing_arena_class()
        return super().__new__(cls)

    def __init__(self, max_capacity: int | None = None, fields: tuple[str, ...] = (), name: str = "arena",
                 sanitize: bool | None = None, initial_capacity: int | None = None, reclaimer=None):
        explicit = max_capacity is not None
        max_capacity = DEFAULT_MAX_CAPACITY if max_capacity is None else max_capacity
        if type(max_capacity) is not int or not 1 <= max_capacity <= MAX_CAPACITY:
            raise ValueError(f"max_capacity={max_capacity!r} must be an int in 1..{MAX_CAPACITY}")
        if initial_capacity is None:
            initial_capacity = min(DEFAULT_INITIAL_CAPACITY, max_capacity)
        if type(initial_capacity) is not int or not 1 <= initial_capacity <= max_capacity:
            raise ValueError(f"initial_capacity={initial_capacity!r} must be an int in 1..max_capacity={max_capacity}")
        self.name = name
        self.max_capacity = max_capacity
        self.explicit_max = explicit
        self.initial_capacity = initial_capacity
        self.fields = tuple(fields)
        self.reclaimer = reclaimer
        size, reserve = initial_capacity + 1, max_capacity + 1  # slot 0 is the null reference
        for field in self.fields:
            if hasattr(self, field):
                raise ValueError(f"field name {field!r} clashes with an Arena attribute")
            setattr(self, field, atomic.AtomicIntArray(size, reserve=reserve))
        # grows with the slots handed out, not the capacity. A plain list, except under the model
        # checker, whose backend makes it a NonAtomicList (payloads are checked for data races)
        self.payload: list = getattr(atomic.current_backend(), "NonAtomicList", list)([None])
        self._free_next = atomic.AtomicIntArray(size, reserve=reserve)
        self._free_head = atomic.AtomicInt(0)      # reference of the top free slot, or 0
        self._bump = atomic.AtomicInt(1)           # next never-used index
        self._capacity = atomic.AtomicInt(initial_capacity)
        self._thread_index = atomic.current_backend().thread_index
        self._locals: list = []                    # thread index -> that thread's ThreadSlots

    def __repr__(self) -> str:
        return f"Arena({self.name!r}, capacity={self.capacity}, max_capacity={self.max_capacity})"

    # -- allocation -------------------------------------------------------

    def local(self) -> "ThreadSlots":
        """This thread's allocator: ``slots.alloc(payload)`` / ``slots.free(ref)`` with no lookup.

        Hot paths hold it for the length of an operation (or a per-thread handle holds it for
        good: it stays valid for whichever thread later gets the same thread index).
        """
        index = self._thread_index()
        try:
            slots = self._locals[index]
        except IndexError:
            slots = None
        if slots is None:
            locals_ = self._locals
            if len(locals_) <= index:
                locals_.extend([None] * (index + 1 - len(locals_)))
            # made by this thread, so its reference count is this thread's own on 3.13t
            slots = locals_[index] = self._slots_class(self)
        return slots

    def alloc(self, payload=None) -> int:
        """Take a free slot, store ``payload`` in it, and return its reference.

        Lock-free: this thread's cache, else ``refill``. The slot is private to
        the caller until it publishes the reference.
        """
        return self.local().alloc(payload)

    def free(self, ref: int) -> None:
        """Give a slot back (reclaimers, or counted-pointer structures); its next incarnation is reusable."""
        self.local().free(ref)

    def refill(self, cache: list) -> int:
        """Slow path of an allocation from an empty ``cache``: returns a free reference.

        Takes from the shared free chain, else helps reclamation, else takes
        fresh slots (growing the arena), else -- at ``max_capacity`` -- takes
        free slots other threads hold in their caches; only then raises
        ``ArenaExhausted``.
        """
        if (self._take_chain(cache) or self._help_reclaim(cache) or self._take_fresh(cache)
                or self._steal(cache)):
            return cache.pop()
        raise ArenaExhausted(
            f"arena {self.name!r} is exhausted: all {self.max_capacity} slots are in use "
            "or awaiting reclamation"
        )

    def spill(self, cache: list) -> None:
        """Move half of ``cache`` onto the shared free chain (one compare-exchange).

        Takes the references off with ``pop`` (each one step under CPython's list
        lock), so a thief emptying this cache at the same time never gets one too.
        """
        moving = []
        for _ in range(len(cache) // 2):
            try:
                moving.append(cache.pop())
            except IndexError:
                break
        if not moving:
            return
        nxt = self._free_next
        # link the batch: each slot names the next one; the last will name the old head
        for i in range(len(moving) - 1):
            nxt.store((moving[i] >> INDEX_SHIFT) & INDEX_MASK, moving[i + 1], _RELAXED)
        last, first = (moving[-1] >> INDEX_SHIFT) & INDEX_MASK, moving[0]
        head_cell = self._free_head
        head = head_cell.load(_RELAXED)
        while True:
            # RELAXED link store: the SEQ_CST compare-exchange below publishes it (and the batch's links)
            nxt.store(last, head, _RELAXED)
            witnessed = head_cell.compare_exchange(head, first)
            if witnessed == head:
                return
            head = witnessed

    def _steal(self, cache: list) -> bool:
        """At ``max_capacity``: take free references out of other threads' caches.

        Rare (only a full arena gets here). Safe because each ``list.pop`` is one
        step under CPython's per-list lock, and owners only ever ``pop``, ``append``
        and ``extend`` their caches.
        """
        for slots in list(self._locals):
            if slots is None or slots.cache is cache:
                continue
            other = slots.cache
            while len(cache) < CACHE_LIMIT // 2:
                try:
                    cache.append(other.pop())
                except IndexError:
                    break
        return bool(cache)

    def _take_chain(self, cache: list) -> bool:
        """Pop up to ``CACHE_LIMIT // 2`` slots off the shared free chain into ``cache``.

        Walks that many links from the head it read, then swings the head past
        them with one compare-exchange. Pushes change only the head, so if the
        head is unchanged (same incarnation: versions rule out ABA) the links
        walked are unchanged too; otherwise what was read is dropped and it retries.
        """
        head_cell, load = self._free_head, self._free_next.load
        head = head_cell.load()
        want = CACHE_LIMIT // 2
        while head:
            taken, ref = [head], head
            # RELAXED link loads: validated by the compare-exchange; the SEQ_CST head load
            # ordered us after the spill that published them
            ref = load((ref >> INDEX_SHIFT) & INDEX_MASK, _RELAXED)
            while ref and len(taken) < want:
                taken.append(ref)
                ref = load((ref >> INDEX_SHIFT) & INDEX_MASK, _RELAXED)
            witnessed = head_cell.compare_exchange(head, ref)
            if witnessed == head:
                taken.reverse()       # the cache pops from its end: hand out the chain's top first
                cache.extend(taken)
                return True
            head = witnessed
        return False

    def _help_reclaim(self, cache: list) -> bool:
        """Let the reclaimer free what it can now; its frees by this thread land in ``cache``."""
        reclaimer = self.reclaimer
        if reclaimer is None or not self._bump_exhausted():
            return False
        reclaimer.help()
        return bool(cache) or self._take_chain(cache)

    def _bump_exhausted(self) -> bool:
        """True when taking fresh slots would grow the arena (reclamation is tried first)."""
        return self._bump.load(_RELAXED) + BUMP_BATCH > self._capacity.load(_RELAXED) + 1

    def _take_fresh(self, cache: list) -> bool:
        """Take up to ``BUMP_BATCH`` never-used slots, growing the arena if needed."""
        bump, limit = self._bump, self.max_capacity
        first = bump.fetch_add(BUMP_BATCH)
        if first > limit:
            bump.fetch_sub(BUMP_BATCH)
            return False
        end = min(first + BUMP_BATCH, limit + 1)   # exclusive
        if end - 1 > self._capacity.load():
            self._grow(end - 1)
        payload = self.payload
        if len(payload) < end:
            # at least double (amortised); concurrent extenders may both extend: harmless slack.
            # CPython's list lock makes each extend atomic; readers of other slots go on meanwhile
            payload.extend([None] * max(end - len(payload), len(payload)))
        # fresh slots start at version 0; hand them out lowest index first
        cache.extend(range((end - 1) << INDEX_SHIFT, (first - 1) << INDEX_SHIFT, -(1 << INDEX_SHIFT)))
        return True

    def _grow(self, needed: int) -> None:
        """Make slots ``1..needed`` usable: at least double, within ``max_capacity``."""
        capacity = self._capacity.load()
        target = min(self.max_capacity, max(needed, 2 * capacity))
        for field in self.fields:
            getattr(self, field).grow(target + 1)
        self._free_next.grow(target + 1)
        self._grow_extra(target + 1)
        while capacity < target:               # fetch-max: the capacity never shrinks
            capacity = self._capacity.compare_exchange(capacity, target)
            if capacity >= target:
                break

    def _grow_extra(self, length: int) -> None:
        """Grow arrays a subclass keeps beside the fields (the sanitizer's)."""

    # -- inspection -------------------------------------------------------

    @property
    def capacity(self) -> int:
        """Slots usable now (grows up to ``max_capacity``)."""
        return self._capacity.load()

    @property
    def peak(self) -> int:
        """Slots ever handed out: free slots are reused before fresh ones, so this bounds the
        most slots in use at once, plus what per-thread caches held."""
        return min(self._bump.load(), self.max_capacity + 1) - 1

    def free_slots(self) -> int:
        """Quiescent: slots handed out and given back (in caches or the shared chain)."""
        n = sum(len(slots.cache) for slots in self._locals if slots is not None)
        head, load = self._free_head.load(), self._free_next.load
        while head:
            n += 1
            head = load((head >> INDEX_SHIFT) & INDEX_MASK)
        return n

    @property
    def in_use(self) -> int:
        """Quiescent: slots allocated and not yet freed (live or awaiting reclamation)."""
        return self.peak - self.free_slots()

    def walk(self, ref: int, next_field: str = "next") -> tuple[list[int], int]:
        """Quiescent: follow ``next_field`` from ``ref``; returns (slot indexes in order, last ref).

        Raises AssertionError on a cycle, an index outside the arena, or (sanitizer) a stale reference.
        """
        nxt = getattr(self, next_field)
        order: list[int] = []
        seen: set[int] = set()
        last = ref
        bound = self.peak
        while ref & SLOT_BITS:
            index = (ref >> INDEX_SHIFT) & INDEX_MASK
            if index > bound:
                raise AssertionError(f"arena {self.name!r}: reference {ref:#x} names slot {index}, never allocated")
            self._check_reachable(ref)
            if index in seen:
                raise AssertionError(f"arena {self.name!r}: cycle through slot {index}")
            seen.add(index)
            order.append(index)
            last = ref
            ref = nxt.load(index)
        return order, last

    def _check_reachable(self, ref: int) -> None:  # noqa: ARG002
        """Sanitizer hook: a reachable reference must be current."""

    def assert_no_leaks(self, reachable) -> None:
        """Sanitizer (quiescent): raise if a live slot is not in ``reachable``; a no-op otherwise."""


def _sanitizing_arena_class():
    from .arena_sanitizer import SanitizingArena  # imported late: it subclasses Arena

    return SanitizingArena


class ThreadSlots:
    """One thread's allocator for one arena: its cache of free references.

    Invariant: every reference in ``cache`` names a free slot's next
    incarnation, and is handed out once. Only the thread holding this thread
    index adds to ``cache``; others take from it only when the arena is full
    (``Arena._steal``), each take one ``list.pop`` under CPython's list lock.
    """

    __slots__ = ("arena", "cache", "_payload")

    def __init__(self, arena: Arena):
        self.arena = arena
        self.cache: list = []
        self._payload = arena.payload

    def alloc(self, payload=None) -> int:
        """A free slot holding ``payload``; its reference (the slot is the caller's until published)."""
        try:
            ref = self.cache.pop()
        except IndexError:
            ref = self.arena.refill(self.cache)
        # the payload list only grows in place, and before any slot past its old end is handed out
        self._payload[(ref >> INDEX_SHIFT) & INDEX_MASK] = payload
        return ref

    def free(self, ref: int) -> None:
        """Give ``ref``'s slot back: its next incarnation goes to this thread's cache."""
        self._payload[(ref >> INDEX_SHIFT) & INDEX_MASK] = None
        cache = self.cache
        cache.append(((ref & ~MARK) + VERSION_ONE) & REF_MASK)
        if len(cache) > CACHE_LIMIT:
            self.arena.spill(cache)


Arena._slots_class = ThreadSlots


def inline_slot_ops(arena: Arena) -> tuple:
    """What a hot path binds, once per thread, to inline this thread's ``ThreadSlots``:
    ``(checked, checked_alloc, checked_free, cache, cache_pop, cache_append, refill, spill, payload)``.

    With ``checked`` (a sanitizing arena) the hot path must call ``checked_alloc``/``checked_free``;
    otherwise it repeats the bodies of ``ThreadSlots.alloc``/``free`` on the bound pieces.
    """
    slots = arena.local()
    cache = slots.cache
    return (arena.sanitize, slots.alloc, slots.free, cache, cache.pop, cache.append, arena.refill, arena.spill,
            arena.payload)
