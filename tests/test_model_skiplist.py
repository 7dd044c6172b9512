"""SkipListMap under the model checker: every schedule of two threads with a bounded
number of preemptions (``BOUNDS``; two for hazard pointers in the slow run), with each reclaimer (tiny thresholds, so slots are freed and reused
inside the explored executions) and the sanitizer on. Each execution's history
(stamped in model-step order) must be linearizable against the map's spec, the
structure must pass its audit, and the sanitizer must see no use after reclaim.

Scenarios, on a two-level list holding 1 (tall) and 3 (short):

- an insert of 2 racing the removal of 1, its predecessor at both levels (Harris:
  the remover's marks must make the insert's link compare-exchange fail);
- a replace of 1's value racing its removal (the dead bit orders them);
- a get of 1 racing a replace of its value (the old value slot must outlive the reader);
- a replace and removal of 1 racing a removal of 1 and then a get of 1, on the fast path
  (epoch or no reclaimer, sanitizer off: ``get``'s inlined descent): a removal that finds the
  dead bit set reports 1 absent, so the get that follows must not report it, though the node
  is still linked (its value in a slot of its own, after the replace).

The same harness fails on a list whose removals never mark next pointers.
"""

import pytest

from freeorder import verify
from freeorder.lockfree import SkipListMap
from freeorder.lockfree import skiplist as skiplist_module
from freeorder.verify.specs import SkipListMapModel
from modelutil import keyed_race_body, then
from test_verify_structures import RECLAIMERS

pytestmark = pytest.mark.thread_unsafe(reason="the model checker switches the global atomics backend")

TALL, SHORT = 0, 1  # _getrandbits results that give height 2 and height 1 with max_height=2


@pytest.fixture
def heights(monkeypatch):
    """Tower heights in insertion order, reset per execution (random ones would make it nondeterministic)."""
    plan = []

    def getrandbits(bits):
        return plan.pop(0) if plan else SHORT

    monkeypatch.setattr(skiplist_module, "_getrandbits", getrandbits)
    return plan


class NoMark:
    """An atomic array whose ``fetch_or`` (the remover's mark) does nothing: broken on purpose."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def fetch_or(self, index, value, order=None):
        return self._inner.load(index)


def map_body(name, heights, racers, broken=False, sanitize=True):
    """Thread 0 builds {1: 'a', 3: 'c'} (1 tall, 3 short; a racer's insert of 2 tall), runs
    ``racers`` on threads of their own, then reads every key; the whole history must linearize."""

    def make(rec):
        m = SkipListMap(max_capacity=8, reclaimer=rec, max_height=2, sanitize=sanitize)
        if broken:
            m._nexts = tuple(NoMark(nl) for nl in m._nexts)
        return m

    def before():
        heights[:] = [TALL, SHORT, TALL]

    return keyed_race_body(name, make, racers, SkipListMapModel(), before)


def insert_2(m, h, thread):
    h.record(thread, "insert", m.insert, 2, "b")


def pop_1(m, h, thread):
    h.record(thread, "pop", lambda key: m.pop(key, None), 1)


def replace_1(m, h, thread):
    h.record(thread, "insert", m.insert, 1, "A")


def get_1(m, h, thread):
    h.record(thread, "get", m.get, 1)


def replace_1_twice(m, h, thread):  # the second replace retires the first one's value slot
    h.record(thread, "insert", m.insert, 1, "A")
    h.record(thread, "insert", m.insert, 1, "B")


# preemption bounds of the default run (hazard pointers triple the steps: two in the slow run)
BOUNDS = {"epoch": 2, "hazard": 1, "none": 3}
SCENARIOS = {"insert-after-removed-pred": [insert_2, pop_1], "replace-racing-remove": [replace_1, pop_1],
             "get-racing-replace": [get_1, replace_1_twice]}


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("name", RECLAIMERS)
def test_every_schedule(name, scenario, heights):
    report = verify.model(map_body(name, heights, SCENARIOS[scenario]), max_preemptions=BOUNDS[name])
    assert report.complete and report.executions > 1


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_schedule_hazard_bound_two(scenario, heights):
    report = verify.model(map_body("hazard", heights, SCENARIOS[scenario]), max_preemptions=2)
    assert report.complete and report.executions > 1


@pytest.mark.parametrize("name", ["epoch", "none"])
def test_fast_path_get_after_a_racing_remove_every_schedule(name, heights):
    # one preemption: the first removal is stopped just after its dead bit. The replace first puts
    # 1's value in a slot of its own; the get starts after its thread's removal saw 1 removed
    report = verify.model(map_body(name, heights, [then(replace_1, pop_1), then(pop_1, get_1)], sanitize=False),
                          max_preemptions=1)
    assert report.complete and report.executions > 1


def test_the_check_sees_removals_that_do_not_mark(heights):
    with pytest.raises(verify.ModelFailure, match="not linearizable"):
        verify.model(map_body("epoch", heights, [insert_2, pop_1], broken=True), max_preemptions=2)
