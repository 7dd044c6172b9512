"""The lock-free engine's targets, each a ratio measured side by side in one run (median of five).

1. ``LockFreeEngine`` on 1 thread / ``ReferenceEngine`` on 1 thread >= 0.5;
2. 2 threads on their own symbols / 1 thread >= 1.8 (total commands/s);
3. 1 writer and 1 reader (best, depth) on one symbol: the writer's rate with
   the reader / without it >= 0.9;
4. a thread stalled 1 ms every 100 of its commands (inside the command, at the
   named step "announced": its plan installed, nothing applied) beside two
   others on the same symbol: the others' rate with the staller / with the
   same thread unstalled >= 0.9;
5. memory after N commands (1,000,000 by default) with ``record_events=False``:
   the lock-free engine's RSS growth / the reference's <= 1.5 (each in a fresh
   subprocess; RSS from /proc/self/status).

Workload: ``OrderFlow`` (limits around a moving mid, market and IOC orders,
cancels, modifies), one seed per thread, commands generated before the clock
starts. GC: disabled during every run, collected before each (stated in the
output). Throughput from untimed runs (no per-operation clock).

Run: ``python benchmarks/bench_lockfree_engine.py [--quick] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import threading
import time

from freeorder.book import Instrument
from freeorder.engines import ReferenceEngine
from freeorder.engines.lockfree import LockFreeEngine
from freeorder.engines.workload import OrderFlow

RUNS = 5


def flow_commands(symbol: str, seed: int, n: int) -> list:
    """n OrderFlow commands for ``symbol`` with concrete order ids (a reference run resolves them)."""
    flow = OrderFlow([symbol], seed)
    reference = ReferenceEngine([Instrument(symbol, tick_size=1)], record_events=False)
    out = []
    for command in flow.commands(n):
        try:
            result = command.run(reference)
        except Exception:  # noqa: BLE001 - bad commands are part of the flow
            result = None
        if result is not None:
            flow.observe(command, result)
        out.append(command)
    return out


def run_commands(engine, commands, stall_every=0) -> float:
    """Run ``commands``; returns seconds taken."""
    start = time.perf_counter()
    for command in commands:
        try:
            command.run(engine)
        except Exception:  # noqa: BLE001 - refused commands are answered, as in the reference
            pass
    return time.perf_counter() - start


def threaded(engine, per_thread: list[list], setup=None) -> list[float]:
    """Run each command list on its own thread (started on a barrier); per-thread commands/s."""
    barrier = threading.Barrier(len(per_thread))
    rates = [0.0] * len(per_thread)

    def body(i):
        if setup is not None:
            setup(i)
        barrier.wait()
        rates[i] = len(per_thread[i]) / run_commands(engine, per_thread[i])

    threads = [threading.Thread(target=body, args=(i,)) for i in range(len(per_thread))]
    gc.collect()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return rates


def instruments(*symbols):
    return [Instrument(s, tick_size=1) for s in symbols]


def one_thread_ratio(n: int) -> tuple[float, float]:
    commands = flow_commands("AAA", 1, n)
    rates = {}
    for engine_type in (ReferenceEngine, LockFreeEngine):
        engine = engine_type(instruments("AAA"), record_events=False)
        gc.collect()
        rates[engine_type.__name__] = n / run_commands(engine, commands)
    return rates["LockFreeEngine"], rates["ReferenceEngine"]


def scaling(n: int) -> tuple[float, float]:
    a, b = flow_commands("AAA", 1, n), flow_commands("BBB", 2, n)
    one = threaded(LockFreeEngine(instruments("AAA"), record_events=False), [a])[0]
    two = sum(threaded(LockFreeEngine(instruments("AAA", "BBB"), record_events=False), [a, b]))
    return two, one


def writer_with_reader(n: int) -> tuple[float, float]:
    commands = flow_commands("AAA", 1, n)
    alone = threaded(LockFreeEngine(instruments("AAA"), record_events=False), [commands])[0]
    engine = LockFreeEngine(instruments("AAA"), record_events=False)
    stop = threading.Event()
    reads = [0]

    def reader():
        while not stop.is_set():
            engine.best("AAA")
            engine.depth("AAA", 5)
            reads[0] += 2

    t = threading.Thread(target=reader)
    t.start()
    try:
        with_reader = threaded(engine, [commands])[0]
    finally:
        stop.set()
        t.join()
    return with_reader, alone


def stalled(n: int) -> tuple[float, float]:
    """Others' total rate with thread 0 stalling / with thread 0 not stalling (3 threads, one symbol)."""
    lists = [flow_commands("AAA", seed, n) for seed in (1, 2, 3)]
    results = {}
    for stall in (False, True):
        engine = LockFreeEngine(instruments("AAA"), record_events=False)
        staller = {}
        counter = [0]

        def on_step(name, entry, staller=staller, counter=counter):
            if name == "announced" and threading.get_ident() == staller.get("ident"):
                counter[0] += 1
                if counter[0] % 100 == 0:
                    time.sleep(0.001)

        def setup(i, staller=staller):
            if i == 0:
                staller["ident"] = threading.get_ident()

        if stall:
            engine.on_step = on_step
        rates = threaded(engine, lists, setup)
        results[stall] = sum(rates[1:])
    return results[True], results[False]


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def memory_child(engine_name: str, n: int) -> None:
    """In a fresh process: RSS growth (KiB) over n commands of one engine, printed. The commands are
    made as they go (the engine's own results give the flow its order ids: the same stream for both
    engines, whose results are equal), so nothing else is allocated, freed and reused meanwhile."""
    gc.collect()
    engine_type = LockFreeEngine if engine_name == "lockfree" else ReferenceEngine
    engine = engine_type(instruments("AAA"), record_events=False)
    flow = OrderFlow(["AAA"], 1)
    before = rss_kib()
    for _ in range(n):
        command = flow.next()
        try:
            result = command.run(engine)
        except Exception:  # noqa: BLE001 - bad commands are part of the flow
            continue
        flow.observe(command, result)
    gc.collect()
    print(rss_kib() - before)


