"""Every engine in ENGINES but ``seed``: the reference's results and events on sequential
histories; under real threads, the book invariants and linearizable recorded histories.
Then what is particular to the engines with locks: the reader-writer lock, the actor's
lifecycle, RCU's grace period, the hybrid's view, and who waits for a stalled writer."""

from __future__ import annotations

import contextlib
import random
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freeorder.book import (
    Instrument,
    InvalidOrder,
    InvalidOrderType,
    Side,
    UnknownOrder,
    UnknownSymbol,
    violations,
)
from freeorder.engines import ENGINES, ReferenceEngine
from freeorder.engines.actor import ActorEngine
from freeorder.engines.hybrid import HybridEngine
from freeorder.book.orders import REMAINING
from freeorder.engines.rcu import RcuEngine, _cut, _state_at
from freeorder.engines.rwlock import RWLock, RWLockEngine
from freeorder.engines.workload import Command, OrderFlow
from freeorder.verify import History, check_linearizable
from freeorder.verify.specs import OrderBookModel, engine_input, engine_output
from test_book_properties import S, apply, commands, resolve
from test_engine_lockfree import assert_same_state as same_state
from test_engine_lockfree import outcome
from threadutil import run_threads

SYMBOLS = ("AAA", "BBB")
# name -> (engine name, constructor options): every registered engine but the seed demonstration,
# and the hybrid with a 2-level view (so that its window fills, overflows and refills often)
CASES = {name: (name, {}) for name in ENGINES if name != "seed"}
CASES["hybrid-view2"] = ("hybrid", {"view_depth": 2})
ONE_THREAD_PER_SYMBOL = {"reference"}  # its contract: one thread at a time per symbol


@contextlib.contextmanager
def make(case, symbols=SYMBOLS, **options):
    name, defaults = CASES[case]
    engine = ENGINES[name]([Instrument(s, tick_size=1) for s in symbols], **(defaults | options))
    try:
        yield engine
    finally:
        close = getattr(engine, "close", None)
        if close is not None:
            close()


def assert_same_state(engine, reference, symbols):
    same_state(engine, reference, symbols)
    for s in symbols:
        for n in (0, 1, 2, 3, 50):
            assert engine.depth(s, n) == reference.depth(s, n)


# ---------------------------------------------------------------------- sequential: the reference's results


@pytest.mark.thread_unsafe(reason="hypothesis")
@pytest.mark.parametrize("case", CASES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(cmds=commands)
def test_every_command_type_gives_the_reference_results_and_events(case, cmds):
    """Limit/IOC/FOK/market/post-only, every STP mode, cancels and modifies of live, finished and
    unknown orders, mass cancels and bad input: the same results, reads, events and states."""
    reference = ReferenceEngine([Instrument(S)])
    with make(case, symbols=()) as engine:
        engine.add_instrument(Instrument(S))
        for cmd in cmds:
            cmd = resolve(cmd, reference.orders(S))
            assert apply(engine, cmd) == apply(reference, cmd), cmd
            assert engine.best(S) == reference.best(S)
            assert engine.depth(S, 2) == reference.depth(S, 2)
        assert_same_state(engine, reference, [S])
        assert engine.events(S) == reference.events(S)
        assert engine.events(S, 3) == reference.events(S, 3)
        order_ids = range(1, reference.snapshot(S).last_order_id + 1)
        assert [engine.order(S, i) for i in order_ids] == [reference.order(S, i) for i in order_ids]


@pytest.mark.thread_unsafe(reason="hypothesis")
@pytest.mark.parametrize("case", CASES)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), n=st.integers(1, 400))
def test_order_flow_on_two_symbols_gives_the_reference_results(case, seed, n):
    reference = ReferenceEngine([Instrument(s, tick_size=1) for s in SYMBOLS])
    flow = OrderFlow(SYMBOLS, seed)
    with make(case) as engine:
        for command in flow.commands(n):
            expected = outcome(reference, command)
            assert outcome(engine, command) == expected
            if expected[0] == "ok":
                flow.observe(command, expected[1])
        assert_same_state(engine, reference, SYMBOLS)
        for s in SYMBOLS:
            assert engine.events(s) == reference.events(s)


