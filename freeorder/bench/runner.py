"""Running one workload on one engine: threads on a barrier, untimed or timed, GC pauses recorded.

A *run* builds a fresh engine, binds every thread's program to it (before
the clock), starts the threads on a barrier and stops at the earlier of
"every writer has run its program" and a cap in seconds. Readers cycle
their program until the writers are done. Each call that the engine
refuses with ``InvalidOrder`` (``UnknownOrder``, an order not live, …) is
counted as refused; any other exception stops that thread and is reported.

- *untimed* runs give throughput: calls completed / wall time from the
  barrier to the last writer's end (per role: writers' and readers' rates),
  and beside it calls per CPU-second of the threads and the share of a CPU
  they got (``time.thread_time``): on a loaded machine the wall-clock rate
  falls with that share while the CPU-time rate does not;
- *timed* runs wrap every call in ``perf_counter_ns`` and record it in the
  thread's own :class:`~freeorder.bench.histogram.Histogram` (merged after),
  giving p50/p99/p99.9/max per role.

GC policy (stated in every result). Each run's inputs are built, collected
and ``gc.freeze()``-d first, then during the run:

- ``"raised"`` (the default): GC enabled, its threshold raised to
  ``RAISED_THRESHOLD`` allocations, as the engines' docstrings advise for long
  runs on 3.13t (whose every collection walks the whole heap: tens of ms here);
- ``"interpreter"``: GC enabled with the interpreter's own thresholds (2,000);
- ``"off"``: GC disabled.

Whatever the policy, a ``gc.callbacks`` hook times every collection during
the run: the count, the total and the longest pause are reported beside p99.9.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
import time
from dataclasses import dataclass, field

from .. import atomic
from ..book.errors import InvalidOrder
from .histogram import Histogram, to_buckets
from .workloads import Prepared, bind

CHUNK = 64  # calls between deadline checks
RAISED_THRESHOLD = 100_000
GC_POLICIES = ("raised", "interpreter", "off")
GC_POLICY_TEXT = {
    "raised": f"GC enabled, threshold raised to {RAISED_THRESHOLD:,} (the engines' advice for long runs); "
              "each run's inputs collected and gc.freeze()-d first",
    "interpreter": "GC enabled with the interpreter's thresholds; each run's inputs collected and gc.freeze()-d first",
    "off": "GC disabled during each run; its inputs collected and gc.freeze()-d first",
}


def gil_enabled() -> bool:
    return sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True


@dataclass
class ThreadStats:
    role: str
    done: int = 0
    refused: int = 0
    end: float = 0.0
    cpu: float = 0.0  # this thread's CPU time during the run (time.thread_time)
    hist: Histogram | None = None
    error: str | None = None


@dataclass
class RunResult:
    threads: list[ThreadStats]
    start: float
    timed: bool
    gc: dict = field(default_factory=dict)
    capped: bool = False

    @property
    def error(self) -> str | None:
        errors = [t.error for t in self.threads if t.error]
        return errors[0] if errors else None

    def rate(self, role: str | None = None, which=None) -> float:
        """Calls per second of the threads of ``role`` (or indices ``which``): their calls over the
        time from the barrier to the last of them ending."""
        picked = self._picked(role, which)
        wall = max(t.end for t in picked) - self.start if picked else 0.0
        return sum(t.done for t in picked) / wall if wall > 0 else 0.0

    def histogram(self, role: str | None = None, which=None) -> Histogram:
        out = Histogram()
        for t in self._picked(role, which):
            if t.hist is not None:
                out.merge(t.hist)
        return out.finish()

    def wall(self) -> float:
        return max(t.end for t in self.threads) - self.start

    def _picked(self, role, which):
        if which is not None:
            return [self.threads[i] for i in which]
        return [t for t in self.threads if role is None or t.role == role]

    def summary(self, role: str | None = None, which=None) -> dict:
        """Rate, refused calls and (timed) latency percentiles with the nonzero buckets."""
        picked = self._picked(role, which)
        cpu = sum(t.cpu for t in picked)
        wall = max(t.end for t in picked) - self.start if picked else 0.0
        out = {"rate": self.rate(role, which), "calls": sum(t.done for t in picked),
               "refused": sum(t.refused for t in picked),
               # calls per CPU-second, and the share of a CPU each thread got: on a loaded machine
               # wall-clock rates fall with the share; CPU-time rates show what the threads cost
               "cpu_rate": sum(t.done for t in picked) / cpu if cpu > 0 else 0.0,
               "cpu_share": cpu / (wall * len(picked)) if wall > 0 and picked else 0.0}
        if self.timed:
            h = self.histogram(role, which)
            out["latency"] = h.summary()
            out["buckets"] = to_buckets(h)
        return out


class GcWatch:
    """Times every collection between ``start()`` and ``stop()`` through ``gc.callbacks``."""

    def __init__(self) -> None:
        self.pauses: list[int] = []
        self._began = 0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._began = time.perf_counter_ns()
        elif self._began:
            self.pauses.append(time.perf_counter_ns() - self._began)
            self._began = 0

    def start(self) -> None:
        gc.callbacks.append(self._callback)

    def stop(self) -> dict:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._callback)
        return {"collections": len(self.pauses), "pause_total_ns": sum(self.pauses),
                "pause_max_ns": max(self.pauses, default=0)}


@contextlib.contextmanager
def gc_policy(policy: str):
    """Apply the run's GC policy around the block (see the module docstring); restores the GC's
    state and thresholds after."""
    if policy not in GC_POLICIES:
        raise ValueError(f"gc={policy!r}: expected one of {', '.join(GC_POLICIES)}")
    was_enabled, thresholds = gc.isenabled(), gc.get_threshold()
    gc.collect()
    gc.freeze()
    if policy == "off":
        gc.disable()
    else:
        if policy == "raised":
            gc.set_threshold(RAISED_THRESHOLD, *thresholds[1:])
        gc.enable()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


def _writer(chunks, deadline: float, stats: ThreadStats, timed: bool) -> None:
    """Run the program's chunks in order, checking the deadline after each chunk."""
    clock = time.perf_counter
    refused = done = 0
    if timed:
        ns = time.perf_counter_ns
        record = stats.hist.record
        for chunk in chunks:
            for fn, args, kwargs in chunk:
                t0 = ns()
                try:
                    fn(*args, **kwargs)
                except InvalidOrder:
                    refused += 1
                record(ns() - t0)
            done += len(chunk)
            if clock() >= deadline:
                break
    else:
        for chunk in chunks:
            for fn, args, kwargs in chunk:
                try:
                    fn(*args, **kwargs)
                except InvalidOrder:
                    refused += 1
            done += len(chunk)
            if clock() >= deadline:
                break
    stats.done, stats.refused = done, refused


