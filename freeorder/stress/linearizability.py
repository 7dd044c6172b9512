"""Record a real-thread history of a structure and check it for linearizability.

``record(structure, threads, ops, seed, reclaimer)`` runs ``threads`` threads,
each doing ``ops`` random operations recorded in a ``freeorder.verify.History``,
and returns ``(history, model)`` ready for ``check_linearizable``. Histories
are bounded by operation count, not time: the checker's search grows with
the number of operations that overlap.
"""

from __future__ import annotations

import functools
import random

from freeorder.book import Instrument
from freeorder.engines.lockfree import LockFreeEngine
from freeorder.engines.replicated import ReplicatedEngine
from freeorder.engines.workload import OrderFlow
from freeorder.lockfree import MSQueue, OrderIndex, SeqLock, SkipListMap, TreiberStack
from freeorder.reclaim import make_reclaimer
from freeorder.verify import History, QueueModel, RegisterModel, StackModel
from freeorder.verify.specs import OrderBookModel, OrderIndexModel, SkipListMapModel, engine_input, engine_output

from .harness import run_counted

ENGINE_SYMBOLS = ("AAA", "BBB")


def _stack(reclaimer):
    s = TreiberStack(max_capacity=1 << 16, reclaimer=make_reclaimer(reclaimer), sanitize=True)

    def op(h, thread, rng, k):
        if rng.random() < 0.5:
            h.record(thread, "push", s.push, k)
        else:
            h.record(thread, "pop", lambda: s.pop(None))

    return op, StackModel()


def _queue(reclaimer):
    q = MSQueue(max_capacity=1 << 16, reclaimer=make_reclaimer(reclaimer), sanitize=True)

    def op(h, thread, rng, k):
        if rng.random() < 0.5:
            h.record(thread, "enqueue", q.enqueue, k)
        else:
            h.record(thread, "dequeue", lambda: q.dequeue(None))

    return op, QueueModel()


def _seqlock(reclaimer):
    s = SeqLock(4, [0, 0, 0, 0])

    def op(h, thread, rng, k):
        if rng.random() < 0.3:
            h.record(thread, "write", lambda v: s.write(list(v)), (k, k, k, k))
        else:
            h.record(thread, "read", s.read)

    return op, RegisterModel((0, 0, 0, 0))


def _skiplist(reclaimer):
    m = SkipListMap(max_capacity=1 << 16, reclaimer=make_reclaimer(reclaimer), sanitize=True)

    def op(h, thread, rng, k):
        key, roll = rng.randrange(32), rng.random()
        if roll < 0.35:
            h.record(thread, "insert", m.insert, key, k)
        elif roll < 0.65:
            h.record(thread, "get", m.get, key)
        elif roll < 0.9:
            h.record(thread, "pop", lambda key: m.pop(key, None), key)
        else:
            h.record(thread, "get_or_insert", m.get_or_insert, key, k)

    return op, SkipListMapModel()


def _order_index(reclaimer):
    index = OrderIndex(max_capacity=1 << 16, reclaimer=make_reclaimer(reclaimer), sanitize=True)

    def op(h, thread, rng, k):
        key, roll = rng.randrange(1, 33), rng.random()
        if roll < 0.4:
            h.record(thread, "insert", index.insert, key, k)
        elif roll < 0.7:
            h.record(thread, "get", index.get, key)
        else:
            h.record(thread, "pop", lambda key: index.pop(key, None), key)

    return op, OrderIndexModel()


def _engine(reclaimer, engine_class=LockFreeEngine):
    instruments = [Instrument(s, tick_size=1) for s in ENGINE_SYMBOLS]
    engine = engine_class(instruments)
    flows: dict = {}

    def op(h, thread, rng, k):
        flow = flows.get(thread)
        if flow is None:
            flow = flows[thread] = OrderFlow(ENGINE_SYMBOLS, rng.randrange(1 << 30), spread=6, owners=3)
        record_command(h, thread, engine, flow.next(), flow)

    return op, _EngineModelAdapter(OrderBookModel(instruments))


def record_command(h, thread, engine, command, flow) -> None:
    """Run one engine ``command`` as a recorded operation of ``thread``; ``flow`` learns its result."""
    token = h.call(thread, command.method, engine_input(command)[1:])
    output = engine_output(engine, command)
    h.ret(token, output)
    if output[0] == "ok":
        flow.observe(command, output[1])


class _EngineModelAdapter:
    """Histories record ``(method, symbol, args, kwargs)``; the model wants the same tuple."""

    def __init__(self, model):
        self.model = model
        self.name = model.name

    def init(self):
        return self.model.init()

    def step(self, state, input, output):
        return self.model.step(state, input, output)

    def apply(self, state, input):
        return self.model.apply(state, input)

    def partition(self, ops):
        return self.model.partition(ops)


STRUCTURES = {
    "stack": _stack,
    "queue": _queue,
    "seqlock": _seqlock,
    "skiplist": _skiplist,
    "order-index": _order_index,
    "engine": _engine,
    # small checkpoint interval, so recorded histories cross checkpoints and restores
    "engine-replicated": lambda reclaimer: _engine(reclaimer, functools.partial(ReplicatedEngine, checkpoint_every=8)),
}


def record(structure: str, threads: int, ops: int, seed: int, reclaimer: str = "epoch", seconds: float = 60.0):
    """Run and record; returns (history, model, RunResult)."""
    op, model = STRUCTURES[structure](reclaimer)
    history = History()

    def step(i: int, rng: random.Random, k: int) -> None:
        op(history, i, rng, k * threads + i)

    result = run_counted(threads, ops, seed, step, seconds)
    return history, model, result