@pytest.mark.parametrize("case", CASES)
def test_bad_input_raises_naming_the_field_and_changes_nothing(case):
    with make(case) as engine:
        engine.submit("AAA", Side.SELL, 5, 100)
        before = (engine.snapshot("AAA"), engine.orders("AAA"), engine.events("AAA"))
        with pytest.raises(InvalidOrder, match="quantity"):
            engine.submit("AAA", Side.BUY, 0, 100)
        with pytest.raises(InvalidOrderType, match="side"):
            engine.submit("AAA", "buy", 1, 100)
        with pytest.raises(UnknownOrder, match="order_id"):
            engine.cancel("AAA", 99)
        with pytest.raises(UnknownOrder, match="order_id"):
            engine.order("AAA", 2)
        with pytest.raises(InvalidOrderType, match="order_id"):
            engine.order("AAA", "1")
        with pytest.raises(InvalidOrder, match="n=-1"):
            engine.depth("AAA", -1)
        with pytest.raises(InvalidOrderType, match="n=2.0"):
            engine.depth("AAA", 2.0)
        with pytest.raises(InvalidOrder, match="after_seq"):
            engine.events("AAA", -1)
        with pytest.raises(UnknownSymbol, match="ZZZ"):
            engine.submit("ZZZ", Side.BUY, 1, 100)
        with pytest.raises(UnknownSymbol, match="ZZZ"):
            engine.best("ZZZ")
        with pytest.raises(InvalidOrderType, match="symbol"):
            engine.snapshot(["AAA"])
        assert (engine.snapshot("AAA"), engine.orders("AAA"), engine.events("AAA")) == before
        assert engine.submit("AAA", Side.BUY, 1, 99).order_id == 2  # no id was consumed
        assert engine.symbols() == SYMBOLS and engine.instrument("BBB").symbol == "BBB"


@pytest.mark.parametrize("case", CASES)
def test_events_need_record_events(case):
    with make(case, record_events=False) as engine:
        result = engine.submit("AAA", Side.SELL, 5, 100)
        assert result.events  # results still carry their events
        with pytest.raises(InvalidOrder, match="record_events"):
            engine.events("AAA")


# ---------------------------------------------------------------------- concurrent: invariants, linearizability


def flow_worker(engine, symbols, seed, n, reads):
    """An OrderFlow on ``symbols``; every ``reads``-th command also reads best, depth and snapshot."""
    flow = OrderFlow(list(symbols), seed)
    for k, command in enumerate(flow.commands(n)):
        result = outcome(engine, command)
        if result[0] == "ok":
            flow.observe(command, result[1])
        if reads and k % reads == 0:
            s = command.symbol
            engine.best(s), engine.depth(s, 3)
            snapshot = engine.snapshot(s)
            assert [lv.price for lv in snapshot.bids] == sorted((lv.price for lv in snapshot.bids), reverse=True)
            assert not (snapshot.bids and snapshot.asks and snapshot.bids[0].price >= snapshot.asks[0].price)


@pytest.mark.thread_unsafe(reason="starts its own threads")
@pytest.mark.parametrize("case", CASES)
def test_threads_on_shared_symbols_keep_the_invariants(case):
    threads = 4
    own = case in ONE_THREAD_PER_SYMBOL
    symbols = [f"S{i}" for i in range(threads)] if own else SYMBOLS
    with make(case, symbols=symbols) as engine:
        run_threads(threads, lambda i: flow_worker(engine, [symbols[i]] if own else symbols, 50 + i, 400, 7))
        for s in symbols:
            assert violations(engine.snapshot(s), engine.orders(s), engine.events(s)) == []
            issued = engine.snapshot(s).last_order_id
            assert [o.order_id for o in engine.orders(s)] == list(range(1, issued + 1))


READS = [("best", ()), ("depth", (2,)), ("snapshot", ()), ("order", (1,))]


