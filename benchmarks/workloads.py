"""Workloads shared by latency.py and bench_stall.py: the cases, their loops, a thread runner.

A *case* is one structure (ours, its lock baseline, or a peer a 3.13t user
would install instead) in one *group*, and every case of a group runs the
same loop shape, so their numbers compare:

- ``queue`` / ``stack``: each thread runs put+take pairs on one shared
  structure (``put(i)`` then ``take(None)``); throughput counts pairs.
- ``map``: each thread replays its own pre-drawn script of 50% get, 25%
  insert, 25% remove of random keys (20k key space, 10k prefilled);
  throughput counts operations.
- ``counter``: each thread increments one shared counter; throughput counts
  increments.

Each run is *untimed* (throughput: operations counted, wall time from the
barrier to the last thread's end) or *timed* (every single operation wrapped
in ``perf_counter_ns`` and recorded in the thread's own histogram; merged
after). Runs are bounded in time: threads start on a barrier and stop at a
shared deadline. GC policy: the cyclic GC is disabled for the whole run and a
collection is forced before each one (``gc_paused``). A case that cannot be
built (a peer not installed, a configuration the checkout lacks) reports why
instead of failing the run; an exception inside a worker (``ArenaExhausted``)
stops that run and is reported as its error.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import gc
import queue
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from histogram import Histogram

CHUNK = 64  # loops check the deadline every CHUNK steps (and run at least one chunk)
KEYSPACE = 20_000
PREFILL = 10_000
SCRIPT = 4096  # pre-drawn map operations per thread, cycled


class Unavailable(Exception):
    """A case cannot run here (peer not installed, API missing); the message says why."""


# -- lock baselines: what a Python user writes without lock-free structures ---------------


class LockedDeque:
    """A ``collections.deque`` behind a ``threading.Lock``."""

    def __init__(self):
        self._items = collections.deque()
        self._lock = threading.Lock()

    def put(self, item):
        with self._lock:
            self._items.append(item)

    def take_fifo(self, default=None):
        with self._lock:
            return self._items.popleft() if self._items else default

    def take_lifo(self, default=None):
        with self._lock:
            return self._items.pop() if self._items else default


class LockedMap:
    """A mapping (dict or SortedDict) behind a ``threading.Lock``: get, insert, remove."""

    def __init__(self, mapping):
        self._map = mapping
        self._lock = threading.Lock()

    def get(self, key, default=None):
        with self._lock:
            return self._map.get(key, default)

    def insert(self, key, value):
        with self._lock:
            self._map[key] = value

    def remove(self, key, default=None):
        with self._lock:
            return self._map.pop(key, default)


class LockedCounter:
    """An int behind a ``threading.Lock``."""

    def __init__(self):
        self._value = 0
        self._lock = threading.Lock()

    def incr(self):
        with self._lock:
            self._value += 1
            return self._value


# -- building cases ------------------------------------------------------------------------


@dataclass
class Case:
    """One structure in one group. ``build()`` returns a fresh shared instance's operations.

    For pair groups the operations are ``(put, take)``; for maps ``(get, insert, remove)``;
    for counters ``(incr,)`` (no arguments). ``structure`` is the underlying object (for ``handle()``).
    """

    name: str
    group: str
    build: Callable[[], tuple]
    ours: bool = False
    baseline: str | None = None  # the case this one's ratio is taken against
    note: str = ""


@dataclass
class Built:
    ops: tuple
    structure: object = None


def _peer(module: str, attr: str):
    """Import a peer's class or raise Unavailable('not installed')."""
    try:
        mod = __import__(module, fromlist=[attr])
        return getattr(mod, attr)
    except Exception as exc:  # ImportError, or a broken wheel
        raise Unavailable(f"not installed ({type(exc).__name__})") from None


def _construct(cls, reclaimer: str | None):
    """``cls()`` (default configuration) or ``cls(reclaimer=make_reclaimer(name))``."""
    if reclaimer is None:
        return cls()
    from freeorder.reclaim import make_reclaimer

    try:
        return cls(reclaimer=make_reclaimer(reclaimer))
    except (TypeError, ValueError) as exc:
        raise Unavailable(f"{cls.__name__}(reclaimer={reclaimer!r}) failed: {exc}") from None


