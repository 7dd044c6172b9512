"""pyperf: the cost of freeorder's atomics, beside threading.Lock and ft_utils.

Uncontended: ns per call of load, store, compare_exchange and fetch_add on
AtomicInt and AtomicIntArray, threading.Lock acquire+release, and (where
ft-utils installs) ft_utils.concurrency.AtomicInt64.get/incr.
Contended: fetch_add and a compare-exchange retry loop on one shared cell
from 1, 2, 4 and 8 threads; the value is time per operation across all
threads, so throughput is its inverse.

Run one interpreter:  python benchmarks/bench_atomics.py -o out.json
All three and the table:  nox -t bench   (see benchmarks/README.md)
"""

from __future__ import annotations

import sys
import threading
import time

import pyperf

from freeorder import atomic
from freeorder.atomic import RELAXED, SEQ_CST

THREAD_COUNTS = (1, 2, 4, 8)


def loop_time(fn, args, loops):
    """Time `loops` calls of fn(*args) (unrolled by 10 to dilute the loop)."""
    n = max(1, loops // 10)
    t0 = time.perf_counter()
    for _ in range(n):
        fn(*args); fn(*args); fn(*args); fn(*args); fn(*args)  # noqa: E702
        fn(*args); fn(*args); fn(*args); fn(*args); fn(*args)  # noqa: E702
    return (time.perf_counter() - t0) * loops / (n * 10)


def bench_call(fn, *args):
    return lambda loops: loop_time(fn, args, loops)


def bench_lock(loops):
    lock = threading.Lock()
    acquire, release = lock.acquire, lock.release
    t0 = time.perf_counter()
    for _ in range(loops):
        acquire()
        release()
    return time.perf_counter() - t0


def run_threads(threads, body, loops):
    """Start `threads` threads on a barrier, each running body(loops); wall time."""
    barrier = threading.Barrier(threads + 1)

    def work():
        barrier.wait()
        body(loops)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    return time.perf_counter() - t0


def contended_fetch_add(threads):
    cell = atomic.AtomicInt()

    def body(loops):
        add = cell.fetch_add
        for _ in range(loops):
            add(1, RELAXED)

    return lambda loops: run_threads(threads, body, loops)


def contended_cas_loop(threads):
    cell = atomic.AtomicInt()

    def body(loops):
        cas, load = cell.compare_exchange_weak, cell.load
        for _ in range(loops):
            seen = load(RELAXED)
            while True:
                witnessed = cas(seen, seen + 1, SEQ_CST, RELAXED)
                if witnessed == seen:
                    break
                seen = witnessed

    return lambda loops: run_threads(threads, body, loops)


def contended_lock_counter(threads):
    lock = threading.Lock()
    box = [0]

    def body(loops):
        for _ in range(loops):
            with lock:
                box[0] += 1

    return lambda loops: run_threads(threads, body, loops)


def main():
    runner = pyperf.Runner()
    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    runner.metadata["freeorder_gil_enabled"] = str(gil)
    runner.metadata["freeorder_atomics_backend"] = atomic.backend_name()

    cell = atomic.AtomicInt()
    cells = atomic.AtomicIntArray(64)
    cases = [
        ("AtomicInt.load", bench_call(cell.load)),
        ("AtomicInt.store", bench_call(cell.store, 1)),
        ("AtomicInt.compare_exchange", bench_call(cell.compare_exchange, 1, 1)),
        ("AtomicInt.fetch_add", bench_call(cell.fetch_add, 1)),
        ("AtomicIntArray.load", bench_call(cells.load, 7)),
        ("AtomicIntArray.store", bench_call(cells.store, 7, 1)),
        ("AtomicIntArray.compare_exchange", bench_call(cells.compare_exchange, 7, 1, 1)),
        ("AtomicIntArray.fetch_add", bench_call(cells.fetch_add, 7, 1)),
        ("threading.Lock acquire+release", bench_lock),
    ]
    try:
        from ft_utils.concurrency import AtomicInt64
    except ImportError:
        pass
    else:
        ft = AtomicInt64(0)
        cases += [("ft_utils AtomicInt64.get", bench_call(ft.get)), ("ft_utils AtomicInt64.incr", bench_call(ft.incr))]
    for name, fn in cases:
        runner.bench_time_func(f"uncontended {name}", fn)
    for threads in THREAD_COUNTS:
        runner.bench_time_func(f"contended fetch_add threads={threads}", contended_fetch_add(threads), inner_loops=threads)
        runner.bench_time_func(f"contended CAS loop threads={threads}", contended_cas_loop(threads), inner_loops=threads)
        runner.bench_time_func(f"contended Lock counter threads={threads}", contended_lock_counter(threads), inner_loops=threads)


if __name__ == "__main__":
    main()