def record_history(engine, symbols, threads, ops, seed):
    """Each thread: a small-spread OrderFlow (many crossings) with reads mixed in, recorded."""
    history = History()

    def worker(i):
        rng = random.Random(seed * 101 + i)
        mine = [symbols[i]] if len(symbols) == threads else list(symbols)
        flow = OrderFlow(mine, rng.randrange(1 << 30), spread=6, owners=3)
        for _ in range(ops):
            if rng.random() < 0.3:
                method, args = rng.choice(READS)
                command = Command(method, rng.choice(mine), args)
            else:
                command = flow.next()
            token = history.call(i, command.method, engine_input(command)[1:])
            output = engine_output(engine, command)
            history.ret(token, output)
            if command.method == "submit" and output[0] == "ok":
                flow.observe(command, output[1])

    run_threads(threads, worker)
    return history


@pytest.mark.thread_unsafe(reason="starts its own threads")
@pytest.mark.parametrize("case", CASES)
def test_recorded_histories_are_linearizable(case):
    threads = 3
    symbols = [f"S{i}" for i in range(threads)] if case in ONE_THREAD_PER_SYMBOL else SYMBOLS
    with make(case, symbols=symbols) as engine:
        history = record_history(engine, symbols, threads, 40, seed=7)
    model = OrderBookModel([Instrument(s, tick_size=1) for s in symbols])
    verdict = check_linearizable(model, history, timeout=120)
    assert verdict.linearizable, verdict.explain()


@pytest.mark.slow
@pytest.mark.thread_unsafe(reason="starts its own threads")
@pytest.mark.parametrize("case", [c for c in CASES if c not in ONE_THREAD_PER_SYMBOL])
@pytest.mark.parametrize("seed", range(4))
def test_longer_histories_on_one_symbol_are_linearizable(case, seed):
    with make(case, symbols=("AAA",)) as engine:
        history = record_history(engine, ("AAA",), 4, 60, seed)
    verdict = check_linearizable(OrderBookModel([Instrument("AAA", tick_size=1)]), history, timeout=300)
    assert verdict.linearizable, verdict.explain()


def test_a_changed_result_is_rejected():
    """The checker is not vacuous on these histories: one altered output fails it."""
    with make("sharded") as engine:
        history = record_history(engine, SYMBOLS, 2, 20, seed=3)
    ops = history.operations()
    i = next(k for k, op in enumerate(ops) if op.input[0] == "submit")
    ops[i] = type(ops[i])(ops[i].thread, ops[i].input, ("error", "Invented"), ops[i].call, ops[i].ret)
    model = OrderBookModel([Instrument(s, tick_size=1) for s in SYMBOLS])
    assert check_linearizable(model, ops, timeout=60).linearizable is False


# ---------------------------------------------------------------------- the reader-writer lock


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_rwlock_excludes_writers_from_everyone_and_lets_readers_share():
    lock = RWLock()
    inside = {"readers": 0, "writers": 0, "max_readers": 0}
    count = threading.Lock()  # test bookkeeping only
    problems = []

    def worker(i):
        rng = random.Random(i)
        for _ in range(2000):
            if rng.random() < 0.3:
                lock.lock_write()
                with count:
                    inside["writers"] += 1
                    if inside["writers"] != 1 or inside["readers"]:
                        problems.append(dict(inside))
                with count:
                    inside["writers"] -= 1
                lock.unlock_write()
            else:
                lock.lock_read()
                with count:
                    inside["readers"] += 1
                    inside["max_readers"] = max(inside["max_readers"], inside["readers"])
                    if inside["writers"]:
                        problems.append(dict(inside))
                with count:
                    inside["readers"] -= 1
                lock.unlock_read()

    run_threads(4, worker)
    assert problems == []


def wait_until(predicate, what):
    done = threading.Event()
    for _ in range(10_000):
        if predicate():
            return
        done.wait(0.001)
    raise AssertionError(f"never happened: {what}")


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_rwlock_writer_waits_for_the_readers_inside_and_keeps_new_ones_out():
    """A writer takes the gate and sleeps until the reader inside leaves; a reader arriving
    meanwhile waits behind it, and the last reader out wakes the writer (no lost wake-up)."""
    lock = RWLock()
    order = []
    lock.lock_read()
    writer = threading.Thread(target=lambda: (lock.lock_write(), order.append("writer"), lock.unlock_write()))
    writer.start()
    wait_until(lambda: lock._waiting.load() == 1, "the writer sleeps until the reader is out")
    late = threading.Thread(target=lambda: (lock.lock_read(), order.append("late reader"), lock.unlock_read()))
    late.start()
    wait_until(lambda: late.is_alive(), "the late reader started")
    order.append("first reader leaves")
    lock.unlock_read()
    writer.join(10)
    late.join(10)
    assert order == ["first reader leaves", "writer", "late reader"]
    assert lock._readers.load() == 0 and lock._waiting.load() == 0


