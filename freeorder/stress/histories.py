"""Many small recorded histories of an engine, each checked for linearizability.

One history: a fresh engine with one symbol, ``threads`` threads started on a
barrier, about ``ops`` operations in all (``ops // threads`` each): the
seeded ``OrderFlow`` (limit, market and IOC submits, cancels and modifies of
the thread's own orders, some of them finished) with a read (``best``, or
``depth`` of 1 to 3 levels) in place of one command in four. Every call and
return is recorded (``freeorder.verify.History``) and the history is checked
by ``freeorder.verify``'s linearizability checker against the reference
book (``freeorder.verify.specs.OrderBookModel``, reads answered without
extending its state). One symbol, so every command of a history goes through
the one command log and its helping; short, so the checker's search stays
small while the threads still overlap (``overlap``: the share of operations
that overlap another thread's in real time).

``check_histories(count, ...)`` runs ``count`` histories, history ``i`` with
seed ``seed + i`` and the thread counts taken in turn; ``freeorder stress
engine --histories 1000`` runs it from the command line.

GC policy: the cyclic collector is disabled while histories run (3.13t's
collector walks every object) and run explicitly every ``COLLECT_EVERY``
histories (each engine's reclaimer and arenas are a few dozen objects in
cycles); the caller's setting is restored at the end.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import random
import sys
import time

from freeorder.book import Instrument
from freeorder.engines.workload import Command, OrderFlow
from freeorder.verify import History, check_linearizable
from freeorder.verify.specs import OrderBookModel

from .harness import run_counted
from .linearizability import record_command

SYMBOL = "AAA"
READ_SHARE = 0.25
COLLECT_EVERY = 100


@dataclasses.dataclass
class HistoriesResult:
    """What ``check_histories`` did: counts, time, and the first failures (with their seeds)."""

    histories: int = 0
    operations: int = 0
    overlapping: int = 0  # operations that overlap another thread's operation in real time
    seconds: float = 0.0
    check_seconds: float = 0.0
    failures: list = dataclasses.field(default_factory=list)  # (seed, threads, explanation)

    @property
    def overlap(self) -> float:
        return self.overlapping / self.operations if self.operations else 0.0


def _mixed_op(engine):
    """The per-thread operation of one history: the order flow, with reads mixed in."""
    flows: dict = {}

    def op(h, thread, rng, k):
        flow = flows.get(thread)
        if flow is None:
            flow = flows[thread] = OrderFlow([SYMBOL], rng.randrange(1 << 30), spread=6, owners=3)
        roll = rng.random()
        if roll < READ_SHARE / 2:
            command = Command("best", SYMBOL, ())
        elif roll < READ_SHARE:
            command = Command("depth", SYMBOL, (rng.randint(1, 3),))
        else:
            command = flow.next()
        record_command(h, thread, engine, command, flow)

    return op


def overlapping(ops) -> int:
    """How many of ``ops`` overlap, in real time, an operation of another thread."""
    count = 0
    for op in ops:
        for other in ops:
            if other.thread != op.thread and other.call < op.ret and op.call < other.ret:
                count += 1
                break
    return count


def record_one(engine_class, threads: int, ops: int, seed: int):
    """Record one history; returns (operations, model, errors raised by the run)."""
    instrument = Instrument(SYMBOL, tick_size=1)
    engine = engine_class([instrument])
    op = _mixed_op(engine)
    history = History()

    def step(i: int, rng: random.Random, k: int) -> None:
        op(history, i, rng, k)

    result = run_counted(threads, max(1, ops // threads), seed, step)
    return history.operations(), OrderBookModel([instrument]), result.errors


def check_histories(count: int, *, engine_class=None, ops: int = 100, threads=(2, 8), seed: int = 0,
                    timeout: float = 60.0, progress=None) -> HistoriesResult:
    """Record and check ``count`` histories (see the module docstring); stops at the fifth failure."""
    if engine_class is None:
        from freeorder.engines import LockFreeEngine as engine_class
    out = HistoriesResult()
    was_enabled = gc.isenabled()
    gc.disable()
    started = time.perf_counter()
    try:
        for i in range(count):
            n = threads[i % len(threads)]
            ops_list, model, errors = record_one(engine_class, n, ops, seed + i)
            out.histories += 1
            out.operations += len(ops_list)
            out.overlapping += overlapping(ops_list)
            if errors:
                out.failures.append((seed + i, n, f"the run raised {type(errors[0]).__name__}: {errors[0]}"))
            else:
                verdict = check_linearizable(model, ops_list, timeout=timeout)
                out.check_seconds += verdict.elapsed
                if not verdict.linearizable:
                    out.failures.append((seed + i, n, verdict.explain()))
            if len(out.failures) >= 5:
                break
            if (i + 1) % COLLECT_EVERY == 0:
                gc.collect()
                if progress is not None:
                    progress(out, time.perf_counter() - started)
    finally:
        out.seconds = time.perf_counter() - started
        if was_enabled:
            gc.enable()
    return out


def describe(out: HistoriesResult) -> str:
    return (f"{out.histories:,} histories, {out.operations:,} operations "
            f"({out.overlap:.0%} overlapping another thread's), {out.seconds:.1f} s "
            f"(checker {out.check_seconds:.1f} s), {len(out.failures)} failed")


def engine_class(structure: str):
    """The engine a stress structure name stands for."""
    if structure == "engine":
        from freeorder.engines import LockFreeEngine

        return LockFreeEngine
    if structure == "engine-replicated":
        from freeorder.engines import ReplicatedEngine

        # a small checkpoint interval, so histories cross checkpoints (as stress.linearizability)
        return functools.partial(ReplicatedEngine, checkpoint_every=8)
    raise ValueError(f"structure={structure!r}: --histories records engines only (engine, engine-replicated)")


def main(structure: str, count: int, ops: int, threads: tuple[int, ...], seed: int) -> int:
    """``freeorder stress <engine> --histories N``: run, print counts and time, 1 if any failed."""
    engine = engine_class(structure)
    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    print(f"stress {structure} --histories {count}: ops={ops} threads={','.join(map(str, threads))} "
          f"seed={seed} gil={gil} gc=off (collected every {COLLECT_EVERY} histories)")

    def progress(out, seconds):
        print(f"  {out.histories:>6,} histories in {seconds:.1f} s", flush=True)

    out = check_histories(count, engine_class=engine, ops=ops, threads=threads, seed=seed, progress=progress)
    print(f"  {describe(out)}")
    if not out.failures:
        print("linearizability: OK")
        return 0
    print("linearizability: FAILED")
    for failed_seed, n, explanation in out.failures:
        print(f"- seed {failed_seed}, {n} threads (freeorder stress {structure} --histories 1 --seed {failed_seed} "
              f"--history-threads {n} --history-ops {ops}):")
        print(explanation)
    return 1
