"""The stalled-thread scenario: does one slow thread hold the others back?

Four threads run put+take pairs on one shared structure. In the *stalled*
run, thread 0 (the staller) pauses 1 ms once every 100 of its operations
(every 50th pair):

- for a lock baseline (Lock+deque) *inside the critical section* (of put
  for the FIFO queue, of take for the LIFO stack), so the others wait;
- for a lock-free structure at a named step *inside its operation*, through
  ``structure.handle(on_step=...)``, a per-thread handle only the staller
  holds: MSQueue pauses at ``"enqueue:linked"`` (after the link
  compare-exchange, before the tail swing), TreiberStack at
  ``"pop:read-head"`` (after reading the head). The other threads call the
  structure's own methods, the normal path.

A second stalled run, *busy-wait*, pauses the same way but spins on the
clock for 1 ms instead of sleeping (no target). The two differ for a lock:
a staller that sleeps inside the critical section is then starved by the
lock (3.13t's lock hands off to threads that waited over 1 ms, and the
sleeper comes back as one of many waiters), so it seldom reaches its next
pause and the others barely notice it; a staller that spins keeps its CPU
and its turn, and pauses as often as the scenario asks. The busy-wait also
takes a CPU from the others, which a sleeping staller does not.

The *unstalled* run is the same four threads with no pause. Reported: the
other three threads' throughput (untimed runs) and p99.9 latency per
operation (separate timed runs), with and without the staller, and the
ratios issue 9 sets targets on (others stalled ÷ the lock's others stalled
>= 1.0; others stalled ÷ their own unstalled rate >= 0.9).

The pause is ``time.sleep(0.001)`` unless this machine's sleep overshoots
by more than half (measured at start), then a busy-wait on perf_counter;
the output says which, and the median pause the staller actually took.
Structures without ``handle()`` are reported "not available". The staller's
own numbers are shown too (pauses taken, share of the run spent paused, its
pairs/s): a lock is unfair, and a staller that keeps losing the lock to the
others reaches its 100th operation, and so its pause, less often.
GC: disabled during every run, collected before each. Median of three
sittings (each: every case, each run of RUNS, untimed and timed).

Run:  python benchmarks/bench_stall.py [--quick] [--json PATH]
Writes benchmarks/results/stall-<interp>.json and prints the table and verdicts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import tables
import targets
import workloads
from histogram import Histogram
from workloads import LockedDeque, Unavailable

HERE = Path(__file__).resolve().parent
THREADS = 4
EVERY = 100  # operations of the staller between pauses (each pair is two operations)
PAUSE_S = 0.001
# run label -> (stalled?, pause): "chosen" is time.sleep unless it overshoots (the targets), "busy" spins
RUNS = {"unstalled": (False, None), "stalled": (True, "chosen"), "stalled, busy-wait": (True, "busy")}


# -- the pause -----------------------------------------------------------------------------


def sleep_overshoot(samples: int = 50) -> float:
    """Median duration in ns of ``time.sleep(PAUSE_S)`` here."""
    took = []
    for _ in range(samples):
        t0 = time.perf_counter_ns()
        time.sleep(PAUSE_S)
        took.append(time.perf_counter_ns() - t0)
    return statistics.median(took)


def busy_wait() -> None:
    end = time.perf_counter() + PAUSE_S
    while time.perf_counter() < end:
        pass


def choose_pause() -> tuple[Callable[[], None], str, float]:
    """(pause function, its name, measured sleep median ns): sleep unless it overshoots by > 50%."""
    measured = sleep_overshoot()
    if measured <= PAUSE_S * 1.5e9:
        return (lambda: time.sleep(PAUSE_S)), "time.sleep", measured
    return busy_wait, "busy-wait (sleep overshoots)", measured


# -- cases ----------------------------------------------------------------------------------


@dataclass
class StallCase:
    """A structure and how its staller pauses.

    ``build()`` returns (structure, put, take). ``staller_ops(structure, arm,
    pause_now)`` returns the staller's (put, take): ``arm`` is a one-item list
    the staller's loop sets True before the operation that must pause, and the
    operation calls ``pause_now()`` at its step if armed (then disarms).
    ``stalls_on`` is "put" or "take": which operation of the pair is armed.
    """

    name: str
    build: Callable[[], tuple]
    staller_ops: Callable
    where: str
    stalls_on: str
    baseline: str | None = None


def _armed_pause(arm, pause_now):
    if arm[0]:
        arm[0] = False
        pause_now()


def lock_case(fifo: bool) -> StallCase:
    def build():
        d = LockedDeque()
        return d, d.put, d.take_fifo if fifo else d.take_lifo

    def staller_ops(d, arm, pause_now):
        lock, items = d._lock, d._items

        def put(item):
            with lock:
                if not fifo:
                    return items.append(item)
                _armed_pause(arm, pause_now)
                items.append(item)

        def take(default=None):
            with lock:
                if not fifo:
                    _armed_pause(arm, pause_now)
                if not items:
                    return default
                return items.popleft() if fifo else items.pop()

        return put, take

    name = f"Lock+deque ({'FIFO' if fifo else 'LIFO'})"
    where = f"the lock, in {'put' if fifo else 'take'}"
    return StallCase(name, build, staller_ops, where, "put" if fifo else "take")


def handle_case(name: str, make, step: str, put_name: str, take_name: str, stalls_on: str,
                baseline: str) -> StallCase:
    """A lock-free structure whose staller pauses at ``step`` through ``structure.handle(on_step=...)``."""

    def build():
        s = make()
        if getattr(s, "handle", None) is None:
            raise Unavailable(f"not available: {type(s).__name__} has no handle(on_step=...) in this checkout")
        return s, getattr(s, put_name), getattr(s, take_name)

    def staller_ops(s, arm, pause_now):
        def on_step(name):
            if name == step:
                _armed_pause(arm, pause_now)

        h = s.handle(on_step=on_step)
        return getattr(h, put_name), getattr(h, take_name)

    return StallCase(name, build, staller_ops, f'step "{step}"', stalls_on, baseline)


def default_cases() -> list[StallCase]:
    def msqueue():
        from freeorder.lockfree import MSQueue

        return MSQueue()

    def treiber():
        from freeorder.lockfree import TreiberStack

        return TreiberStack()

    return [
        lock_case(fifo=True),
        handle_case("MSQueue", msqueue, "enqueue:linked", "enqueue", "dequeue", "put", "Lock+deque (FIFO)"),
        lock_case(fifo=False),
        handle_case("TreiberStack", treiber, "pop:read-head", "push", "pop", "take", "Lock+deque (LIFO)"),
    ]


# -- one run ----------------------------------------------------------------------------------


def run_once(case: StallCase, stalled: bool, timed: bool, seconds: float, pause) -> dict:
    """Four threads on a fresh structure; thread 0 pauses if ``stalled``. Numbers for threads 1..3."""
    structure, put, take = case.build()
    pauses: list[int] = []

    def pause_now():
        t0 = time.perf_counter_ns()
        pause()
        pauses.append(time.perf_counter_ns() - t0)

    def prepare(tid):
        if tid == 0 and stalled:
            arm = [False]
            s_put, s_take = case.staller_ops(structure, arm, pause_now)
            return lambda deadline, result: staller_loop(s_put, s_take, arm, case.stalls_on, deadline)

        def body(deadline, result):
            if timed and tid:
                result.hist = Histogram()
                return workloads.timed_loop("queue", (put, take), None, deadline, result.hist)
            return workloads.untimed_loop("queue", (put, take), None, deadline)

        return body

    with workloads.gc_paused():
        run = workloads.run_threads(THREADS, prepare, seconds)
    others = list(range(1, THREADS))
    wall_ns = (max(t.end for t in run.threads) - run.start) * 1e9
    return {
        "paused_fraction": sum(pauses) / wall_ns if wall_ns > 0 else None,
        "others_rate": run.rate(others),
        "staller_rate": run.rate([0]),
        "others_p99.9": run.histogram(others).percentile(99.9) if timed else None,
        "pauses": len(pauses),
        "pause_ns_median": statistics.median(pauses) if pauses else None,
        "error": run.error,
    }


def staller_loop(put, take, arm, stalls_on: str, deadline: float) -> int:
    """Put+take pairs; arms the pause on every (EVERY // 2)-th pair's ``stalls_on`` operation."""
    clock = time.perf_counter
    every_pairs = EVERY // 2
    done = 0
    while True:  # at least one round, however late this thread was scheduled
        for i in range(every_pairs):
            if i == 0 and stalls_on == "put":
                arm[0] = True
            put(i)
            if i == 0 and stalls_on == "take":
                arm[0] = True
            take(None)
        arm[0] = False
        done += every_pairs
        if clock() >= deadline:
            return done


def measure_case(case: StallCase, seconds: float, pause) -> dict:
    """Each run of RUNS untimed (throughput) then timed (p99.9)."""
    out = {}
    for label, (stalled, how) in RUNS.items():
        this_pause = busy_wait if how == "busy" else pause
        untimed = run_once(case, stalled, False, seconds, this_pause)
        timed = run_once(case, stalled, True, seconds, this_pause)
        out[label] = {**untimed, "others_p99.9": timed["others_p99.9"], "error": untimed["error"] or timed["error"]}
    return out


# -- sittings and summary ----------------------------------------------------------------------


def run_sittings(cases, sittings: int, seconds: float, pause, log=print) -> list[dict]:
    raw = []
    for k in range(sittings):
        log(f"sitting {k + 1}/{sittings}")
        sitting = {}
        for case in (reversed(cases) if k % 2 else cases):
            try:
                sitting[case.name] = measure_case(case, seconds, pause)
            except Unavailable as exc:
                sitting[case.name] = {"unavailable": str(exc)}
            except Exception as exc:
                sitting[case.name] = {"unavailable": f"failed to build: {type(exc).__name__}: {exc}"[:200]}
            entry = sitting[case.name]
            if "stalled" in entry:
                log(f"  {case.name:20} others {entry['unstalled']['others_rate'] / 1e3:7.1f} k/s unstalled, "
                    f"{entry['stalled']['others_rate'] / 1e3:7.1f} k/s stalled ({entry['stalled']['pauses']} pauses)")
            else:
                log(f"  {case.name:20} {entry['unavailable']}")
        raw.append(sitting)
    return raw


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(cases, raw: list[dict]) -> dict:
    """Median over sittings of each number, and the per-sitting ratios' medians."""
    out = {}
    for case in cases:
        per = [s[case.name] for s in raw if case.name in s]
        if not per or any("unavailable" in p for p in per):
            out[case.name] = {"unavailable": next((p["unavailable"] for p in per if "unavailable" in p), "not run")}
            continue
        entry = {"where": case.where, "baseline": case.baseline}
        for label in RUNS:
            entry[label] = {key: _median(p[label][key] for p in per)
                            for key in ("others_rate", "staller_rate", "others_p99.9", "pauses", "pause_ns_median",
                                        "paused_fraction")}
            entry[label]["errors"] = [p[label]["error"] for p in per if p[label]["error"]]
        base = [s.get(case.baseline, {}) for s in raw] if case.baseline else []
        for label in RUNS:
            if label == "unstalled":
                continue
            entry[label]["own_ratio"] = _median(p[label]["others_rate"] / p["unstalled"]["others_rate"]
                                                for p in per if p["unstalled"]["others_rate"])
            entry[label]["lock_ratio"] = _median(
                p[label]["others_rate"] / b[label]["others_rate"]
                for p, b in zip(per, base) if label in b and b[label]["others_rate"]
            ) if base else None
        out[case.name] = entry
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="0.3 s runs instead of 1 s")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--sittings", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    seconds = args.seconds or (0.3 if args.quick else 1.0)
    label = workloads.interpreter_label()
    out_path = args.json or HERE / "results" / f"stall-{label}.json"

    pause, method, sleep_ns = choose_pause()
    info = workloads.interpreter_info()
    print(f"bench_stall.py on {label}: {THREADS} threads, pause {PAUSE_S * 1e3:g} ms by {method} "
          f"(time.sleep({PAUSE_S}) measured {sleep_ns / 1e6:.3f} ms median) every {EVERY} staller operations; "
          f"GC: {info['gc']}", flush=True)
    cases = default_cases()
    raw = run_sittings(cases, args.sittings, seconds, pause, log=lambda line: print(line, flush=True))
    summary = summarise(cases, raw)
    measured = _median(c["stalled"]["pause_ns_median"] for c in summary.values() if "stalled" in c)
    result = {
        "interpreter": info,
        "label": label,
        "threads": THREADS,
        "every": EVERY,

        "pause": {"requested_ms": PAUSE_S * 1e3, "method": method, "sleep_median_ns": sleep_ns,
                  "measured_ns_median": measured},
        "seconds_per_run": seconds,
        "sittings": args.sittings,
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "raw": raw,
        "cases": summary,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=1))
    print()
    print(tables.stall_table(result))
    print()
    print(tables.verdict_table(targets.evaluate(stall=result), heading=f"targets ({label}, this run)"))
    print(f"\nwrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
