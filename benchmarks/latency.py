"""Throughput and per-operation latency of every structure, its lock baseline and the peers.

What it measures (issue 9, deliverables 5 and 7):

- *Throughput* from untimed runs: threads start on a barrier, run their loop
  (workloads.py: put+take pairs, a 50/25/25 get/insert/remove map mix, or
  counter increments) until a shared deadline; steps summed over threads per
  second of wall time.
- *Latency* from separate timed runs of the same loop: each single operation
  between two ``perf_counter_ns`` calls, recorded in a per-thread log-linear
  histogram (histogram.py), merged; p50, p99, p99.9 and max. The timer's own
  floor (two back-to-back calls) is printed beside them.
- *Micro-operations*, single thread, ns per call: ``AtomicInt.load``,
  pin+unpin for each reclaimer, hazard pin+protect+unpin, arena alloc+free
  (the targets compare these with the load measured in the same sitting):
  seven rounds in turn, each operation's fastest loop.

At 1, 2 and 8 threads. A *sitting* is one pass over every configuration,
interleaved (each structure runs right beside its baseline; odd sittings run
the cases in reverse order); three sittings, and every number reported is
the median of the three (ratios: the median of the three per-sitting ratios).
GC: disabled during every run, collected before each one.
Peers that fail to import are reported "not installed".

Run:   python benchmarks/latency.py [--quick] [--json PATH] [--markdown PATH]
Writes benchmarks/results/latency-<interp>.json (interp: nogil, nogil-with-gil, gil)
and prints the Markdown table and the target verdicts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import tables
import targets
import workloads
from workloads import Unavailable

HERE = Path(__file__).resolve().parent
THREAD_COUNTS = (1, 2, 8)
MICRO_LOOPS = 5_000
MICRO_ROUNDS = 7


# -- micro-operations ------------------------------------------------------------------------


def _time_loop(body, loops: int) -> float:
    """ns per iteration of ``body(loops)`` (body runs its own loop and is timed whole)."""
    t0 = time.perf_counter_ns()
    body(loops)
    return (time.perf_counter_ns() - t0) / loops


def _micro_load():
    """Unrolled by ten (the loop's own cost diluted); the other micro-operations are not, so they
    carry ~10-20 ns of loop each: the ratios lean against the structures, never for them."""
    from freeorder import atomic

    load = atomic.AtomicInt().load

    def body(n):
        for _ in range(n // 10):
            load(); load(); load(); load(); load()  # noqa: E702
            load(); load(); load(); load(); load()  # noqa: E702

    return body


def _micro_pin(name: str):
    from freeorder.reclaim import make_reclaimer

    pin = make_reclaimer(name).pin

    def body(n):
        for _ in range(n):
            pin().unpin()

    return body


def _micro_hazard_protect():
    from freeorder import atomic
    from freeorder.reclaim import make_reclaimer

    pin = make_reclaimer("hazard").pin
    cell = atomic.AtomicIntArray(1)

    def body(n):
        for _ in range(n):
            g = pin()
            g.protect(0, cell, 0)
            g.unpin()

    return body


def new_arena():
    """An arena with one ``next`` field: the new signature, else the old one's explicit capacity."""
    from freeorder.lockfree.arena import Arena

    try:
        return Arena(fields=("next",))
    except TypeError:
        return Arena(1024, fields=("next",))


def _micro_arena():
    arena = new_arena()
    alloc, free = arena.alloc, arena.free

    def body(n):
        for _ in range(n):
            free(alloc(None))

    return body


MICRO = {
    "AtomicInt.load": _micro_load,
    "pin+unpin (epoch)": lambda: _micro_pin("epoch"),
    "pin+unpin (hazard)": lambda: _micro_pin("hazard"),
    "pin+unpin (none)": lambda: _micro_pin("none"),
    "hazard pin+protect+unpin": _micro_hazard_protect,
    "arena alloc+free": _micro_arena,
}


def measure_micro(loops: int, rounds: int = MICRO_ROUNDS) -> dict[str, float | str]:
    """ns per call of each micro-operation in this sitting.

    The operations take turns: ``rounds`` rounds, each timing one loop of
    ``loops`` calls of every operation, and each keeps its fastest loop (the
    one least disturbed by preemption on a shared machine), so the ratios to
    ``AtomicInt.load`` compare loops run moments apart.
    """
    bodies: dict = {}
    out: dict[str, float | str] = {}
    for name, make in MICRO.items():
        try:
            bodies[name] = make()
            bodies[name](loops // 10)  # warm up
        except Exception as exc:
            out[name] = f"failed: {type(exc).__name__}: {exc}"[:160]
    best = {name: float("inf") for name in bodies}
    with workloads.gc_paused():
        for _ in range(rounds):
            for name, body in bodies.items():
                best[name] = min(best[name], _time_loop(body, loops))
    out.update(best)
    return {name: out[name] for name in MICRO}


# -- sittings ---------------------------------------------------------------------------------


def run_sitting(cases, thread_counts, seconds: float, reverse: bool, log) -> dict:
    """One pass over every case and thread count: untimed then timed, each case beside its baseline."""
    sitting = {"micro": measure_micro(MICRO_LOOPS), "cases": {}}
    order = list(reversed(cases)) if reverse else list(cases)
    for threads in thread_counts:
        for case in order:
            entry = sitting["cases"].setdefault(case.name, {})
            try:
                untimed = workloads.run_case(case, threads, seconds, timed=False)
                timed = workloads.run_case(case, threads, seconds, timed=True)
            except Unavailable as exc:
                entry["unavailable"] = str(exc)
                continue
            except Exception as exc:  # building failed: report, keep going
                entry["unavailable"] = f"failed to build: {type(exc).__name__}: {exc}"[:200]
                continue
            entry[str(threads)] = {
                "rate": untimed.rate(),
                "latency": timed.histogram().summary(),
                "error": untimed.error or timed.error,
            }
            log(f"  {case.name:28} threads={threads}: {untimed.rate() / 1e3:9.1f} k/s"
                + (f"  ERROR {untimed.error or timed.error}" if untimed.error or timed.error else ""))
    return sitting


def median_of(values):
    values = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(values) if values else None


def summarise(cases, sittings: list[dict], thread_counts) -> dict:
    """Per case and thread count: the median over sittings of the rate and of each percentile."""
    out = {}
    for case in cases:
        per = [s["cases"].get(case.name, {}) for s in sittings]
        reason = next((p["unavailable"] for p in per if "unavailable" in p), None)
        entry = {"group": case.group, "ours": case.ours, "baseline": case.baseline, "unavailable": reason,
                 "threads": {}}
        for threads in thread_counts:
            runs = [p[str(threads)] for p in per if str(threads) in p]
            if not runs:
                continue
            entry["threads"][str(threads)] = {
                "rate": median_of(r["rate"] for r in runs),
                "rates": [r["rate"] for r in runs],
                "latency": {k: median_of(r["latency"][k] for r in runs) for k in ("p50", "p99", "p99.9", "max")},
                "errors": [r["error"] for r in runs if r["error"]],
            }
        out[case.name] = entry
    micro = {name: median_of(s["micro"].get(name) for s in sittings) for name in MICRO}
    return {"cases": out, "micro": micro}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="0.1 s runs instead of 0.4 s (same sittings)")
    parser.add_argument("--seconds", type=float, help="length of each run (overrides --quick)")
    parser.add_argument("--sittings", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=list(THREAD_COUNTS))
    parser.add_argument("--only", nargs="+", help="run only the cases whose names contain one of these")
    parser.add_argument("--json", type=Path, help="output (default benchmarks/results/latency-<interp>.json)")
    parser.add_argument("--markdown", type=Path, help="also write the Markdown table here")
    args = parser.parse_args(argv)
    seconds = args.seconds or (0.1 if args.quick else 0.4)
    label = workloads.interpreter_label()
    out_path = args.json or HERE / "results" / f"latency-{label}.json"

    cases = workloads.all_cases()
    if args.only:
        cases = [c for c in cases if any(s in c.name for s in args.only)]
    info = workloads.interpreter_info()
    print(f"latency.py on {label}: Python {info['python']}, GIL enabled: {info['gil_enabled']}, "
          f"{info['cpus']} CPUs; GC: {info['gc']}; {args.sittings} sittings of {seconds} s runs", flush=True)
    floor = workloads.timer_floor()
    sittings = []
    started = time.perf_counter()
    for k in range(args.sittings):
        print(f"sitting {k + 1}/{args.sittings}", flush=True)
        sittings.append(run_sitting(cases, args.threads, seconds, reverse=bool(k % 2),
                                    log=lambda line: print(line, flush=True)))
    result = {
        "interpreter": info,
        "label": label,
        "seconds_per_run": seconds,
        "sittings": args.sittings,
        "thread_counts": args.threads,
        "timer_floor": floor,
        "elapsed_seconds": time.perf_counter() - started,
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "raw": sittings,
        **summarise(cases, sittings, args.threads),
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=1))
    table = tables.latency_table(result)
    print()
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    print()
    print(tables.verdict_table(targets.evaluate(latency=result), heading=f"targets ({label}, this run)"))
    print(f"\nwrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
