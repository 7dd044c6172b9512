"""pyperf: orders per second of the reference, lock-free and replicated engines on a seeded random flow.

The flow (``freeorder.engines.workload.OrderFlow``): limit orders around a
moving mid, cancels and modifies of recent orders, market and IOC orders.
Command lists are generated once per seed (ids recorded against a reference
run) and replayed, so every engine does the same work.

Cases: reference, lock-free and replicated (the universal construction:
one replica of the book per thread) on 1 thread over 2 symbols; lock-free
and replicated on 2 threads, each thread on its own symbol ("partitioned")
and both threads on both symbols ("shared"). The value is time per command summed over threads
(throughput is its inverse). GC policy: the cyclic GC is disabled inside each
timed loop and run between loops (3.13t's GC walks every live object).

Run: python benchmarks/bench_engines.py --fast -o out.json   (or nox -t bench)
"""

from __future__ import annotations

import functools
import gc
import sys
import time

import pyperf

from bench_atomics import run_threads
from freeorder.book import Instrument
from freeorder.engines import ReferenceEngine
from freeorder.engines.lockfree import LockFreeEngine
from freeorder.engines.replicated import ReplicatedEngine
from freeorder.engines.workload import OrderFlow

SYMBOLS = ("AAA", "BBB")
STREAM = 150_000


def instruments():
    return [Instrument(s, tick_size=1) for s in SYMBOLS]


@functools.cache
def stream(symbols: tuple[str, ...], seed: int) -> list:
    """STREAM commands for ``symbols``, with ids taken from a reference run."""
    engine = ReferenceEngine(instruments(), record_events=False)
    flow = OrderFlow(symbols, seed)
    commands = []
    for command in flow.commands(STREAM):
        try:
            flow.observe(command, command.run(engine))
        except Exception:  # noqa: BLE001 - refused input is part of the flow
            pass
        commands.append(command)
    return commands


def replay(engine, commands, loops):
    for command in commands[:loops]:
        try:
            command.run(engine)
        except Exception:  # noqa: BLE001
            pass


def timed(fn):
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def one_thread(engine_class):
    commands = stream(SYMBOLS, 1)

    def time_func(loops):
        engine = engine_class(instruments(), record_events=False)
        return timed(lambda: replay(engine, commands, min(loops, STREAM)))

    return time_func


def two_threads(partitioned: bool, engine_class=LockFreeEngine):
    streams = [stream((SYMBOLS[i],), 10 + i) if partitioned else stream(SYMBOLS, 10 + i) for i in range(2)]

    def time_func(loops):
        engine = engine_class(instruments(), record_events=False)
        n = min(loops, STREAM)
        return timed(lambda: run_threads_indexed(engine, streams, n))

    return time_func


def run_threads_indexed(engine, streams, n):
    it = iter(streams)
    picked = {}

    def body(count):
        import threading

        me = threading.get_ident()
        if me not in picked:
            picked[me] = next(it)
        replay(engine, picked[me], count)

    run_threads(len(streams), body, n)


def main():
    runner = pyperf.Runner()
    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    runner.metadata["freeorder_gil_enabled"] = str(gil)
    runner.metadata["freeorder_gc_policy"] = "gc disabled inside timed loops, collected between them"
    runner.bench_time_func("reference threads=1", one_thread(ReferenceEngine))
    runner.bench_time_func("lockfree threads=1", one_thread(LockFreeEngine))
    runner.bench_time_func("lockfree threads=2 partitioned", two_threads(True), inner_loops=2)
    runner.bench_time_func("lockfree threads=2 shared", two_threads(False), inner_loops=2)
    runner.bench_time_func("replicated threads=1", one_thread(ReplicatedEngine))
    runner.bench_time_func("replicated threads=2 partitioned", two_threads(True, ReplicatedEngine), inner_loops=2)
    runner.bench_time_func("replicated threads=2 shared", two_threads(False, ReplicatedEngine), inner_loops=2)


if __name__ == "__main__":
    main()
