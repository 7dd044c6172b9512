"""Epoch-based reclamation with crossbeam-epoch semantics.

Invariant: a retired slot is freed only once the global epoch has advanced
twice past the epoch its bag was sealed in. The global epoch advances from
``e`` to ``e + 1`` only when every pinned thread has seen ``e``, so after two
advances no thread that could have read the slot before it was unlinked is
still pinned.

    collector = EpochCollector()
    guard = collector.pin()                     # or: with collector.pin() as guard:
    try:
        ref = guard.protect(0, head, 0)         # a plain load: the pin protects every load
        ...
        guard.retire(arena.free, ref, ref)      # arena.free(ref) runs two epochs later
        guard.defer(callback)                   # any deferred cleanup
    finally:
        guard.unpin()

Cost of ``pin`` + ``unpin`` (the hot path): one thread lookup
(``thread_index()`` and a list subscript), three atomic calls (load the
global epoch, publish the local epoch, clear it) and no other Python-level
call; advancing the epoch and collecting a bounded number of ready bags run
every ``advance_every`` unpins, after the thread has unpinned (amortised).
Collecting while pinned would hold the epoch back for the whole collection,
and under oversubscription (8 threads on 2 cores) that fed back into ever
larger backlogs.

Threads register lazily on first ``pin`` and deregister when they exit; a
thread that exits while pinned (or with garbage in its bags) is unpinned by
its exit hook and its bags go to a shared orphan queue that other threads
collect, so it does not stall reclamation. A thread that stays *alive* and
pinned forever does stall it (the known limit of epochs; the hazard registry
bounds garbage instead). An arena that runs out of free slots calls
``help()`` before it grows.

Memory orders: the pin's swap, ``protect``'s load and the bag label's load
must be SEQ_CST (the ``memory="c11"`` model catches each weakened one step,
tests/test_verify_c11_orderings.py), and so must the loads of references a
structure makes while pinned; the advance's fence and CAS and the other loads
are SEQ_CST as the cheapest call (an advance's loads could be ACQUIRE while its
fence is SEQ_CST, not both weakened).
"""

from __future__ import annotations

import collections

from freeorder import atomic

from .registry import ThreadRegistry

_RELAXED, _RELEASE = int(atomic.RELAXED), int(atomic.RELEASE)
_NO_ARG = object()
LINE = 8  # int64 cells per 64-byte cache line: each thread's epoch word gets a line of its own
COLLECT_BAGS = 4  # ready bags one maintenance step frees: 4 bags per advance_every unpins keeps ahead


