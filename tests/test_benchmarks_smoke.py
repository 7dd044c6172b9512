"""Correctness of the benchmark harness (benchmarks/): histogram, loops, stall wiring, targets.

Nothing here times anything or asserts on speed: runs are a few ms long and
only their bookkeeping is checked.
"""

from __future__ import annotations

import collections
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_stall  # noqa: E402
import targets  # noqa: E402
import workloads  # noqa: E402
from histogram import LINEAR, SUB_BITS, Histogram, bucket_of, highest_in_bucket, merged  # noqa: E402

pytestmark = pytest.mark.thread_unsafe(reason="starts its own threads; sys.path")


# -- histogram --------------------------------------------------------------------------------


def test_small_values_are_exact():
    h = Histogram()
    for v in range(1, 101):  # 1..100 ns, all below LINEAR
        h.record(v)
    assert h.summary() == {"count": 100, "p50": 50, "p99": 99, "p99.9": 100, "max": 100}
    assert h.percentile(0) == 1 and h.percentile(100) == 100


def test_buckets_tile_the_range_and_bound_the_error():
    previous_high = -1
    for index in range(40 * (1 << (SUB_BITS - 1))):
        high = highest_in_bucket(index)
        assert high > previous_high  # buckets are contiguous and increasing
        previous_high = high
    rnd = random.Random(1)
    for _ in range(10_000):
        v = rnd.randrange(1 << rnd.randrange(1, 50))
        high = highest_in_bucket(bucket_of(v))
        assert v <= high <= v + v / (1 << (SUB_BITS - 1))  # within the stated relative error
        if v < LINEAR:
            assert high == v


def test_percentiles_of_known_data():
    h = Histogram()
    values = [1_000] * 990 + [50_000] * 9 + [3_000_000]  # 99% at 1 µs, 0.9% at 50 µs, one 3 ms
    random.Random(2).shuffle(values)
    for v in values:
        h.record(v)
    s = h.summary()
    assert s["count"] == 1000
    assert 1_000 <= s["p50"] <= 1_016 and 1_000 <= s["p99"] <= 1_016
    assert 50_000 <= s["p99.9"] <= 50_800
    assert s["max"] == 3_000_000  # exact


def test_merge_adds_counts_and_keeps_max():
    a, b = Histogram(), Histogram()
    for v in range(1, 51):
        a.record(v)
    for v in range(51, 101):
        b.record(v)
    b.record(10**9)
    m = merged([a, b])
    assert m.count == 101 and m.max == 10**9 and m.min == 1
    assert m.percentile(50) == 51


def test_empty_histogram():
    assert Histogram().summary() == {"count": 0, "p50": 0, "p99": 0, "p99.9": 0, "max": 0}


# -- loops and runs ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", [workloads.locked_deque_case("queue"), workloads.locked_dict_case(),
                                  workloads.counter_cases()[-1]], ids=lambda c: c.name)
def test_timed_run_records_every_operation(case):
    run = workloads.run_case(case, threads=2, seconds=0.02, timed=True)
    assert run.error is None
    done = sum(t.done for t in run.threads)
    per_step = 2 if case.group in workloads.PAIR_GROUPS else 1  # a pair is two operations
    assert done > 0 and run.histogram().count == per_step * done


def test_worker_error_is_reported_not_raised():
    def build():
        def put(x):
            raise MemoryError("arena exhausted (stand-in)")

        return workloads.Built((put, lambda default: default))

    case = workloads.Case("broken", "queue", build)
    run = workloads.run_case(case, threads=2, seconds=0.01, timed=False)
    assert run.error == "MemoryError: arena exhausted (stand-in)"


def test_failing_setup_in_one_thread_does_not_hang_the_others():
    def prepare(tid):
        if tid == 1:
            raise TypeError("handle() takes no on_step (stand-in)")
        return lambda deadline, result: 0

    run = workloads.run_threads(3, prepare, seconds=0.01)
    assert run.error == "TypeError: handle() takes no on_step (stand-in)"


def test_missing_peer_is_unavailable():
    with pytest.raises(workloads.Unavailable, match="not installed"):
        workloads._peer("freeorder_no_such_module", "Thing")


# -- the stall scenario, with a stand-in structure that has handle(on_step) ---------------------


class StandInQueue:
    """A deque-backed queue with the handle(on_step=...) contract of issue 9."""

    def __init__(self):
        self._items = collections.deque()
        self.steps = collections.Counter()

    def enqueue(self, item, _on_step=None):
        self._items.append(item)
        if _on_step is not None:
            _on_step("enqueue:linked")

    def dequeue(self, default=None):
        try:
            return self._items.popleft()
        except IndexError:
            return default

    def handle(self, on_step=None):
        outer = self

        class Handle:
            def enqueue(self, item):
                outer.steps["enqueue"] += 1
                outer.enqueue(item, on_step)

            dequeue = outer.dequeue

        return Handle()


def test_staller_pauses_only_through_its_handle():
    case = bench_stall.handle_case("stand-in", StandInQueue, "enqueue:linked", "enqueue", "dequeue", "put", None)
    pauses = []
    result = bench_stall.run_once(case, stalled=True, timed=True, seconds=0.05, pause=lambda: pauses.append(1))
    assert result["error"] is None
    assert result["pauses"] == len(pauses) > 0
    assert result["others_rate"] > 0 and result["others_p99.9"] > 0


def test_lock_baseline_pauses_inside_the_lock():
    case = bench_stall.lock_case(fifo=False)
    held = []

    def pause():
        held.append(case_structure[0]._lock.locked())

    case_structure = []
    build = case.build

    def spying_build():
        built = build()
        case_structure.append(built[0])
        return built

    case.build = spying_build
    result = bench_stall.run_once(case, stalled=True, timed=False, seconds=0.03, pause=pause)
    assert result["error"] is None and held and all(held)


def test_structure_without_handle_is_not_available():
    case = bench_stall.handle_case("plain", collections.deque, "x", "append", "pop", "put", None)
    with pytest.raises(workloads.Unavailable, match="not available"):
        case.build()


# -- targets ----------------------------------------------------------------------------------


def _sitting(ms, lock, load, pin):
    return {"cases": {"MSQueue": {"2": {"rate": ms, "error": None}},
                      "Lock+deque (FIFO)": {"2": {"rate": lock, "error": None}}},
            "micro": {"AtomicInt.load": load, "pin+unpin (epoch)": pin}}


def test_verdicts_take_the_median_of_per_sitting_ratios():
    result = {"raw": [_sitting(40, 100, 20, 100), _sitting(50, 100, 20, 200), _sitting(10, 100, 20, 400)]}
    by_label = {v.label.split(",")[0].split(" ÷")[0]: v for v in targets.evaluate(latency=result)}
    queue = by_label["MSQueue (default) pairs/s"]
    assert queue.ratios == [0.4, 0.5, 0.1] and queue.ratio == 0.4 and queue.status == "met"
    pin = by_label["pin+unpin (epoch)"]
    assert pin.ratio == 10.0 and pin.status == "missed"
    assert by_label["TreiberStack (default) pairs/s"].status == "not measured"