def stack_case(reclaimer: str | None) -> Case:
    def build():
        from freeorder.lockfree import TreiberStack

        s = _construct(TreiberStack, reclaimer)
        return Built((s.push, s.pop), s)

    label = "TreiberStack" + (f"[{reclaimer}]" if reclaimer else "")
    return Case(label, "stack", build, ours=True, baseline="Lock+deque (LIFO)")


def queue_case(reclaimer: str | None) -> Case:
    def build():
        from freeorder.lockfree import MSQueue

        q = _construct(MSQueue, reclaimer)
        return Built((q.enqueue, q.dequeue), q)

    label = "MSQueue" + (f"[{reclaimer}]" if reclaimer else "")
    return Case(label, "queue", build, ours=True, baseline="Lock+deque (FIFO)")


def locked_deque_case(group: str) -> Case:
    def build():
        d = LockedDeque()
        return Built((d.put, d.take_fifo if group == "queue" else d.take_lifo), d)

    return Case(f"Lock+deque ({'FIFO' if group == 'queue' else 'LIFO'})", group, build)


def simple_queue_case() -> Case:
    def build():
        q = queue.SimpleQueue()
        get_nowait = q.get_nowait

        def take(default=None):
            try:
                return get_nowait()
            except queue.Empty:
                return default

        return Built((q.put, take), q)

    return Case("queue.SimpleQueue", "queue", build)


def ft_queue_case() -> Case:
    def build():
        cls = _peer("ft_utils.concurrency", "ConcurrentQueue")
        q = cls()
        # pop(timeout=None) waits; never here: each thread's take follows its own put
        return Built((q.push, q.pop), q)

    return Case("ft_utils ConcurrentQueue", "queue", build)


def _prefill(insert) -> None:
    for key in random.Random(99).sample(range(KEYSPACE), PREFILL):
        insert(key, key)


def _remover(m):
    """``remove(key, default)``: the structure's own if it takes a default, else ``pop``."""
    remove = getattr(m, "pop", None) or m.remove
    return remove


def skiplist_case() -> Case:
    def build():
        from freeorder.lockfree import SkipListMap

        m = SkipListMap()
        _prefill(m.insert)
        return Built((m.get, m.insert, _remover(m)), m)

    return Case("SkipListMap", "sorted map", build, ours=True, baseline="Lock+SortedDict")


def locked_sorteddict_case() -> Case:
    def build():
        from sortedcontainers import SortedDict

        m = LockedMap(SortedDict())
        _prefill(m.insert)
        return Built((m.get, m.insert, m.remove), m)

    return Case("Lock+SortedDict", "sorted map", build)


def order_index_case() -> Case:
    def build():
        from freeorder.lockfree import OrderIndex

        m = OrderIndex()
        _prefill(m.insert)
        return Built((m.get, m.insert, _remover(m)), m)

    return Case("OrderIndex", "hash map", build, ours=True, baseline="Lock+dict")


def locked_dict_case() -> Case:
    def build():
        m = LockedMap({})
        _prefill(m.insert)
        return Built((m.get, m.insert, m.remove), m)

    return Case("Lock+dict", "hash map", build)


def cereggii_dict_case() -> Case:
    def build():
        d = _peer("cereggii", "AtomicDict")()

        def remove(key, default=None):
            try:
                del d[key]
            except KeyError:
                return default

        _prefill(d.__setitem__)
        return Built((d.get, d.__setitem__, remove), d)

    return Case("cereggii AtomicDict", "hash map", build)


def ft_dict_case() -> Case:
    def build():
        d = _peer("ft_utils.concurrency", "ConcurrentDict")()
        _prefill(d.__setitem__)
        return Built((d.get, d.__setitem__, d.pop), d)

    return Case("ft_utils ConcurrentDict", "hash map", build)


