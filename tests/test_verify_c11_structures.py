"""The product's structures under ``memory="c11"``: Treiber stack and MS queue (counted
pointers, epoch, hazard), SeqLock (a reader, two writers), the arena's shared free
list, both reclaimers and the order index, each in a small harness
(``tests/c11_harnesses.py``) at small bounds. Then the three ordering bugs issue 14
planted and the sequentially consistent model missed: each is caught here, with a
schedule that replays it. (The bug this model found in the code itself, a stale epoch label on
a retired bag, is the ``EpochGuard._seal`` row of test_verify_c11_orderings.py.)

Times (CPU seconds on 3.13t; wall time on a loaded 2-core machine is 2-3x): 0.1-4 s each.
"""

from __future__ import annotations

import pytest

import c11_harnesses as harness
from freeorder import verify
from freeorder.atomic import ACQ_REL, RELAXED, RELEASE

pytestmark = pytest.mark.thread_unsafe(reason="the model checker switches the global atomics backend")

# harnesses cheap enough for the default run at their full bounds
FAST = ["treiber/none", "msqueue/none", "seqlock/reader", "seqlock/writers", "arena/free-list", "reclaim/hazard"]
# the others: no preemption in the default run. Their full bounds run in test_verify_c11_orderings.py
# (slow), with every ordering the table finds not needed weakened at once, which implies the code passes
REDUCED = {name: dict(max_preemptions=0) for name in harness.HARNESSES if name not in FAST}

SEQLOCK_WRITER = "lockfree/seqlock.py | SeqLock.write | store | self._seq.store(start + 2, RELEASE)"
SEQLOCK_READER = "lockfree/seqlock.py | SeqLock.read | load | before = seq.load(ACQUIRE)"
HAZARD_PUBLISH = "reclaim/hazard.py | HazardGuard.protect | store | hz.store(cell, ref & _NOT_TAG)"
EPOCH_PIN = "reclaim/epoch.py | EpochCollector._make_pin.<locals>.pin | swap | locals_swap(guard._index, (global_load(relaxed) << 1) | 1)"

# (harness, site, weakened order, failure kind, what the failure shows)
NAMED_BUGS = [
    pytest.param("seqlock/reader", SEQLOCK_WRITER, RELAXED, "exception", "torn read", id="SeqLock writer RELEASE->RELAXED"),
    pytest.param("seqlock/reader", SEQLOCK_READER, RELAXED, "exception", "torn read", id="SeqLock reader ACQUIRE->RELAXED"),
    pytest.param("reclaim/hazard", HAZARD_PUBLISH, RELEASE, "race", "item 1 of the non-atomic list",
                 id="hazard publish SEQ_CST->RELEASE"),
    pytest.param("reclaim/epoch", EPOCH_PIN, ACQ_REL, "race", "item 1 of the non-atomic list",
                 id="epoch pin SEQ_CST->ACQ_REL"),
]


@pytest.mark.parametrize("name", FAST + list(REDUCED))
def test_structure_passes_under_c11(name):
    report = harness.check(name, **REDUCED.get(name, {}))
    assert report.complete and report.executions > 1 and report.memory == "c11"


@pytest.mark.parametrize("name, site, order, kind, shows", NAMED_BUGS)
def test_planted_ordering_bug_is_caught_and_replays(name, site, order, kind, shows):
    with pytest.raises(verify.ModelFailure) as failure:
        harness.check(name, orders={site: order})
    assert failure.value.kind == kind and shows in str(failure.value), str(failure.value)
    with pytest.raises(verify.ModelFailure) as again:
        harness.check(name, orders={site: order}, replay=failure.value.schedule)
    assert (again.value.kind, again.value.schedule) == (failure.value.kind, failure.value.schedule)


@pytest.mark.parametrize("name", ["seqlock/reader", "reclaim/hazard"])
def test_the_sequentially_consistent_model_cannot_see_them(name):
    """Under memory="sc" every order acts as SEQ_CST, so the planted bugs above pass there."""
    make, bounds = harness.HARNESSES[name]
    assert verify.model(make(), memory="sc", max_preemptions=bounds["max_preemptions"]).complete


def test_a_payload_published_without_release_is_a_data_race():
    """Two steps weaker than the code (RELAXED push): the popper's payload read is not ordered
    after the pusher's write, and using it fails as a data race."""
    push = "lockfree/treiber.py | _ops.<locals>.push | compare_exchange | witnessed = head_cas(0, head, ref)"
    with pytest.raises(verify.ModelFailure) as failure:
        harness.check("treiber/none", orders={push: RELAXED})
    assert failure.value.kind == "race" and "non-atomic list made at lockfree/arena.py" in str(failure.value)
