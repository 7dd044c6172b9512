"""pyperf: SkipListMap vs a Lock-guarded SortedDict, OrderIndex vs a Lock-guarded dict.

Workload: a map prefilled with ``PREFILL`` keys drawn from ``KEYSPACE``; each
operation is get (50%), insert (25%) or remove (25%) of a uniformly random
key, from 1, 2, 4 and 8 threads started on a barrier. The value is wall time
per operation across all threads (throughput is its inverse). Keys and op
choices are drawn before timing. GC: left at the interpreter's defaults
(the structures' hot state is in int arenas, not GC-tracked objects).

Run:  python benchmarks/bench_skiplist.py [--fast] [-o out.json]
"""

from __future__ import annotations

import random
import threading
import time

import pyperf
from sortedcontainers import SortedDict

from freeorder.lockfree.order_index import OrderIndex
from freeorder.lockfree.skiplist import SkipListMap

THREAD_COUNTS = (1, 2, 4, 8)
KEYSPACE = 20_000
PREFILL = 10_000
SCRIPT = 4096  # pre-drawn (op, key) pairs per thread, cycled


def make_script(seed):
    rnd = random.Random(seed)
    return [(rnd.choice("ggir"), rnd.randrange(KEYSPACE)) for _ in range(SCRIPT)]


SCRIPTS = [make_script(seed) for seed in range(max(THREAD_COUNTS))]


def skiplist_worker(m):
    get, insert, pop = m.get, m.insert, m.pop

    def body(script, n):
        i = 0
        for _ in range(n):
            op, key = script[i]
            i = (i + 1) % SCRIPT
            if op == "g":
                get(key)
            elif op == "i":
                insert(key, key)
            else:
                pop(key, None)

    return body


def locked_sorteddict_worker(d, lock):
    def body(script, n):
        i = 0
        for _ in range(n):
            op, key = script[i]
            i = (i + 1) % SCRIPT
            with lock:
                if op == "g":
                    d.get(key)
                elif op == "i":
                    d[key] = key
                else:
                    d.pop(key, None)

    return body


def order_index_worker(index):
    get, insert, pop = index.get, index.insert, index.pop

    def body(script, n):
        i = 0
        for _ in range(n):
            op, key = script[i]
            i = (i + 1) % SCRIPT
            if op == "g":
                get(key)
            elif op == "i":
                insert(key, key)
            else:
                pop(key, None)

    return body


def locked_dict_worker(d, lock):
    def body(script, n):
        i = 0
        for _ in range(n):
            op, key = script[i]
            i = (i + 1) % SCRIPT
            with lock:
                if op == "g":
                    d.get(key)
                elif op == "i":
                    if key not in d:
                        d[key] = key
                else:
                    d.pop(key, None)

    return body


def run_threads(threads, body, loops):
    """Each of ``threads`` threads runs its share of ``loops`` ops; returns wall time."""
    share = max(1, loops // threads)
    barrier = threading.Barrier(threads + 1)

    def work(t):
        barrier.wait()
        body(SCRIPTS[t], share)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    t0 = time.perf_counter()
    for thread in pool:
        thread.join()
    return (time.perf_counter() - t0) * loops / (share * threads)


def prefill(insert):
    for key in random.Random(99).sample(range(KEYSPACE), PREFILL):
        insert(key, key)


def bench(factory, threads):
    state = {}

    def time_func(loops):
        if "body" not in state:
            state["body"] = factory()
        return run_threads(threads, state["body"], loops)

    return time_func


def construct(cls, **kwargs):
    """``cls(**kwargs)``; without ``capacity`` for structures that grow on demand (issue 9)."""
    try:
        return cls(**kwargs)
    except TypeError:
        kwargs.pop("capacity", None)
        return cls(**kwargs)


def new_skiplist():
    m = construct(SkipListMap, capacity=KEYSPACE * 4)
    prefill(m.insert)
    return skiplist_worker(m)


def new_locked_sorteddict():
    d = SortedDict()
    prefill(d.__setitem__)
    return locked_sorteddict_worker(d, threading.Lock())


def new_order_index():
    index = construct(OrderIndex, capacity=KEYSPACE * 2, buckets=KEYSPACE)
    prefill(index.insert)
    return order_index_worker(index)


def new_locked_dict():
    d = {}
    prefill(d.__setitem__)
    return locked_dict_worker(d, threading.Lock())


def main():
    runner = pyperf.Runner()
    runner.metadata["description"] = "get 50% / insert 25% / remove 25%, time per op across threads"
    for threads in THREAD_COUNTS:
        runner.bench_time_func(f"skiplist-mix-{threads}t", bench(new_skiplist, threads))
        runner.bench_time_func(f"locked-sorteddict-mix-{threads}t", bench(new_locked_sorteddict, threads))
        runner.bench_time_func(f"order-index-mix-{threads}t", bench(new_order_index, threads))
        runner.bench_time_func(f"locked-dict-mix-{threads}t", bench(new_locked_dict, threads))


if __name__ == "__main__":
    main()
