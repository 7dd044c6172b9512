"""The C11 memory model of ``verify.model(body, memory="c11")``.

An operational model in the style of loom (``loom::rt``) and CDSChecker:
the scheduler still runs one thread at a time, but an atomic load no longer
returns "the" value of its cell. Each atomic location keeps its last
``HISTORY`` stores (loom keeps 7) in modification order (mo), each store
(``Msg``) with its writer's vector clock; a load may return any store that
happens-before and coherence do not hide from it, and the explorer branches
on which one (a *memory choice*, recorded in the schedule as ``r<k>``).

Per thread (``ThreadMem``): a vector clock ``vc`` (happens-before), the
clock of its last release fence ``rel``, and ``acq``, the join of what its
relaxed loads read (what an acquire fence takes).

The rules, with the C11 clause each implements:

- **Coherence** (CoRR, CoWR, CoRW, CoWW): a thread may not read, or place a
  store, before the mo-newest store that it has written or read, or that
  happens-before it, or that was read by a load that happens-before it
  (``Msg.seen``: each thread's clock when it first read or wrote the store).
- **Release/acquire**: a RELEASE (or stronger) store carries its writer's
  clock (``Msg.sync``); an ACQUIRE (or stronger) load that reads it joins that
  clock. A RELAXED store carries the clock of its thread's last release fence
  (fence-to-load and fence-to-fence synchronisation); a RELAXED load adds
  ``sync`` to ``acq``, which a later acquire fence joins.
- **Read-modify-writes** read the mo-newest store and are placed right after
  it (atomicity); their store carries the ``sync`` of the store they read
  (release sequences, C++20: continued by RMWs only), joined with their own
  release. A failed compare-exchange reads the newest store with the failure order.
- **SEQ_CST**: the total order S is the execution order of SEQ_CST
  operations. A SEQ_CST load reads the last SEQ_CST store to its location,
  or a later store, or a non-SEQ_CST store that does not happen-before that
  last SEQ_CST store ([atomics.order] p3); a SEQ_CST store goes after every
  SEQ_CST store to its location. After a thread's SEQ_CST fence X it reads
  (or stores after) the last SEQ_CST store that preceded X (p4), and every
  store seen by anything that happens-before a SEQ_CST fence preceding X
  (C++20/RC11: the fences share one view, ``Memory.sc_view``, as in the
  promising semantics); a SEQ_CST access likewise respects every store seen
  before any SEQ_CST fence that preceded it (p5). A SEQ_CST fence is also an
  ACQ_REL fence.
- **Plain stores may go anywhere after the thread's coherence floor** in mo
  (a memory choice ``w<k>``, k = places before the end), but never between
  an RMW and the store it read; this is what 2+2W needs.
- **Non-atomic locations** (arena payloads, ``NonAtomicList``): each keeps
  its last write's (thread, clock). Two writes not ordered by
  happens-before are a data race: the execution fails at once. A read not
  ordered after the last write returns ``Racy``, the model's undefined value
  (LLVM's ``undef``): using it (comparing, hashing, truth-testing, arithmetic)
  raises ``DataRace``; code that throws it away (a speculative read that a
  compare-exchange then invalidates, as Michael and Scott's dequeue does) is
  fine, as it is in Python, where a list item read is atomic. A write after
  an unordered read is C11's other data race; in Python it can only matter
  if the read could return the later write (load buffering, which the model
  does not produce), so it is reported only with ``strict_races=True``
  (which fails speculative reads too).

Where the model differs from C11 (each difference makes it explore fewer
executions than C11 allows, never more):

- No out-of-thin-air values and no load buffering: a load reads a store
  already executed, so ``po ∪ rf`` is acyclic (RC11's choice, Lahav et al.
  2017). The LB litmus test's weak outcome is never produced.
- S and the order of read-modify-writes follow the execution order; an RMW
  never reads a stale store (C11 lets it read any store no other RMW has
  read), and a failed compare-exchange reads the newest store.
- Only the last ``HISTORY`` stores of a location can be read; a SEQ_CST load
  whose last SEQ_CST store has left the history is constrained by coherence only.
- SEQ_CST accesses order only through the p3/p5 rules above: they do not act
  as fences for other locations (C++20's full ``psc`` relation is not built).
- A weak compare-exchange never fails spuriously; the consume order does not exist here.
- A spawned thread's start and a join create happens-before, as C11 threads do;
  objects created inside the execution start with their creator's clock.
"""