def counter_cases() -> list[Case]:
    """Zero-argument increments; ours binds its amount with a C ``functools.partial`` (no Python frame)."""

    def ours():
        from freeorder import atomic

        cell = atomic.AtomicInt()
        return Built((functools.partial(cell.fetch_add, 1),), cell)

    def cereggii():
        cell = _peer("cereggii", "AtomicInt64")(0)
        return Built((cell.increment_and_get,), cell)

    def ft():
        cell = _peer("ft_utils.concurrency", "AtomicInt64")(0)
        return Built((cell.incr,), cell)

    def locked():
        c = LockedCounter()
        return Built((c.incr,), c)

    return [
        Case("AtomicInt.fetch_add", "counter", ours, ours=True, baseline="Lock+int"),
        Case("cereggii AtomicInt64", "counter", cereggii),
        Case("ft_utils AtomicInt64", "counter", ft),
        Case("Lock+int", "counter", locked),
    ]


def all_cases() -> list[Case]:
    """Every case latency.py runs, grouped, each structure beside its baseline."""
    return [
        stack_case(None), stack_case("epoch"), stack_case("hazard"), locked_deque_case("stack"),
        queue_case(None), queue_case("epoch"), queue_case("hazard"), locked_deque_case("queue"),
        simple_queue_case(), ft_queue_case(),
        skiplist_case(), locked_sorteddict_case(),
        order_index_case(), locked_dict_case(), cereggii_dict_case(), ft_dict_case(),
        *counter_cases(),
    ]


PAIR_GROUPS = ("queue", "stack")
MAP_GROUPS = ("sorted map", "hash map")


# -- per-thread loops ------------------------------------------------------------------------


def map_script(seed: int, ops: tuple) -> list[tuple]:
    """``SCRIPT`` pre-drawn (fn, key, arg) steps: 50% get(key, None), 25% insert(key, key), 25% remove(key, None)."""
    get, insert, remove = ops
    rnd = random.Random(seed)
    script = []
    for _ in range(SCRIPT):
        key = rnd.randrange(KEYSPACE)
        op = rnd.choice("ggir")
        script.append((get, key, None) if op == "g" else (insert, key, key) if op == "i" else (remove, key, None))
    return script


def untimed_loop(group: str, ops: tuple, script, deadline: float) -> int:
    """Run until ``deadline`` (perf_counter seconds); returns steps done (pairs or operations).

    ``script`` is the thread's ``map_script`` for map groups (drawn before the barrier), else None.
    """
    clock = time.perf_counter
    done = 0
    if group in PAIR_GROUPS:
        put, take = ops
        while True:  # at least one chunk, however late this thread was scheduled
            for i in range(CHUNK):
                put(i)
                take(None)
            done += CHUNK
            if clock() >= deadline:
                return done
    elif group in MAP_GROUPS:
        while True:
            for fn, key, arg in script:
                fn(key, arg)
            done += SCRIPT
            if clock() >= deadline:
                return done
    else:
        (add,) = ops
        while True:
            for _ in range(CHUNK):
                add()
            done += CHUNK
            if clock() >= deadline:
                return done


def timed_loop(group: str, ops: tuple, script, deadline: float, hist: Histogram) -> int:
    """Like ``untimed_loop``, recording each single operation's ns in ``hist`` (outside the timed span)."""
    clock = time.perf_counter_ns
    record = hist.record
    end = int(deadline * 1e9)  # perf_counter and perf_counter_ns share one clock
    done = 0
    if group in PAIR_GROUPS:
        put, take = ops
        t2 = 0
        while t2 < end:  # at least one chunk
            for i in range(CHUNK):
                t0 = clock()
                put(i)
                t1 = clock()
                take(None)
                t2 = clock()
                record(t1 - t0)
                record(t2 - t1)
            done += CHUNK
    elif group in MAP_GROUPS:
        t1 = 0
        while t1 < end:
            for fn, key, arg in script:
                t0 = clock()
                fn(key, arg)
                t1 = clock()
                record(t1 - t0)
            done += SCRIPT
    else:
        (add,) = ops
        t1 = 0
        while t1 < end:
            for _ in range(CHUNK):
                t0 = clock()
                add()
                t1 = clock()
                record(t1 - t0)
            done += CHUNK
    return done


# -- running threads -------------------------------------------------------------------------


