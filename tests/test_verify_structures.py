"""The product's own structures under the model checker: every schedule with up to
two preemptions (three for the slow variants), with each reclaimer and the sanitizer on."""

import pytest

from freeorder import verify
from freeorder.lockfree import MSQueue, SeqLock, TreiberStack
from freeorder.reclaim import make_reclaimer

pytestmark = pytest.mark.thread_unsafe(reason="the model checker switches the global atomics backend")

RECLAIMERS = ["epoch", "hazard", "none"]


def reclaimer(name):
    # tiny thresholds so slots are freed and reused inside the explored executions
    options = {"epoch": {"bag_size": 1, "advance_every": 1}, "hazard": {"min_scan": 1}, "none": {}}[name]
    return make_reclaimer(name, max_threads=4, **options)


def spawn(rec, fn):
    """A model thread that gives back its reclaimer record before it ends, so the
    release happens inside the model rather than at an unscheduled thread exit."""

    def run():
        try:
            return fn()
        finally:
            rec.unregister()

    return verify.spawn(run)


def stack_body(name):
    def body():
        rec = reclaimer(name)
        s = TreiberStack(max_capacity=8, reclaimer=rec, sanitize=True)
        s.push(1)
        s.push(2)
        pusher = spawn(rec, lambda: s.push(3))
        poppers = [spawn(rec, lambda: s.pop(None)) for _ in range(2)]
        popped = [p.join() for p in poppers]
        pusher.join()
        rest = s.to_list()
        got = [x for x in popped if x is not None]
        assert sorted(got + rest) == [1, 2, 3], (popped, rest)
        assert len(got) == 2, "two pops on a stack that always held an item must both succeed"
        assert s.arena.violations == []

    return body


def queue_body(name):
    def body():
        rec = reclaimer(name)
        q = MSQueue(max_capacity=8, reclaimer=rec, sanitize=True)
        q.enqueue(1)
        producer = spawn(rec, lambda: (q.enqueue(2), q.enqueue(3)))
        consumer = spawn(rec, lambda: [q.dequeue(None) for _ in range(2)])
        taken = consumer.join()
        producer.join()
        rest = q.to_list()
        got = [x for x in taken if x is not None]
        assert got[0] == 1
        assert got + rest == [1, 2, 3], (taken, rest)  # FIFO, nothing lost or doubled
        q.audit()
        assert q.arena.violations == []

    return body


def seqlock_reader_body():
    def body():
        s = SeqLock(2, [0, 0])
        writer = verify.spawn(lambda: (s.write([1, 1]), s.write([2, 2])))
        reader = verify.spawn(s.read)
        seen = reader.join()
        writer.join()
        assert seen in ((0, 0), (1, 1), (2, 2)), f"torn read {seen}"

    return body


def seqlock_writers_body():
    def body():
        s = SeqLock(2, [0, 0])
        writers = [verify.spawn(lambda: s.update(lambda v: (v[0] + 1, v[1] + 1))) for _ in range(2)]
        for w in writers:
            w.join()
        assert s.read() == (2, 2), "an update was lost: two writers were inside at once"

    return body


# every schedule of the full stack: about 85 s of CPU on 3.13t here, over the 120 s default when the
# machine is busy; a livelock would still fail within this limit
@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", RECLAIMERS)
def test_treiber_stack_every_schedule(name):
    report = verify.model(stack_body(name), max_preemptions=2)
    assert report.complete and report.executions > 1


@pytest.mark.parametrize("name", RECLAIMERS)
def test_ms_queue_every_schedule(name):
    report = verify.model(queue_body(name), max_preemptions=2)
    assert report.complete and report.executions > 1


@pytest.mark.parametrize("make", [seqlock_reader_body, seqlock_writers_body])
def test_seqlock_every_schedule(make):
    report = verify.model(make(), max_preemptions=2)
    assert report.complete and report.executions > 1


def small_stack_body(name):
    def body():
        rec = reclaimer(name)
        s = TreiberStack(max_capacity=8, reclaimer=rec, sanitize=True)
        s.push(1)
        pusher = spawn(rec, lambda: s.push(2))
        popper = spawn(rec, lambda: s.pop(None))
        got = popper.join()
        pusher.join()
        assert sorted(s.to_list() + [got]) == [1, 2]

    return body


@pytest.mark.slow
@pytest.mark.parametrize("name", RECLAIMERS)
def test_treiber_stack_bound_three_two_threads(name):
    assert verify.model(small_stack_body(name), max_preemptions=3).complete


@pytest.mark.slow
@pytest.mark.parametrize("body", [stack_body, queue_body])
def test_three_threads_bound_three_without_reclamation(body):
    assert verify.model(body("none"), max_preemptions=3).complete


def test_the_checker_sees_a_broken_treiber_pop():
    """The same harness fails on a pop that frees the slot before it reads the item."""

    class Broken(TreiberStack):
        def pop(self, default=None):
            guard = self.reclaimer.pin()
            try:
                head = guard.protect(0, self._head, 0)
                while head:
                    index = (head >> 1) & 0x7FFFFFFF
                    if self._head.compare_exchange(0, head, self._next.load(index)) == head:
                        self.arena.mark_retired(head)
                        self.arena.free(head)          # bug: reused before the item is read
                        self.push("junk")              # someone takes the slot
                        return self.arena.payload[index]
                    head = guard.protect(0, self._head, 0)
                return default
            finally:
                guard.unpin()

    def body():
        rec = reclaimer("epoch")
        s = Broken(max_capacity=8, reclaimer=rec, sanitize=True)
        s.push(1)
        t = spawn(rec, lambda: s.pop(None))
        assert t.join() == 1

    with pytest.raises(verify.ModelFailure) as failure:
        verify.model(body)
    assert failure.value.schedule is not None
