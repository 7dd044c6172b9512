"""Slots in use over time when producers outrun the consumer (epoch vs hazard).

Two producer threads enqueue as fast as they can (backing off only while the
queue holds more than --cap items) and one consumer dequeues; every second the
run samples the queue length, the arena's slots in use and the retired but
not yet reclaimed slots. The claim checked: unreclaimed garbage stays bounded
(it does not grow with time), so slots in use ≈ queue length + a constant.

Run: python benchmarks/bench_reclaim_memory.py --seconds 60 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

from freeorder.lockfree import MSQueue
from freeorder.reclaim import make_reclaimer


def run(reclaimer_name: str, seconds: float, cap: int) -> list[dict]:
    reclaimer = make_reclaimer(reclaimer_name)
    q = MSQueue(max_capacity=cap + 200_000, reclaimer=reclaimer)
    length = [0, 0]  # enqueued, dequeued (each written by one kind of thread)
    stop = threading.Event()
    enq = [0, 0]

    def producer(i):
        k = 0
        while not stop.is_set():
            if sum(enq) - length[1] > cap:
                time.sleep(0.0005)
                continue
            q.enqueue(k)
            k += 1
            enq[i] = k

    def consumer():
        n = 0
        while not stop.is_set():
            if q.dequeue(None) is not None:
                n += 1
                length[1] = n

    threads = [threading.Thread(target=producer, args=(i,)) for i in range(2)] + [threading.Thread(target=consumer)]
    for t in threads:
        t.start()
    samples = []
    start = time.perf_counter()
    for second in range(1, int(seconds) + 1):
        time.sleep(max(0.0, start + second - time.perf_counter()))
        st = reclaimer.stats()
        samples.append({
            "t": second,
            "queue_length": sum(enq) - length[1],
            "slots_in_use": q.arena.in_use,
            "unreclaimed": st["pending"],
            "retired": st["retired"],
        })
    stop.set()
    for t in threads:
        t.join()
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--cap", type=int, default=50_000, help="producers back off above this queue length")
    parser.add_argument("--json", help="write the samples here")
    args = parser.parse_args()
    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    out = {"gil_enabled": gil, "seconds": args.seconds, "cap": args.cap, "runs": {}}
    for name in ("epoch", "hazard"):
        samples = run(name, args.seconds, args.cap)
        out["runs"][name] = samples
        pending = [s["unreclaimed"] for s in samples]
        half = len(pending) // 2
        print(f"{name:6s}: retired {samples[-1]['retired']:,}; unreclaimed max {max(pending):,} "
              f"(first half max {max(pending[:half] or [0]):,}, second half max {max(pending[half:]):,}); "
              f"slots in use at end {samples[-1]['slots_in_use']:,} for queue length {samples[-1]['queue_length']:,}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