class EpochGuard:
    """One thread's pin state and garbage bags; re-entrant (nested pins only count)."""

    __slots__ = ("_collector", "_index", "_store", "_depth", "_bag", "_sealed", "_countdown", "retired",
                 "reclaimed")

    def __init__(self, collector: "EpochCollector", index: int):
        self._collector = collector
        self._index = index * LINE   # this thread's cell in the collector's epoch words
        self._store = collector._locals.store
        self._depth = 0
        self._bag: list = []
        self._sealed: collections.deque = collections.deque()
        self._countdown = collector.advance_every
        self.retired = 0      # counted by this thread only: no shared counter on the hot path
        self.reclaimed = 0

    def pin(self) -> "EpochGuard":
        """Pin this (already looked-up) guard again; see ``EpochCollector.pin``."""
        return self._collector._pin_guard(self)

    def unpin(self) -> None:
        """Leave one pin; the outermost unpin clears this thread's epoch word and, every
        ``advance_every`` unpins, advances and collects -- unpinned, so that work never
        holds the epoch back (collecting while pinned stalls every other thread's garbage)."""
        depth = self._depth - 1
        self._depth = depth
        if not depth:
            # RELEASE: every read made while pinned happens-before a collector that sees us unpinned
            self._store(self._index, 0, _RELEASE)
            countdown = self._countdown - 1
            self._countdown = countdown
            if not countdown:
                self._maintain()

    def __enter__(self) -> "EpochGuard":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.unpin()

    @property
    def pinned(self) -> bool:
        return self._depth > 0

    def protect(self, hazard: int, array, index: int) -> int:
        """Load a shared reference; under an epoch pin every load is protected."""
        return array.load(index)

    def retire(self, free, ref: int, key: int) -> None:
        """Hand over an unlinked slot: ``free(ref)`` runs two epochs later (``key`` is unused here).

        A full bag is sealed; it is collected by a later unpin (never while pinned)."""
        self.retired += 1
        bag = self._bag
        bag.append((free, ref))
        if len(bag) >= self._collector.bag_size:
            self._seal()

    def defer(self, fn, arg=_NO_ARG) -> None:
        """Run ``fn()`` (or ``fn(arg)``) once no pinned thread can still see what it frees."""
        bag = self._bag
        bag.append((fn, arg))
        if len(bag) >= self._collector.bag_size:
            self._seal()

    def _maintain(self) -> None:
        """Every ``advance_every`` outermost unpins: try to advance the epoch, then free at most
        ``COLLECT_BAGS`` ready bags (bounded, so no single operation pays for a backlog)."""
        self._countdown = self._collector.advance_every
        self._collector.try_advance()
        self._collect(COLLECT_BAGS)

    def _seal(self) -> None:
        if self._bag:
            # SEQ_CST, not RELAXED: a stale (older) label frees the bag one advance early, under a thread
            # pinned in the current epoch (the c11 model finds it; crossbeam fences here for the same reason)
            self._sealed.append((self._collector._global.load(), self._bag))
            self._bag = []

    def _collect(self, limit: int | None = None) -> int:
        """Free this thread's bags (at most ``limit`` of them) and orphans that are two epochs old."""
        collector = self._collector
        now = collector._global.load()
        freed = _run_ready(self._sealed, now, limit)
        if collector._orphans:
            freed += collector._collect_orphans(now)
        self.reclaimed += freed
        return freed


def _run_ready(bags: collections.deque, now: int, limit: int | None = None) -> int:
    """Run the bags sealed at epoch <= now - 2 from the front of ``bags`` (at most ``limit``)."""
    freed = 0
    while bags and bags[0][0] + 2 <= now and limit != 0:
        if limit is not None:
            limit -= 1
        _, bag = bags.popleft()
        for fn, arg in bag:
            if arg is _NO_ARG:
                fn()
            else:
                fn(arg)
        freed += len(bag)
    return freed


