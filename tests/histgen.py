"""Our own generator of concurrent histories, for testing the linearizability checker.

``generate(model, inputs, ...)`` simulates threads calling operations of a
sequential ``Model``: at each tick one random thread either calls a new
operation (``inputs(rng)`` picks it), makes its running operation take effect
(``model.apply`` gives the output: the linearization point), or returns it.
Operations of different threads overlap, and the history is linearizable by
construction (the effect order is a witness). ``wrong(...)`` replaces one
output so that no order explains it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from freeorder.verify import Operation


def generate(model, inputs: Callable[[random.Random], tuple], n_ops: int, threads: int, seed: int,
             pending: float = 0.0, keyed: bool = False) -> list[Operation]:
    """A linearizable history of ``n_ops`` operations on ``threads`` threads.

    ``keyed``: the model is partitioned by key (``input[1]``): one state per key.

    ``pending``: the chance that an operation which took effect never returns (a caller that
    died after the effect), so the history has pending operations too.
    """
    rng = random.Random(seed)
    states: dict = {}  # partition key (None unless keyed) -> state
    running: dict[int, list] = {}  # thread -> [input, call, output or None, effected]
    ops: list[Operation] = []
    started = 0
    tick = 0
    while started < n_ops or running:
        tick += 1
        t = rng.randrange(threads)
        op = running.get(t)
        if op is None:
            if started < n_ops:
                running[t] = [inputs(rng), tick, None, False]
                started += 1
        elif not op[3]:
            key = op[0][1] if keyed else None
            state = states[key] if key in states else model.init()
            op[2], states[key] = model.apply(state, op[0])
            op[3] = True
        else:
            died = rng.random() < pending
            ops.append(Operation(t, op[0], None if died else op[2], op[1], None if died else tick))
            del running[t]
    return sorted(ops, key=lambda o: o.call)


def wrong(ops: list[Operation], index: int, output) -> list[Operation]:
    """``ops`` with operation ``index`` returning ``output`` instead."""
    out = list(ops)
    out[index] = replace(out[index], output=output)
    return out
