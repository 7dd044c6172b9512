"""The counted-pointer schemes (no reclaimer: a slot is freed, and reused, the moment it leaves)
of the Treiber stack and the MS queue under the model checker (and, at the end, a lighter
two-thread check of both under the epoch and hazard reclaimers, sanitizer on). Each execution's history, stamped
in model-step order, must be linearizable. The sanitizer is off: it would route allocation and
free through its checked versions, and these tests are for the hot paths' inline ones.

These are the schedules where versions matter: a thread holds a reference while others pop it,
free it and push the same slot again (ABA), or a dequeuer reads a node others have since freed
and reused. The same harness fails on a stack whose frees keep the slot's version.
"""

import pytest

from freeorder import verify
from freeorder.lockfree import MSQueue, TreiberStack
from freeorder.lockfree import treiber as treiber_module
from freeorder.verify import QueueModel, StackModel
from modelutil import StepHistory
from test_verify_structures import reclaimer, spawn

pytestmark = pytest.mark.thread_unsafe(reason="the model checker switches the global atomics backend")


class StackWithPeek(StackModel):
    """The stack's spec with ("peek",) -> the top item or None."""

    def apply(self, state, input):
        if input[0] == "peek":
            return (state[-1] if state else None), state
        return super().apply(state, input)


def stack_body():
    """Threads 1 and 3 pop once; thread 2 pops, pushes (reusing the slot it freed) and peeks.

    The ABA schedule: 1 reads head a and its next b; 2 pops a; 3 pops b (freed); 2 pushes x
    into a's slot (head is a again, its next now c); 1's compare-exchange must fail."""

    def body():
        s = TreiberStack(max_capacity=8, sanitize=False)
        h = StepHistory()
        for item in ("c", "b", "a"):
            h.record(0, "push", s.push, item)

        def two():
            h.record(2, "pop", lambda: s.pop(None))
            h.record(2, "push", s.push, "x")
            h.record(2, "peek", lambda: s.peek(None))

        threads = [verify.spawn(lambda: h.record(1, "pop", lambda: s.pop(None))), verify.spawn(two),
                   verify.spawn(lambda: h.record(3, "pop", lambda: s.pop(None)))]
        for t in threads:
            t.join()
        for _ in range(2):
            h.record(0, "pop", lambda: s.pop(None))
        h.check(StackWithPeek())
        s.audit()

    return body


def queue_body():
    """Thread 1 dequeues once; thread 2 dequeues, then enqueues (reusing the freed dummy's slot)."""

    def body():
        q = MSQueue(max_capacity=8, sanitize=False)
        h = StepHistory()
        for item in (1, 2):
            h.record(0, "enqueue", q.enqueue, item)
        one = verify.spawn(lambda: h.record(1, "dequeue", lambda: q.dequeue(None)))

        def two():
            h.record(2, "dequeue", lambda: q.dequeue(None))
            h.record(2, "enqueue", q.enqueue, 3)

        other = verify.spawn(two)
        one.join()
        other.join()
        for _ in range(2):
            h.record(0, "dequeue", lambda: q.dequeue(None))
        h.check(QueueModel())
        q.audit()

    return body


def test_counted_stack_every_schedule():
    report = verify.model(stack_body(), max_preemptions=2)
    assert report.complete and report.executions > 1


def test_counted_queue_every_schedule():
    report = verify.model(queue_body(), max_preemptions=2)
    assert report.complete and report.executions > 1


def test_the_check_sees_a_counted_stack_without_versions(monkeypatch):
    """A pop that frees its slot without the next version: the ABA schedule links a popped node back."""
    monkeypatch.setattr(treiber_module, "VERSION_ONE", 0)  # the hot path's copy of "add one version"
    with pytest.raises(verify.ModelFailure):
        verify.model(stack_body(), max_preemptions=2)


# ---- the same structures under a reclaimer: two threads, the sanitizer on ---------------------


def guarded_stack_body(name):
    """Thread 1 pops; thread 2 pops and pushes (its slot may be one thread 1 still reads)."""

    def body():
        rec = reclaimer(name)
        s = TreiberStack(max_capacity=8, reclaimer=rec, sanitize=True)
        h = StepHistory()
        for item in ("b", "a"):
            h.record(0, "push", s.push, item)
        threads = [spawn(rec, lambda: h.record(1, "pop", lambda: s.pop(None))),
                   spawn(rec, lambda: (h.record(2, "pop", lambda: s.pop(None)), h.record(2, "push", s.push, "x")))]
        for t in threads:
            t.join()
        for _ in range(2):
            h.record(0, "pop", lambda: s.pop(None))
        h.check(StackModel())
        assert s.arena.violations == []

    return body


def guarded_queue_body(name):
    """Thread 1 dequeues; thread 2 enqueues and dequeues."""

    def body():
        rec = reclaimer(name)
        q = MSQueue(max_capacity=8, reclaimer=rec, sanitize=True)
        h = StepHistory()
        h.record(0, "enqueue", q.enqueue, 1)
        threads = [spawn(rec, lambda: h.record(1, "dequeue", lambda: q.dequeue(None))),
                   spawn(rec, lambda: (h.record(2, "enqueue", q.enqueue, 2),
                                       h.record(2, "dequeue", lambda: q.dequeue(None))))]
        for t in threads:
            t.join()
        h.record(0, "dequeue", lambda: q.dequeue(None))
        h.check(QueueModel())
        q.audit()
        assert q.arena.violations == []

    return body


def guarded_dequeuers_body(name):
    """Thread 1 dequeues; thread 2 dequeues twice and frees what it can (the node thread 1 may be
    about to protect included)."""

    def body():
        rec = reclaimer(name)
        q = MSQueue(max_capacity=8, reclaimer=rec, sanitize=True)
        h = StepHistory()
        for item in (1, 2):
            h.record(0, "enqueue", q.enqueue, item)
        threads = [spawn(rec, lambda: h.record(1, "dequeue", lambda: q.dequeue(None))),
                   spawn(rec, lambda: ([h.record(2, "dequeue", lambda: q.dequeue(None)) for _ in range(2)],
                                       rec.flush()))]
        for t in threads:
            t.join()
        h.check(QueueModel())
        q.audit()
        assert q.arena.violations == []

    return body


@pytest.mark.parametrize("name", ["epoch", "hazard"])
@pytest.mark.parametrize("make", [guarded_stack_body, guarded_queue_body, guarded_dequeuers_body])
def test_guarded_two_threads_every_schedule(make, name):
    report = verify.model(make(name), max_preemptions=2)
    assert report.complete and report.executions > 1
