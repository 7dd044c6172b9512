"""The stress runner itself: short runs of every workload with every reclaimer pass,
and a broken structure makes it fail."""

import pytest

from freeorder.stress.__main__ import main
from freeorder.stress.workloads import WORKLOADS, Taken

pytestmark = pytest.mark.thread_unsafe(reason="starts its own threads")


@pytest.mark.parametrize("reclaimer", ["epoch", "hazard", "none"])
@pytest.mark.parametrize("structure", sorted(WORKLOADS))
def test_short_stress_run_passes(structure, reclaimer, capsys):
    assert main([structure, "--threads", "4", "--seconds", "0.3", "--reclaimer", reclaimer,
                 "--seed", "7", "--sanitize"]) == 0
    out = capsys.readouterr().out
    assert "invariants: OK" in out
    assert "--seed 7" in out


def test_taken_detects_lost_duplicated_and_invented_items():
    taken = Taken(2)
    taken.mark(0, 0, 0)
    taken.mark(1, 0, 0)  # the same item taken by another thread
    taken.mark(1, 1, 5)  # producer 1 only produced 2 items
    problems = taken.check_exactly_once([2, 2])
    text = "\n".join(problems)
    assert "taken by two threads" in text
    assert "never produced" in text
    assert "never taken (lost)" in text
    with pytest.raises(AssertionError, match="taken twice"):
        taken.mark(0, 0, 0)


def test_a_structure_that_loses_items_fails_the_run(monkeypatch, capsys):
    from freeorder.lockfree import TreiberStack

    real_push = TreiberStack.push

    def lossy_push(self, item):
        if item % 97 == 0 and item:  # silently drop some items
            return
        real_push(self, item)

    monkeypatch.setattr(TreiberStack, "push", lossy_push)
    assert main(["stack", "--threads", "2", "--seconds", "0.3", "--seed", "1"]) == 1
    assert "invariants: FAILED" in capsys.readouterr().out


@pytest.mark.parametrize("structure", ["queue", "skiplist", "engine", "engine-replicated"])
def test_stress_checks_linearizability(structure, capsys):
    assert main([structure, "--threads", "3", "--ops", "30", "--seed", "2", "--check-linearizability"]) == 0
    assert "linearizability: OK" in capsys.readouterr().out
