"""A large seeded random workload on the reference engine.

As a test: 20k commands build deep queues (thousands of orders per level,
many cancels and modifies), then the invariants must hold, including the full
event stream. As a script, it measures throughput::

    .venv/bin/python tests/test_book_throughput.py [N=100000] [--profile]

prints commands/s (CPU time) for event recording on/off under several GC
settings, and with ``--profile`` the top of a cProfile run.
"""

from __future__ import annotations

import gc
import random
import sys
import time

from freeorder.book import Instrument, OrderStatus, OrderType, Side, check_invariants
from freeorder.engines import ReferenceEngine

S = "X"


def workload(n: int, seed: int = 1) -> list[tuple]:
    """70% limit orders around 1000 (10% of them aggressive), 20% cancels and 5%
    modifies of recent orders, 5% market orders."""
    rng = random.Random(seed)
    ops: list[tuple] = []
    issued = 0
    for _ in range(n):
        r = rng.random()
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        if r < 0.70 or issued < 10:
            offset = -5 if rng.random() < 0.1 else rng.randint(0, 20)
            price = 1000 - offset if side is Side.BUY else 1000 + offset
            ops.append(("limit", side, rng.randint(1, 10), price))
            issued += 1
        elif r < 0.90:
            ops.append(("cancel", rng.randint(max(1, issued - 200), issued)))
        elif r < 0.95:
            ops.append(("market", side, rng.randint(1, 20)))
            issued += 1
        else:
            ops.append(("modify", rng.randint(max(1, issued - 200), issued), rng.randint(1, 10)))
    return ops


def run(ops: list[tuple], record_events: bool) -> ReferenceEngine:
    engine = ReferenceEngine([Instrument(S)], record_events=record_events)
    submit, cancel, modify = engine.submit, engine.cancel, engine.modify
    market = OrderType.MARKET
    for op in ops:
        kind = op[0]
        if kind == "limit":
            submit(S, op[1], op[2], op[3])
        elif kind == "cancel":
            cancel(S, op[1])
        elif kind == "market":
            submit(S, op[1], op[2], order_type=market)
        else:
            modify(S, op[1], quantity=op[2])
    return engine


def test_large_random_workload_keeps_the_invariants():
    engine = run(workload(20_000), record_events=True)
    orders = engine.orders(S)
    check_invariants(engine.snapshot(S), orders, engine.events(S))
    statuses = {o.status for o in orders}
    assert {OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED} <= statuses
    assert max(level.count for level in engine.depth(S, 50).bids) > 100  # the queues got deep


def main(argv: list[str]) -> None:
    n = int(next((a for a in argv if a.isdigit()), 100_000))
    ops = workload(n)
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(f"Python {sys.version.split()[0]}, GIL enabled: {gil}, {n} commands, default gc threshold {gc.get_threshold()}")
    default = gc.get_threshold()
    settings = [
        ("gc default", lambda: None),
        ("gc.set_threshold(100_000, 50, 1000)", lambda: gc.set_threshold(100_000, 50, 1000)),
        ("gc disabled", gc.disable),
    ]
    for record in (False, True):
        for label, apply in settings:
            apply()
            best = float("inf")
            for _ in range(3):
                t0 = time.process_time()
                run(ops, record)
                best = min(best, time.process_time() - t0)
            gc.enable()
            gc.set_threshold(*default)
            print(f"  record_events={record!s:5}  {label:38s} {n / best:10,.0f} commands/s")
    if "--profile" in argv:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.runcall(run, ops, False)
        pstats.Stats(profile).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main(sys.argv[1:])