from __future__ import annotations

from freeorder.atomic._orders import ACQ_REL, ACQUIRE, RELEASE, SEQ_CST

from .execution import DataRace

HISTORY = 7  # stores kept per atomic location (loom's MAX_ATOMIC_HISTORY)
_EMPTY: list = []


def join(into: list, other: list) -> None:
    """Vector clock join, in place: ``into = max(into, other)`` entrywise."""
    n = len(other)
    if len(into) < n:
        into.extend([0] * (n - len(into)))
    for i in range(n):
        if other[i] > into[i]:
            into[i] = other[i]


def covers(vc: list, tid: int, stamp: int) -> bool:
    """Whether an event of thread ``tid`` at clock ``stamp`` happens-before a thread with clock ``vc``.

    ``tid`` -1 is the world before the execution: it happens-before everything.
    """
    return tid < 0 or (tid < len(vc) and vc[tid] >= stamp)


def _acquires(order: int) -> bool:
    return order == ACQUIRE or order == ACQ_REL or order == SEQ_CST


def _releases(order: int) -> bool:
    return order == RELEASE or order == ACQ_REL or order == SEQ_CST


class Msg:
    """One store in a location's history."""

    __slots__ = ("value", "tid", "stamp", "clock", "sync", "sc", "sidx", "seen", "rmw")

    def __init__(self, value: int, tid: int, stamp: int, sync: list, sc: bool = False, sidx: int = -1,
                 clock: list | None = None, rmw: bool = False):
        self.value = value
        self.tid = tid  # writer; -1: the value the location had when the execution began
        self.stamp = stamp  # the writer's own clock entry at the store
        self.clock = clock  # the writer's whole clock (SEQ_CST stores only: for the p3 rule)
        self.sync = sync  # what an acquire that reads this store joins
        self.sc = sc
        self.sidx = sidx  # position in S (SEQ_CST stores)
        self.seen = {tid: stamp} if tid >= 0 else {}  # thread -> its clock when it first read/wrote this
        self.rmw = rmw  # an RMW: it read the store just before it in mo (nothing may go between)


class Loc:
    """One atomic location: its last ``HISTORY`` stores, oldest first in modification order."""

    __slots__ = ("msgs",)

    def __init__(self, value: int, tid: int, stamp: int):
        self.msgs = [Msg(value, tid, stamp, _EMPTY)]


class ThreadMem:
    """One model thread's view: clocks and SEQ_CST fence state."""

    __slots__ = ("tid", "vc", "rel", "acq", "fence_s", "fence_view")

    def __init__(self, tid: int, vc: list):
        self.tid = tid
        self.vc = vc
        self.rel = _EMPTY  # clock at the last release fence
        self.acq: list = []  # join of the sync clocks its relaxed loads read
        self.fence_s = -1  # S position of its last SEQ_CST fence
        self.fence_view: list = []  # the SEQ_CST view (Memory.sc_view) taken at its last SEQ_CST fence


