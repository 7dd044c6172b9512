"""OrderIndex under the model checker: every schedule of two threads with a bounded
number of preemptions (``BOUNDS``; two for hazard pointers in the slow run), with
each reclaimer (tiny thresholds, so slots are freed and reused inside the explored
executions) and the sanitizer on. Each execution's history (stamped in model-step
order) must be linearizable against the index's spec, the index must pass its
audit, and the sanitizer must see no use after reclaim.

Scenarios, on one bucket holding ids 1 and 3:

- an insert of 2 racing the removal of 1, its predecessor (Michael's list: the
  remover's mark must make the insert's link compare-exchange fail);
- an insert of 1 racing the removal of 1 (insert-if-absent against remove);
- two removals of 1, the second thread then getting 1, on the fast path (epoch or no
  reclaimer, sanitizer off: ``get``'s inlined search): a second removal that finds 1 already
  marked reports it absent, so the get that follows must not report it, though it is still linked.

The same harness fails on an index whose removals never mark the node.
"""

import pytest

from freeorder import verify
from freeorder.lockfree import OrderIndex
from freeorder.lockfree.arena import MARK
from freeorder.verify.specs import OrderIndexModel
from modelutil import keyed_race_body, then
from test_verify_structures import RECLAIMERS

pytestmark = pytest.mark.thread_unsafe(reason="the model checker switches the global atomics backend")

BOUNDS = {"epoch": 2, "hazard": 1, "none": 3}


class MarkIgnored:
    """An atomic array whose marking compare-exchange reports success and writes nothing:
    broken on purpose (the removal's logical delete never happens)."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def compare_exchange(self, index, expected, desired, *args, **kwargs):
        if desired == expected | MARK and desired != expected:
            return self._inner.load(index)
        return self._inner.compare_exchange(index, expected, desired, *args, **kwargs)


def index_body(name, racers, broken=False, sanitize=True):
    """Thread 0 inserts ids 1 and 3 (one bucket), runs ``racers`` on threads of their own, then
    reads every id; the whole history must linearize."""

    def make(rec):
        index = OrderIndex(max_capacity=8, buckets=1, reclaimer=rec, sanitize=sanitize)
        if broken:
            index._next = MarkIgnored(index._next)
        return index

    return keyed_race_body(name, make, racers, OrderIndexModel())


def insert(key, payload):
    def op(index, h, thread):
        h.record(thread, "insert", index.insert, key, payload)

    return op


def pop(key):
    def op(index, h, thread):
        h.record(thread, "pop", lambda k: index.pop(k, None), key)

    return op


SCENARIOS = {"insert-after-removed-pred": [insert(2, "b"), pop(1)], "insert-racing-remove": [insert(1, "A"), pop(1)]}


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("name", RECLAIMERS)
def test_every_schedule(name, scenario):
    report = verify.model(index_body(name, SCENARIOS[scenario]), max_preemptions=BOUNDS[name])
    assert report.complete and report.executions > 1


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_schedule_hazard_bound_two(scenario):
    report = verify.model(index_body("hazard", SCENARIOS[scenario]), max_preemptions=2)
    assert report.complete and report.executions > 1


def get(key):
    def op(index, h, thread):
        h.record(thread, "get", index.get, key)

    return op


@pytest.mark.parametrize("name", ["epoch", "none"])
def test_fast_path_get_after_a_racing_remove_every_schedule(name):
    report = verify.model(index_body(name, [pop(1), then(pop(1), get(1))], sanitize=False),
                          max_preemptions=BOUNDS[name])
    assert report.complete and report.executions > 1


def test_the_check_sees_removals_that_do_not_mark():
    with pytest.raises(verify.ModelFailure, match="not linearizable"):
        verify.model(index_body("epoch", SCENARIOS["insert-after-removed-pred"], broken=True), max_preemptions=2)
