"""Time the linearizability checker on a 10,000-operation map history (8 threads, 200 keys).

Run: .venv/bin/python benchmarks/bench_linearizability.py [n_ops] [n_keys]
The history is synthetic and linearizable: each operation takes effect at one
instant inside an interval that overlaps its neighbours', as 8 threads would.
"""

import random
import sys
import time

from freeorder.verify.history import Operation
from freeorder.verify.linearizability import MapModel, check


def map_history(n_ops, n_keys, n_threads=8, seed=11):
    rng = random.Random(seed)
    store, ops, clock = {}, [], 0
    for i in range(n_ops):
        clock += rng.randint(1, 3)
        key = rng.randrange(n_keys)
        kind = rng.choice(("put", "get", "get", "remove"))
        inp = ("put", key, rng.randrange(100)) if kind == "put" else (kind, key)
        prev = store.get(key)
        if kind == "put":
            store[key] = inp[2]
        elif kind == "remove":
            store.pop(key, None)
        call = clock - rng.randint(0, 2 * n_threads)
        ret = clock + rng.randint(0, 2 * n_threads)
        ops.append(Operation(i % n_threads, inp, prev, call, ret))
        clock += 1
    return ops


def main():
    n_ops = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    n_keys = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    ops = map_history(n_ops, n_keys)
    started = time.perf_counter()
    result = check(MapModel(), ops)
    elapsed = time.perf_counter() - started
    print(f"{sys.implementation.name} {sys.version.split()[0]} GIL={getattr(sys, '_is_gil_enabled', lambda: True)()}: "
          f"{n_ops} ops, {result.partitions} keys: linearizable={result.linearizable} in {elapsed:.3f} s")


if __name__ == "__main__":
    main()