def _reader(calls, deadline: float, writers_done: threading.Event, stats: ThreadStats, timed: bool) -> None:
    clock = time.perf_counter
    done = 0
    record = stats.hist.record if timed else None
    ns = time.perf_counter_ns
    while not writers_done.is_set() and clock() < deadline:
        for fn, args, kwargs in calls:
            if timed:
                t0 = ns()
                fn(*args, **kwargs)
                record(ns() - t0)
            else:
                fn(*args, **kwargs)
        done += len(calls)
    stats.done = done


def execute(engine, prepared: Prepared, *, timed: bool, cap_seconds: float, gc: str = "raised",
            setup=None) -> RunResult:
    """Run ``prepared`` on ``engine`` (see the module docstring); ``setup(i)`` runs in thread i
    before the barrier (the stall scenario names its staller there)."""
    stats = [ThreadStats(role) for role in prepared.roles]
    remaining = atomic.AtomicInt(sum(role == "writer" for role in prepared.roles))
    writers_done = threading.Event()
    clock = {"start": 0.0, "deadline": 0.0}

    def release():
        clock["start"] = time.perf_counter()
        clock["deadline"] = clock["start"] + cap_seconds

    barrier = threading.Barrier(len(stats), action=release)

    def body(i: int) -> None:
        s = stats[i]
        try:
            # bound here, so this thread owns its calls' objects (on 3.13t another thread's
            # objects are reference-counted with atomic operations)
            calls = bind(engine, prepared.programs[i])
            chunks = [calls[k:k + CHUNK] for k in range(0, len(calls), CHUNK)]
            if setup is not None:
                setup(i)
            if timed:
                s.hist = Histogram()
            barrier.wait()
            cpu = time.thread_time()
            if s.role == "writer":
                _writer(chunks, clock["deadline"], s, timed)
            else:
                _reader(calls, clock["deadline"], writers_done, s, timed)
            s.cpu = time.thread_time() - cpu
        except threading.BrokenBarrierError:
            s.error = "another thread failed before the start"
        except Exception as exc:  # noqa: BLE001 - reported beside the numbers
            s.error = f"{type(exc).__name__}: {exc}"[:300]
            barrier.abort()
        finally:
            s.end = time.perf_counter()
            if s.role == "writer" and remaining.fetch_add(-1) == 1:  # the last writer
                writers_done.set()

    watch = GcWatch()
    with gc_policy(gc):
        watch.start()
        try:
            pool = [threading.Thread(target=body, args=(i,), name=f"bench-{i}") for i in range(len(stats))]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
        finally:
            pauses = watch.stop()
    result = RunResult(stats, clock["start"], timed, pauses)
    result.capped = any(s.role == "writer" and s.done < len(p) for s, p in zip(stats, prepared.programs))
    return result


def timer_floor(samples: int = 50_000) -> dict[str, int]:
    """Percentiles of two back-to-back ``perf_counter_ns`` calls: the timed runs' floor."""
    clock = time.perf_counter_ns
    h = Histogram()
    for _ in range(samples):
        t0 = clock()
        h.record(clock() - t0)
    return h.summary()
