"""Command line: ``python -m freeorder [demo]``.

The demo prints the interpreter, whether the GIL is on, the atomics backend,
the cost of one atomic call, and an exact parallel count across threads.
"""

from __future__ import annotations

import argparse
import platform
import sys
import sysconfig
import threading
import time

from . import __version__, atomic


def _ns_per_call(fn, args: tuple, n: int = 200_000) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn(*args)
        best = min(best, (time.perf_counter_ns() - t0) / n)
    return best


def _parallel_count(threads: int, per_thread: int) -> tuple[int, float]:
    counter = atomic.AtomicInt()
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        add = counter.fetch_add
        barrier.wait()
        for _ in range(per_thread):
            add(1, atomic.RELAXED)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    return counter.load(), time.perf_counter() - t0


def demo() -> int:
    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    print(f"freeorder {__version__} on {platform.python_implementation()} {platform.python_version()}")
    print(f"  executable        {sys.executable}")
    print(f"  free-threaded     {bool(sysconfig.get_config_var('Py_GIL_DISABLED'))}")
    print(f"  GIL enabled       {gil}")
    print(f"  atomics backend   {atomic.backend_name()}")
    cell = atomic.AtomicInt()
    cells = atomic.AtomicIntArray(8)
    print("uncontended cost per call (best of 3):")
    for name, fn, args in [
        ("AtomicInt.load", cell.load, ()),
        ("AtomicInt.fetch_add", cell.fetch_add, (1,)),
        ("AtomicInt.compare_exchange", cell.compare_exchange, (0, 0)),
        ("AtomicIntArray.load", cells.load, (3,)),
        ("AtomicIntArray.fetch_add", cells.fetch_add, (3, 1)),
    ]:
        print(f"  {name:28s} {_ns_per_call(fn, args):7.1f} ns")
    per_thread = 200_000
    print(f"fetch_add from N threads, {per_thread:,} each (the count must be exact):")
    base = None
    for threads in (1, 2, 4):
        total, secs = _parallel_count(threads, per_thread)
        ok = "exact" if total == threads * per_thread else f"WRONG ({total})"
        rate = total / secs
        base = base or rate
        print(f"  {threads} thread(s)  {rate / 1e6:6.2f} M ops/s  ({rate / base:4.2f}x)  {ok}")
        if total != threads * per_thread:
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m freeorder", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="demo", choices=["demo"], help="what to run (default: demo)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo()
    return 2