def memory(n: int) -> tuple[float, float]:
    growth = {}
    for name in ("lockfree", "reference"):
        out = subprocess.run([sys.executable, __file__, "--memory-child", name, str(n)], check=True,
                             capture_output=True, text=True)
        growth[name] = float(out.stdout.split()[-1])
    return growth["lockfree"], growth["reference"]


TARGETS = [
    ("lockfree 1 thread / reference 1 thread", ">=", 0.5, one_thread_ratio),
    ("2 threads own symbols / 1 thread", ">=", 1.8, scaling),
    ("writer with a reader / writer alone", ">=", 0.9, writer_with_reader),
    ("others with a stalled thread / unstalled", ">=", 0.9, stalled),
    ("RSS growth lockfree / reference (record_events=False)", "<=", 1.5, memory),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small runs (a smoke test, not figures)")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        gc.disable()
        memory_child(args.memory_child[0], int(args.memory_child[1]))
        return
    gc.disable()
    n = 2_000 if args.quick else 20_000
    runs = 1 if args.quick else RUNS
    mem_n = 20_000 if args.quick else 1_000_000
    print(f"Python {sys.version.split()[0]}, GIL enabled: {sys._is_gil_enabled()}; GC disabled during runs, "
          f"collected before each; {n} commands per thread, median of {runs}")
    rows = []
    for name, op, target, measure in TARGETS:
        samples = [measure(mem_n if measure is memory else n) for _ in range(1 if measure is memory else runs)]
        ratios = [a / b for a, b in samples]
        ratio = statistics.median(ratios)
        met = ratio >= target if op == ">=" else ratio <= target
        mine, base = samples[ratios.index(ratio)] if ratio in ratios else samples[0]
        rows.append({"target": name, "op": op, "goal": target, "ratio": round(ratio, 3), "met": met,
                     "measured": [round(mine, 1), round(base, 1)], "ratios": [round(r, 3) for r in ratios]})
        print(f"{name:55} {ratio:6.2f} (goal {op} {target}) {'met' if met else 'MISSED'}   "
              f"[{mine:,.0f} vs {base:,.0f}; runs {', '.join(f'{r:.2f}' for r in ratios)}]", flush=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"python": sys.version, "gil": sys._is_gil_enabled(), "commands": n, "rows": rows}, out,
                      indent=1)


if __name__ == "__main__":
    main()