@dataclass
class ThreadResult:
    done: int = 0
    end: float = 0.0
    hist: Histogram | None = None
    error: str | None = None


@dataclass
class RunResult:
    """One run: per-thread results, the shared start, and the derived numbers."""

    threads: list[ThreadResult]
    start: float
    extra: dict = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        """The first thread's error, preferring a root cause to a broken barrier."""
        errors = [t.error for t in self.threads if t.error]
        causes = [e for e in errors if not e.startswith("BrokenBarrierError")]
        return (causes or errors or [None])[0]

    def rate(self, which=None) -> float:
        """Steps per second summed over ``which`` threads (all by default), over the run's wall time."""
        picked = [self.threads[i] for i in which] if which is not None else self.threads
        wall = max(t.end for t in self.threads) - self.start
        return sum(t.done for t in picked) / wall if wall > 0 else 0.0

    def histogram(self, which=None) -> Histogram:
        picked = [self.threads[i] for i in which] if which is not None else self.threads
        out = Histogram()
        for t in picked:
            if t.hist is not None:
                out.merge(t.hist)
        return out.finish()


def run_threads(threads: int, prepare: Callable[[int], Callable[[float, ThreadResult], int]],
                seconds: float) -> RunResult:
    """Start ``threads`` threads on a barrier; each runs ``prepare(tid)(deadline, result)`` until the deadline.

    ``prepare`` runs in the thread before the barrier (per-thread setup is not
    timed). The barrier's action sets the shared start and deadline, so every
    thread stops at the same time; the body returns the steps it completed.
    """
    results = [ThreadResult() for _ in range(threads)]
    clock = {"start": 0.0, "deadline": 0.0}

    def release():
        clock["start"] = time.perf_counter()
        clock["deadline"] = clock["start"] + seconds

    barrier = threading.Barrier(threads, action=release)

    def work(tid):
        result = results[tid]
        try:
            try:
                body = prepare(tid)
            except BaseException:
                barrier.abort()  # the others must not wait for this thread
                raise
            barrier.wait()
            result.done = body(clock["deadline"], result)
        except threading.BrokenBarrierError:
            result.error = "BrokenBarrierError: another thread failed before the start"
        except Exception as exc:  # reported beside the numbers, not raised
            result.error = f"{type(exc).__name__}: {exc}"[:200]
        result.end = time.perf_counter()

    pool = [threading.Thread(target=work, args=(t,), name=f"bench-{t}") for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return RunResult(results, clock["start"])


def run_case(case: Case, threads: int, seconds: float, timed: bool) -> RunResult:
    """Build a fresh shared structure (outside the timing) and run ``threads`` threads on it."""
    built = case.build()

    def prepare(tid):
        script = map_script(tid, built.ops) if case.group in MAP_GROUPS else None

        def body(deadline, result):
            if timed:
                result.hist = Histogram()
                return timed_loop(case.group, built.ops, script, deadline, result.hist)
            return untimed_loop(case.group, built.ops, script, deadline)

        return body

    with gc_paused():
        return run_threads(threads, prepare, seconds)


@contextlib.contextmanager
def gc_paused():
    """Collect, then keep the cyclic GC off for the block (the policy every run states)."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def timer_floor(samples: int = 100_000) -> dict[str, int]:
    """Percentiles of two back-to-back ``perf_counter_ns`` calls: the timed runs' floor."""
    clock = time.perf_counter_ns
    h = Histogram()
    record = h.record
    for _ in range(samples):
        t0 = clock()
        t1 = clock()
        record(t1 - t0)
    return h.summary()


def interpreter_info() -> dict:
    import os
    import platform
    import sys

    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    return {
        "python": sys.version.split()[0],
        "free_threaded_build": bool(__import__("sysconfig").get_config_var("Py_GIL_DISABLED")),
        "gil_enabled": gil,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "gc": "disabled during every run; gc.collect() before each",
    }


def interpreter_label() -> str:
    """nogil, nogil-with-gil or gil: the names noxfile.py and report.py use."""
    info = interpreter_info()
    if info["free_threaded_build"]:
        return "nogil-with-gil" if info["gil_enabled"] else "nogil"
    return "gil"
