"""Histories recorded from real-thread runs of every structure (and the lock-free
engine) are linearizable against their sequential specifications."""

import dataclasses

import pytest

from freeorder.verify import check_linearizable
from freeorder.stress.linearizability import STRUCTURES, record

pytestmark = pytest.mark.thread_unsafe(reason="starts its own threads")

OPS = {"stack": 40, "queue": 40, "seqlock": 300, "skiplist": 300, "order-index": 300, "engine": 50,
       "engine-replicated": 50}
WITH_RECLAIMER = ["stack", "queue", "skiplist", "order-index"]
CASES = [(s, r) for s in STRUCTURES for r in (["epoch", "hazard", "none"] if s in WITH_RECLAIMER else ["-"])]


@pytest.mark.parametrize("structure,reclaimer", CASES)
def test_recorded_history_is_linearizable(structure, reclaimer):
    history, model, run = record(structure, 4, OPS[structure], seed=11, reclaimer=reclaimer if reclaimer != "-" else "epoch")
    assert run.errors == []
    assert len(history) == 4 * OPS[structure]
    verdict = check_linearizable(model, history, timeout=120)
    assert verdict.linearizable, verdict.explain()


@pytest.mark.parametrize("structure", ["stack", "queue", "skiplist", "engine"])
def test_a_corrupted_history_is_rejected(structure):
    """The same check fails when one observed result is changed: the specs are not vacuous."""
    history, model, _ = record(structure, 2, OPS[structure] // 2, seed=3)
    ops = history.operations()
    victim = next(i for i, op in enumerate(ops) if op.output not in (None, True, False) or structure == "engine")
    op = ops[victim]
    if structure == "engine":
        wrong = ("error", "Invented")
    elif isinstance(op.output, int):
        wrong = op.output + 10**9
    else:
        wrong = ("not", "this")
    ops[victim] = dataclasses.replace(op, output=wrong)
    verdict = check_linearizable(model, ops, timeout=120)
    assert verdict.linearizable is False
