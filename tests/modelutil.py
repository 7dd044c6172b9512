"""Helpers for model-checked tests: histories stamped in model-step order.

In a model execution only one model thread runs at a time and the plain code
between two scheduling points runs as one step, so a counter read in plain
code orders calls and returns exactly as the execution did: the history's
real-time order is the model's, and the linearizability checker can judge
each explored execution.
"""

import itertools

from freeorder.verify import History, assert_linearizable


class StepHistory(History):
    """A ``History`` whose clock counts (create it inside the model body: one per execution)."""

    def __init__(self):
        super().__init__(clock=itertools.count().__next__)

    def check(self, model) -> None:
        """Raise ``NotLinearizable`` (an AssertionError, so a model failure) unless linearizable."""
        assert_linearizable(model, self, timeout=30)


def keyed_race_body(reclaimer_name, make, racers, spec, before=None):
    """A model body for the keyed structures: thread 0 makes the structure (``make(reclaimer)``)
    and inserts 1 -> 'a' and 3 -> 'c', each racer runs on a thread of its own (given the
    structure, the history and its thread number), then thread 0 reads keys 1, 2 and 3. The
    whole history must linearize against ``spec``; then the audit and the sanitizer must pass.
    ``before()`` runs first in each execution (to reset per-execution test state)."""
    from test_verify_structures import reclaimer, spawn

    def body():
        if before is not None:
            before()
        rec = reclaimer(reclaimer_name)
        structure = make(rec)
        h = StepHistory()
        h.record(0, "insert", structure.insert, 1, "a")
        h.record(0, "insert", structure.insert, 3, "c")
        threads = [spawn(rec, lambda op=op, i=i: op(structure, h, i + 1)) for i, op in enumerate(racers)]
        for t in threads:
            t.join()
        for key in (1, 2, 3):
            h.record(0, "get", structure.get, key)
        h.check(spec)
        structure.audit()
        assert getattr(structure.arena, "violations", []) == []  # the sanitizer's, when it is on

    return body


def then(*ops):
    """A racer for ``keyed_race_body`` that runs the racers ``ops`` one after another on its thread."""

    def op(structure, h, thread):
        for each in ops:
            each(structure, h, thread)

    return op