def test_rwlock_engine_takes_any_lock_with_the_four_methods():
    calls = []

    class Recording:
        def lock_read(self):
            calls.append("lock_read")

        def unlock_read(self):
            calls.append("unlock_read")

        def lock_write(self):
            calls.append("lock_write")

        def unlock_write(self):
            calls.append("unlock_write")

    engine = RWLockEngine([Instrument("AAA", tick_size=1)], lock=Recording())
    engine.submit("AAA", Side.BUY, 1, 100)
    engine.best("AAA")
    assert calls == ["lock_write", "unlock_write"] * 2 + ["lock_read", "unlock_read"]


# ---------------------------------------------------------------------- who waits for a stalled writer


BLOCKED_READS = {"sharded": True, "rwlock": True, "actor": True, "rcu": False, "hybrid": False}


@pytest.mark.thread_unsafe(reason="starts its own threads")
@pytest.mark.parametrize("case", sorted(BLOCKED_READS))
def test_a_writer_stalled_in_its_critical_section(case):
    """While a writer is paused inside its critical section (``on_step``), the symbol's other
    writers wait for it; readers wait too for the locked engines, and not for rcu and hybrid."""
    with make(case) as engine:
        engine.submit("AAA", Side.SELL, 5, 100, owner="maker")
        stalled, release = threading.Event(), threading.Event()
        victim = {}

        def on_step(name, entry):
            if threading.get_ident() == victim.get("ident") or entry == victim.get("ident"):
                stalled.set()
                release.wait(30)

        engine.on_step = on_step
        done = {}

        def stalled_writer():
            victim["ident"] = threading.get_ident()
            done["victim"] = engine.submit("AAA", Side.BUY, 2, 100, owner="victim")

        def other(name, call):
            done[name] = call()

        threads = [threading.Thread(target=stalled_writer)]
        threads[0].start()
        try:
            assert stalled.wait(10)
            reader = threading.Thread(target=other, args=("read", lambda: engine.best("AAA")))
            writer = threading.Thread(target=other, args=(
                "write", lambda: engine.submit("AAA", Side.BUY, 1, 100, owner="other")))
            threads += [reader, writer]
            reader.start()
            writer.start()
            if not BLOCKED_READS[case]:
                reader.join(10)
                assert done["read"].ask_qty == 5  # the state before the stalled command
            wait_until(lambda: not BLOCKED_READS[case] or (reader.is_alive() and writer.is_alive()), "blocked")
            assert "write" not in done
        finally:
            release.set()
            for t in threads:
                t.join(10)
        assert done["victim"].filled_qty == 2 and done["write"].filled_qty == 1
        engine.on_step = None
        assert engine.best("AAA").ask_qty == 2


# ---------------------------------------------------------------------- actor lifecycle


def test_actor_close_runs_what_is_queued_then_refuses():
    with ActorEngine([Instrument(s, tick_size=1) for s in SYMBOLS], workers=2) as engine:
        futures = [engine.send("submit", "AAA", Side.SELL, 1, 100 + i) for i in range(50)]
        bad = engine.send("cancel", "AAA", 10_000)
        workers = [w.thread for w in engine._workers]
    assert engine.closed and not any(t.is_alive() for t in workers)
    assert [f.result().order_id for f in futures] == list(range(1, 51))
    with pytest.raises(UnknownOrder):
        bad.result()
    with pytest.raises(RuntimeError, match="closed"):
        engine.best("AAA")
    with pytest.raises(RuntimeError, match="closed"):
        engine.add_instrument(Instrument("CCC"))
    engine.close()  # idempotent


def test_actor_spreads_symbols_over_its_workers():
    with ActorEngine([Instrument(f"S{i}", tick_size=1) for i in range(5)], workers=2) as engine:
        owners = [engine._route[f"S{i}"] for i in range(5)]
        assert owners[0] is owners[2] is owners[4] and owners[1] is owners[3] and owners[0] is not owners[1]
    with pytest.raises(InvalidOrder, match="workers"):
        ActorEngine(workers=0)


