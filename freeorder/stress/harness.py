"""The stress harness: barrier start, deadline, per-thread RNG, first error stops all."""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable


@dataclasses.dataclass
class RunResult:
    threads: int
    seconds: float
    ops: list[int]
    errors: list[BaseException]

    @property
    def total_ops(self) -> int:
        return sum(self.ops)

    @property
    def ops_per_second(self) -> float:
        return self.total_ops / self.seconds if self.seconds else 0.0


def run(threads: int, seconds: float, seed: int, step: Callable[[int, random.Random], int],
        check_every: int = 64) -> RunResult:
    """Call ``step(thread_index, rng)`` on each thread until the deadline.

    ``step`` does a batch of operations and returns how many. Threads start
    on a barrier; an exception in any thread stops every thread.
    """
    barrier = threading.Barrier(threads + 1)
    stop = threading.Event()
    ops = [0] * threads
    errors: list[BaseException] = []

    def body(i: int) -> None:
        rng = random.Random(seed * 1_000_003 + i)
        done = 0
        try:
            barrier.wait()
            while not stop.is_set():
                for _ in range(check_every):
                    done += step(i, rng)
        except BaseException as exc:  # noqa: BLE001 - reported by the harness
            errors.append(exc)
            stop.set()
        finally:
            ops[i] = done

    pool = [threading.Thread(target=body, args=(i,), name=f"stress-{i}") for i in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    stop.wait(seconds)
    stop.set()
    for t in pool:
        t.join(60)
        if t.is_alive():
            errors.append(RuntimeError(f"{t.name} did not stop within 60 s of the deadline"))
    return RunResult(threads, time.perf_counter() - start, ops, errors)


def run_counted(threads: int, ops: int, seed: int, step: Callable[[int, random.Random, int], None],
                seconds: float = 60.0) -> RunResult:
    """Call ``step(thread_index, rng, k)`` for k in range(ops) on each thread (bounded by ``seconds``)."""
    barrier = threading.Barrier(threads + 1)
    stop = threading.Event()
    done_ops = [0] * threads
    errors: list[BaseException] = []

    def body(i: int) -> None:
        rng = random.Random(seed * 1_000_003 + i)
        try:
            barrier.wait()
            for k in range(ops):
                if stop.is_set():
                    break
                step(i, rng, k)
                done_ops[i] = k + 1
        except BaseException as exc:  # noqa: BLE001 - reported by the harness
            errors.append(exc)
            stop.set()

    pool = [threading.Thread(target=body, args=(i,), name=f"record-{i}") for i in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join(max(0.0, start + seconds - time.perf_counter()))
    stop.set()
    for t in pool:
        t.join(60)
        if t.is_alive():
            errors.append(RuntimeError(f"{t.name} did not stop"))
    return RunResult(threads, time.perf_counter() - start, done_ops, errors)
