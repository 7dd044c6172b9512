"""pyperf: lock-free stack and queue against lock-guarded and stdlib baselines.

For 1, 2, 4 and 8 threads, each thread runs put+take pairs on one shared
structure; the value is time per pair summed over threads (throughput is its
inverse). Also the uncontended cost of a reclaimer pin+unpin beside one
atomic load, and a stack pair under each reclaimer (epoch vs hazard vs none).

Run: python benchmarks/bench_structures.py --fast -o out.json   (or nox -t bench)
"""

from __future__ import annotations

import collections
import queue
import sys
import threading

import pyperf

from bench_atomics import loop_time, run_threads
from freeorder import atomic
from freeorder.lockfree import MSQueue, TreiberStack
from freeorder.reclaim import make_reclaimer

THREAD_COUNTS = (1, 2, 4, 8)
CAPACITY = 1 << 15


class LockedDeque:
    """The baseline users would write: a deque behind a threading.Lock."""

    def __init__(self):
        self._items = collections.deque()
        self._lock = threading.Lock()

    def put(self, item):
        with self._lock:
            self._items.append(item)

    def take_fifo(self):
        with self._lock:
            return self._items.popleft() if self._items else None

    def take_lifo(self):
        with self._lock:
            return self._items.pop() if self._items else None


def construct(cls, capacity: int, **kwargs):
    """``cls(capacity=..., **kwargs)``; structures that grow on demand (issue 9) take no capacity."""
    try:
        return cls(capacity=capacity, **kwargs)
    except TypeError:
        return cls(**kwargs)


def make_pairs(kind: str, reclaimer: str):
    """(put, take) bound methods of a fresh structure of the given kind."""
    capacity = CAPACITY if reclaimer != "none" else 1 << 21  # never reused: room for a whole run
    if kind == "MSQueue":
        q = construct(MSQueue, capacity, reclaimer=make_reclaimer(reclaimer))
        return q.enqueue, lambda: q.dequeue(None)
    if kind == "TreiberStack":
        s = construct(TreiberStack, capacity, reclaimer=make_reclaimer(reclaimer))
        return s.push, lambda: s.pop(None)
    if kind == "Lock+deque (FIFO)":
        d = LockedDeque()
        return d.put, d.take_fifo
    if kind == "Lock+deque (LIFO)":
        d = LockedDeque()
        return d.put, d.take_lifo
    if kind == "queue.SimpleQueue":
        q = queue.SimpleQueue()

        def take():
            try:
                return q.get_nowait()
            except queue.Empty:
                return None

        return q.put, take
    raise ValueError(kind)


def pairs_bench(kind: str, reclaimer: str, threads: int):
    def time_func(loops):
        put, take = make_pairs(kind, reclaimer)

        def body(n):
            for i in range(n):
                put(i)
                take()

        return run_threads(threads, body, loops)

    return time_func


def main():
    runner = pyperf.Runner()
    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    runner.metadata["freeorder_gil_enabled"] = str(gil)

    cell = atomic.AtomicInt()
    runner.bench_time_func("uncontended atomic load", lambda loops: loop_time(cell.load, (), loops))
    for name in ("epoch", "hazard", "none"):
        r = make_reclaimer(name)

        def pin_unpin(loops, pin=r.pin):
            import time

            t0 = time.perf_counter()
            for _ in range(loops):
                pin().unpin()
            return time.perf_counter() - t0

        runner.bench_time_func(f"uncontended pin+unpin {name}", pin_unpin)

    cases = [("TreiberStack", "epoch"), ("TreiberStack", "hazard"), ("TreiberStack", "none"),
             ("Lock+deque (LIFO)", "-"),
             ("MSQueue", "epoch"), ("MSQueue", "hazard"), ("Lock+deque (FIFO)", "-"), ("queue.SimpleQueue", "-")]
    for threads in THREAD_COUNTS:
        for kind, reclaimer in cases:
            label = kind if reclaimer == "-" else f"{kind}[{reclaimer}]"
            runner.bench_time_func(f"pairs {label} threads={threads}", pairs_bench(kind, reclaimer, threads),
                                   inner_loops=threads)


if __name__ == "__main__":
    main()
