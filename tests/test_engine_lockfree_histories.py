"""LockFreeEngine over many small recorded histories, each checked for linearizability.

``freeorder.stress.histories``: a fresh engine with one symbol per history, about 100 operations
(submits, cancels, modifies, ``best``, ``depth``) on 2 or 8 threads in turn, each history
with its own seed, checked against the reference book (``OrderBookModel``). The default run
checks 50 histories; ``slow`` checks 1,000 (``freeorder stress engine --histories 1000``
does the same from the command line). GC: ``check_histories`` disables the cyclic collector
while it runs and collects every 100 histories (see ``freeorder.stress.histories``).
"""

from __future__ import annotations

import dataclasses

import pytest

from freeorder.book import Instrument, Quote, Side
from freeorder.engines import LockFreeEngine
from freeorder.verify import check_linearizable
from freeorder.verify.specs import OrderBookModel
from freeorder.stress.__main__ import main
from freeorder.stress.histories import check_histories, describe, record_one

pytestmark = pytest.mark.thread_unsafe(reason="starts its own threads")


def test_fifty_histories_on_two_and_eight_threads_are_linearizable():
    out = check_histories(50, seed=1000)
    assert out.histories == 50 and out.operations >= 50 * 96
    assert not out.failures, "\n".join(f"seed {seed}, {n} threads:\n{why}" for seed, n, why in out.failures)


@pytest.mark.slow
def test_a_thousand_histories_are_linearizable():
    out = check_histories(1000, seed=0)
    print(describe(out))
    assert out.histories == 1000
    assert not out.failures, "\n".join(f"seed {seed}, {n} threads:\n{why}" for seed, n, why in out.failures)


def test_the_check_rejects_an_altered_answer():
    """Not vacuous: one read's recorded answer replaced by a quote no state has fails the history."""
    ops, model, errors = record_one(LockFreeEngine, 2, 100, seed=3)
    assert not errors and check_linearizable(model, ops).linearizable
    i = next(k for k, op in enumerate(ops) if op.input[0] == "best")
    ops[i] = dataclasses.replace(ops[i], output=("ok", Quote(None, 0, 1, 10**6)))
    verdict = check_linearizable(OrderBookModel([Instrument("AAA", tick_size=1)]), ops)
    assert verdict.linearizable is False
    assert "best" in verdict.explain()


def test_the_book_model_keeps_reads_out_of_its_state():
    model = OrderBookModel([Instrument("AAA", tick_size=1)])
    submit = ("submit", "AAA", (Side.SELL, 3, 100), (("owner", "m"),))
    best = ("best", "AAA", (), ())
    start = model.init()
    answer, same = model.apply(start, best)
    assert same == start and answer[1].ask is None
    (kind, result), after = model.apply(start, submit)
    assert kind == "ok" and result.order_id == 1 and after != start
    assert model.apply(start, submit) == (("ok", result), after)  # interned: the same state again
    assert model.apply(after, best)[0][1].ask == 100
    # a state other than the last one applied is rebuilt by replay
    _, other = model.apply(start, ("submit", "AAA", (Side.BUY, 2, 99), (("owner", "b"),)))
    assert model.apply(after, ("depth", "AAA", (2,), ()))[0][1].asks[0].qty == 3
    assert model.apply(other, best)[0][1].bid == 99


def test_stress_runs_histories_from_the_command_line(capsys):
    assert main(["engine", "--histories", "6", "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert "6 histories" in out and "linearizability: OK" in out