class Memory:
    """The C11 state of one execution: S, the SEQ_CST fences, the threads' views."""

    def __init__(self, history: int = HISTORY, strict_races: bool = False):
        self.history = history
        self.strict_races = strict_races
        self.sc_count = 0  # operations in S so far
        # the join of the clocks of every thread at its SEQ_CST fences so far: a store seen
        # (read or written) within it is seen by whoever takes a SEQ_CST fence or access later
        self.sc_view: list = []

    # -- threads --
    def new_thread(self, tid: int, parent: ThreadMem | None) -> ThreadMem:
        vc = [] if parent is None else list(parent.vc)
        if len(vc) <= tid:
            vc.extend([0] * (tid + 1 - len(vc)))
        vc[tid] = 1
        if parent is not None:
            parent.vc[parent.tid] += 1  # the spawn happens-before the child; later steps do not
        return ThreadMem(tid, vc)

    def joined(self, t: ThreadMem, child: ThreadMem) -> None:
        """``t`` joined ``child``: everything the child did happens-before t's next step."""
        join(t.vc, child.vc)

    # -- the floor: the oldest store coherence and SEQ_CST fences let thread t read or write after --
    def _floor(self, t: ThreadMem, msgs: list, sc: bool) -> int:
        vc, ff, fs = t.vc, t.fence_view, t.fence_s
        gv = self.sc_view if sc else _EMPTY
        nvc, nff, ngv = len(vc), len(ff), len(gv)
        for i in range(len(msgs) - 1, 0, -1):
            m = msgs[i]
            for u, c in m.seen.items():
                # coherence: seen by t or by something that happens-before t; or by something
                # before a SEQ_CST fence preceding t's last one (RC11 psc_F); or, for a SEQ_CST
                # access, before any SEQ_CST fence so far
                if (u < nvc and vc[u] >= c) or (u < nff and ff[u] >= c) or (u < ngv and gv[u] >= c):
                    return i
            if m.sc and m.sidx < fs:  # p4: the last SEQ_CST store before t's SEQ_CST fence
                return i
        return 0

    @staticmethod
    def _last_sc(msgs: list) -> int:
        for i in range(len(msgs) - 1, -1, -1):
            if msgs[i].sc:
                return i
        return -1

    def readable(self, t: ThreadMem, loc: Loc, order: int) -> list[int]:
        """Indexes (oldest first) of the stores a load by ``t`` with ``order`` may read."""
        msgs = loc.msgs
        sc = order == SEQ_CST
        lo = self._floor(t, msgs, sc)
        if not sc:
            return list(range(lo, len(msgs)))
        last = self._last_sc(msgs)
        if last < 0:
            return list(range(lo, len(msgs)))
        lc = msgs[last].clock
        return [i for i in range(lo, len(msgs))
                if i >= last or (not msgs[i].sc and not covers(lc, msgs[i].tid, msgs[i].stamp))]

    def places(self, t: ThreadMem, loc: Loc, order: int) -> list[int]:
        """Positions (lowest first) where a plain store by ``t`` with ``order`` may enter mo."""
        msgs = loc.msgs
        sc = order == SEQ_CST
        lo = self._floor(t, msgs, sc)
        if sc:
            lo = max(lo, self._last_sc(msgs))
        n = len(msgs)
        return [p for p in range(lo + 1, n + 1) if p == n or not msgs[p].rmw]

    # -- operations --
    def load(self, t: ThreadMem, loc: Loc, index: int, order: int) -> int:
        """``t`` reads ``loc.msgs[index]`` (one of ``readable``); returns its value."""
        m = loc.msgs[index]
        stamp = t.vc[t.tid]
        if t.tid not in m.seen:
            m.seen[t.tid] = stamp
        if m.sync:
            join(t.vc if _acquires(order) else t.acq, m.sync)
        if order == SEQ_CST:
            self.sc_count += 1
        t.vc[t.tid] = stamp + 1
        return m.value

    def _trim(self, loc: Loc) -> None:
        if len(loc.msgs) > self.history:
            del loc.msgs[0]

    def store(self, t: ThreadMem, loc: Loc, place: int, value: int, order: int) -> None:
        """``t`` stores ``value`` at mo position ``place`` (one of ``places``)."""
        stamp = t.vc[t.tid]
        sc = order == SEQ_CST
        m = Msg(value, t.tid, stamp, list(t.vc) if _releases(order) else t.rel, sc,
                self.sc_count if sc else -1, list(t.vc) if sc else None)
        if sc:
            self.sc_count += 1
        loc.msgs.insert(place, m)
        self._trim(loc)
        t.vc[t.tid] = stamp + 1

    def rmw(self, t: ThreadMem, loc: Loc, f, order: int, failure: int | None = None) -> tuple[int, bool]:
        """Read-modify-write on the newest store: ``f(old)`` returns the new value, or None for a
        failed compare-exchange (a load with ``failure`` order). Returns (old value, wrote)."""
        m = loc.msgs[-1]
        stamp = t.vc[t.tid]
        if t.tid not in m.seen:
            m.seen[t.tid] = stamp
        old = m.value
        new = f(old)
        if new is None:
            order = failure
        if m.sync:
            join(t.vc if _acquires(order) else t.acq, m.sync)
        sc = order == SEQ_CST
        if new is not None:
            sync = list(m.sync)  # the release sequence of the store read goes on through this RMW
            join(sync, t.vc if _releases(order) else t.rel)
            loc.msgs.append(Msg(new, t.tid, stamp, sync, sc, self.sc_count if sc else -1,
                                list(t.vc) if sc else None, rmw=True))
            self._trim(loc)
        if sc:
            self.sc_count += 1
        t.vc[t.tid] = stamp + 1
        return old, new is not None

    def fence(self, t: ThreadMem, order: int) -> None:
        if _acquires(order):
            join(t.vc, t.acq)
        if order == SEQ_CST:  # S's fences form one view, as a promising-semantics SC fence
            t.fence_s = self.sc_count
            self.sc_count += 1
            join(t.fence_view, self.sc_view)
            join(t.fence_view, t.vc)
            join(self.sc_view, t.fence_view)
        if _releases(order):
            t.rel = list(t.vc)
        t.vc[t.tid] += 1

    # -- non-atomic locations --
    def plain_write(self, t: ThreadMem, cell: Plain, where, step: int) -> None:
        """A non-atomic write: a data race unless the cell's last write (and, with
        ``strict_races``, every read since) happens-before it. ``where()`` names the cell."""
        last = cell.write
        if last is not None and not covers(t.vc, last[0], last[1]):
            raise DataRace(f"data race on {where()}: the write by thread {t.tid} (step {step}) is not ordered "
                           f"by happens-before with the write by thread {last[0]} (step {last[2]})")
        for u, (stamp, at) in cell.reads.items():
            if not covers(t.vc, u, stamp):
                raise DataRace(f"data race on {where()}: the write by thread {t.tid} (step {step}) is not ordered "
                               f"by happens-before after the read by thread {u} (step {at})")
        cell.write = (t.tid, t.vc[t.tid], step)
        cell.reads = {}

    def plain_read(self, t: ThreadMem, cell: Plain, value, where, step: int):
        """A non-atomic read: ``value``, or ``Racy`` if the last write does not happen-before it."""
        if self.strict_races:
            cell.reads[t.tid] = (t.vc[t.tid], step)
        last = cell.write
        if last is None or covers(t.vc, last[0], last[1]):
            return value
        return Racy(f"racy read of {where()} by thread {t.tid} (step {step}): not ordered by happens-before "
                    f"after the write by thread {last[0]} (step {last[2]}); it would have read {value!r}")


class Plain:
    """A non-atomic location: its last write (thread, clock, step) and, for ``strict_races``, the reads since."""

    __slots__ = ("write", "reads")

    def __init__(self):
        self.write: tuple | None = None
        self.reads: dict = {}


def _raise(self, *args, **kwargs):
    raise DataRace(f"used the value of a {object.__getattribute__(self, '_what')}")


class Racy:
    """The undefined value of a racy non-atomic read: any use of it raises ``DataRace``."""

    __slots__ = ("_what",)

    def __init__(self, what: str):
        object.__setattr__(self, "_what", what)

    def __repr__(self) -> str:
        return f"<Racy: {object.__getattribute__(self, '_what')}>"

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = __bool__ = _raise
    __len__ = __iter__ = __contains__ = __getitem__ = __setitem__ = __call__ = _raise
    __int__ = __index__ = __float__ = __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = _raise
    __rmul__ = __and__ = __rand__ = __or__ = __ror__ = __rshift__ = __lshift__ = __neg__ = _raise
    __getattr__ = __setattr__ = _raise