# ---------------------------------------------------------------------- rcu: versions and the grace period


def test_rcu_reader_pinned_at_an_old_version_keeps_it_until_it_unpins():
    engine = RcuEngine([Instrument("AAA", tick_size=1)])
    engine.submit("AAA", Side.SELL, 10, 100)
    shard = engine._shards["AAA"]
    guard = engine._collector.pin()  # a reader inside order(): pinned, holding version 1
    old = shard.version.snapshot
    try:
        for quantity in range(9, 0, -1):
            engine.modify("AAA", 1, quantity=quantity)  # each supersedes order 1's state
        for _ in range(5):
            engine.best("AAA"), engine.order("AAA", 1)  # other threads' unpins try to advance
        engine._collector.flush()
        assert _state_at(shard.chains[0], old.seq)[REMAINING] == 10  # still reachable for the pinned reader
        assert engine.order("AAA", 1).remaining == 1
    finally:
        guard.unpin()
    engine._collector.flush()
    stats = engine.reclaimer_stats()
    assert stats["retired"] == 9 and stats["pending"] == 0
    assert shard.chains[0][2] is None  # cut: one state left per order


def test_rcu_cut_before_the_grace_period_is_caught_not_answered_wrongly():
    engine = RcuEngine([Instrument("AAA", tick_size=1)])
    engine.submit("AAA", Side.SELL, 10, 100)
    shard = engine._shards["AAA"]
    old = shard.version
    engine.modify("AAA", 1, quantity=4)
    _cut([shard.chains[0]])  # what the collector would do, run too early
    shard.version = old  # a reader still holding the old version
    with pytest.raises(RuntimeError, match="grace period"):
        engine.order("AAA", 1)


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_rcu_readers_see_only_versions_the_writers_published():
    """Every snapshot and every orders() a concurrent reader takes is the reference's state
    after some prefix of the writes, and the versions a reader sees never go back."""
    engine = RcuEngine([Instrument("AAA", tick_size=1)])
    applied = []
    seen = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            seen.append((engine.snapshot("AAA"), engine.orders("AAA")))

    t = threading.Thread(target=reader)
    t.start()
    try:
        for command in OrderFlow(["AAA"], 5).commands(300):
            outcome(engine, command)
            applied.append(command)
    finally:
        stop.set()
        t.join()
    reference = ReferenceEngine([Instrument("AAA", tick_size=1)])
    snapshots, orders = {0: reference.snapshot("AAA")}, {(): 0}
    for command in applied:
        outcome(reference, command)
        snapshots[reference.snapshot("AAA").seq] = reference.snapshot("AAA")
        orders.setdefault(reference.orders("AAA"), reference.snapshot("AAA").seq)
    assert len(seen) > 1
    last = 0
    for snapshot, its_orders in seen:
        assert snapshots[snapshot.seq] == snapshot
        assert its_orders in orders and snapshot.seq >= last
        last = snapshot.seq


def test_hybrid_view_matches_the_book_at_every_depth_after_each_command():
    """The view (3 levels) is the book's best 3 levels after every command; a side marked
    complete holds all of the book's levels; the window overflowed and refilled on the way."""
    engine = HybridEngine([Instrument("AAA", tick_size=1)], view_depth=3)
    reference = ReferenceEngine([Instrument("AAA", tick_size=1)])
    flow = OrderFlow(["AAA"], 9, spread=40)
    incomplete = refilled = 0
    for command in flow.commands(600):
        expected = outcome(reference, command)
        assert outcome(engine, command) == expected
        if expected[0] == "ok":
            flow.observe(command, expected[1])
        view = engine._shards["AAA"].view
        full = reference.depth("AAA", 1000)
        assert (view.bids, view.asks) == (full.bids[:3], full.asks[:3])
        for complete, held, levels in ((view.bids_complete, view.bids, full.bids),
                                       (view.asks_complete, view.asks, full.asks)):
            if complete:
                assert held == levels
            else:
                incomplete += 1
                refilled += len(levels) == 3  # exactly full: the window is at its edge
    assert incomplete and refilled
