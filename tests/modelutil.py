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
