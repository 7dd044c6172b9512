"""The freeze test tells non-blocking code from blocking code in real threads."""

import threading

import pytest

from freeorder import atomic
from freeorder.verify import freeze_point, freeze_test

pytestmark = pytest.mark.thread_unsafe(reason="starts threads and switches the global atomics backend")


class CasCounter:
    """Lock-free: load, then CAS; a frozen thread holds nothing."""

    def __init__(self):
        self.cell = atomic.AtomicInt()

    def incr(self):
        while True:
            v = self.cell.load()
            if self.cell.compare_exchange(v, v + 1) == v:
                return v


class LockedCounter:
    """Blocking: the atomics are touched while a lock is held."""

    def __init__(self):
        self.lock = threading.Lock()
        self.cell = atomic.AtomicInt()

    def incr(self):
        with self.lock:
            v = self.cell.load()
            self.cell.store(v + 1)
            return v


@pytest.mark.parametrize("freeze_at", [1, 2])
def test_lock_free_counter_others_complete_while_victim_is_frozen(freeze_at):
    report = freeze_test(CasCounter, CasCounter.incr, [CasCounter.incr] * 3, freeze_at=freeze_at, timeout=5)
    assert report.ok, report.explain()
    assert not report.blocking
    assert "non-blocking" in report.explain()


def test_frozen_cas_loop_retries_and_counts_exactly():
    counter = []

    def setup():
        counter.append(CasCounter())
        return counter[0]

    report = freeze_test(setup, CasCounter.incr, [CasCounter.incr] * 4, freeze_at=2, timeout=5)
    assert report.ok, report.explain()
    assert counter[0].cell.load() == 5
    assert report.victim_result == 4  # its first CAS failed: it saw the others' increments
    assert sorted(report.other_results) == [0, 1, 2, 3]


def test_lock_guarded_counter_is_reported_as_blocking():
    report = freeze_test(LockedCounter, LockedCounter.incr, [LockedCounter.incr] * 2, freeze_at=1, timeout=0.5)
    assert report.frozen and report.blocking and not report.ok
    assert report.others_completed == [False, False]
    assert report.others_completed_after_release == [True, True]  # released, everyone finishes
    assert report.victim_completed
    assert "blocking: other operations [0, 1] did not complete" in report.explain()


def test_explicit_freeze_point_hook():
    def victim(state):
        state.fetch_add(1)
        freeze_point()  # the second counted operation
        state.fetch_add(1)

    report = freeze_test(atomic.AtomicInt, victim, [lambda s: s.load()], freeze_at=2, timeout=5)
    assert report.ok and report.other_results == [1]


def test_victim_that_finishes_before_the_freeze_point_is_reported():
    report = freeze_test(atomic.AtomicInt, lambda s: s.load(), [lambda s: s.load()], freeze_at=3, timeout=1)
    assert not report.frozen and not report.ok
    assert "never reached its operation 3" in report.explain()


def test_errors_in_operations_are_reported():
    def boom(_):
        raise KeyError("bad")

    report = freeze_test(CasCounter, CasCounter.incr, [boom], timeout=2)
    assert not report.ok and any("KeyError" in e for e in report.errors)