class EpochCollector:
    """A global epoch, one pinned-epoch word per thread, and per-thread garbage bags."""

    name = "epoch"

    def __init__(self, max_threads: int = 256, bag_size: int = 32, advance_every: int = 32):
        for option, value in (("bag_size", bag_size), ("advance_every", advance_every)):
            if type(value) is not int or value < 1:
                raise ValueError(f"{option}={value!r} must be an int >= 1")
        self.bag_size = bag_size
        self.advance_every = advance_every
        self._global = atomic.AtomicInt(0)
        # (epoch << 1) | 1 while the thread is pinned, 0 while not.
        # one cache line per thread, so pinning threads do not invalidate each other's words
        self._locals = atomic.AtomicIntArray(max_threads * LINE)
        self._retired = atomic.AtomicInt()      # totals of threads that have exited
        self._reclaimed = atomic.AtomicInt()
        self._orphans: collections.deque = collections.deque()
        self._registry = ThreadRegistry(max_threads, lambda i: EpochGuard(self, i), self._release)
        self._by_thread = self._registry.by_thread
        self._thread_index = self._registry.thread_index
        self.pin = self._make_pin()   # pin(): this thread's guard, pinned (see _make_pin)

    def _make_pin(self):
        """``pin`` as a closure over bound methods: on 3.13t every attribute lookup on the
        shared collector costs 15-30 ns, so the hot path makes none (see ``EpochCollector.pin``)."""
        by_thread, thread_index, register = self._by_thread, self._thread_index, self._registry.current
        global_load, locals_swap, relaxed = self._global.load, self._locals.swap, _RELAXED

        def pin() -> EpochGuard:
            """Pin this thread and return its guard (``with collector.pin() as guard:``).

            Linearization of the pin: the SEQ_CST swap publishing this thread's epoch.
            """
            try:
                guard = by_thread[thread_index()]
                depth = guard._depth               # AttributeError: this thread is not registered
            except (IndexError, AttributeError):
                guard = register()
                depth = guard._depth
            if depth:
                guard._depth = depth + 1
                return guard
            guard._depth = 1
            # RELAXED load: a stale global epoch only makes this pin older, which is safe (it
            # holds back reclamation a little longer); the SEQ_CST swap orders the pin before
            # every later load of a shared reference (the store-load fence crossbeam takes here).
            locals_swap(guard._index, (global_load(relaxed) << 1) | 1)
            return guard

        return pin

    def _pin_guard(self, guard: EpochGuard) -> EpochGuard:
        if guard._depth:
            guard._depth += 1
            return guard
        guard._depth = 1
        self._locals.swap(guard._index, (self._global.load(_RELAXED) << 1) | 1)  # as in pin()
        return guard

    def local(self):
        """This thread's guard, unpinned unless it is pinned already (``guard.pin()`` pins it)."""
        return self._registry.current()

    @property
    def epoch(self) -> int:
        return self._global.load()

    def try_advance(self) -> bool:
        """Advance the global epoch if every pinned thread has seen it."""
        now = self._global.load()
        # SEQ_CST fence: pairs with each pin's SEQ_CST swap, so a thread pinned before this
        # scan is seen pinned, and one pinning after it reads the advanced epoch or newer.
        atomic.fence()
        load = self._locals.load
        for i in range(0, self._registry.high * LINE, LINE):
            word = load(i)
            if word & 1 and word >> 1 != now:
                return False
        return self._global.compare_exchange(now, now + 1) == now

    def help(self) -> int:
        """Free what can be freed now (an allocator out of free slots calls this); returns slots freed."""
        return self.flush()

    def _collect_orphans(self, now: int) -> int:
        orphans = self._orphans
        freed = 0
        for _ in range(len(orphans)):
            try:
                epoch, bag = orphans.popleft()
            except IndexError:
                break
            if epoch + 2 <= now:
                freed += _run_ready(collections.deque([(epoch, bag)]), now)
            else:
                orphans.append((epoch, bag))
        return freed

    def _release(self, index: int, guard: EpochGuard) -> None:
        """Thread exit: unpin and hand the thread's garbage to the orphan queue."""
        self._locals.store(guard._index, 0, _RELEASE)  # as unpin
        guard._depth = 0
        guard._seal()
        while guard._sealed:
            self._orphans.append(guard._sealed.popleft())
        self._retired.fetch_add(guard.retired, _RELAXED)      # statistics only
        self._reclaimed.fetch_add(guard.reclaimed, _RELAXED)
        guard.retired = guard.reclaimed = 0

    def flush(self) -> int:
        """Seal this thread's bag and advance/collect as far as possible; returns slots freed.

        With no other thread pinned this frees everything retired so far.
        """
        guard = self.local()
        guard._seal()
        freed = 0
        for _ in range(3):
            self.try_advance()
            freed += guard._collect()
        return freed

    def unregister(self) -> None:
        """Give back this thread's record now, as its exit would (unpin, hand over garbage)."""
        self._registry.release_current()

    def stats(self) -> dict[str, int]:
        """Retired/reclaimed totals (exact at rest; approximate while threads run)."""
        guards = self._registry.states()
        retired = self._retired.load() + sum(g.retired for g in guards)
        reclaimed = self._reclaimed.load() + sum(g.reclaimed for g in guards)
        return {"epoch": self.epoch, "retired": retired, "reclaimed": reclaimed, "pending": retired - reclaimed}
