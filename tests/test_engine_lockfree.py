"""The lock-free engine: same results as the reference engine sequentially,
linearizable and invariant-preserving under real threads, and lock-free
(a frozen thread does not stop the others)."""

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freeorder.book import Instrument, InvalidOrder, Side, UnknownOrder, UnknownSymbol, violations
from freeorder.engines import ReferenceEngine
from freeorder.engines.lockfree import LockFreeEngine
from freeorder.engines.workload import OrderFlow
from threadutil import run_threads

SYMBOLS = ["AAA", "BBB"]


def engines():
    instruments = [Instrument(s, tick_size=1) for s in SYMBOLS]
    return ReferenceEngine(instruments), LockFreeEngine(instruments)


def outcome(engine, command):
    try:
        return ("ok", command.run(engine))
    except Exception as exc:  # noqa: BLE001 - compared between engines
        return ("error", type(exc).__name__, str(exc))


@pytest.mark.thread_unsafe(reason="hypothesis")
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 300))
def test_same_results_and_events_as_the_reference(seed, n):
    reference, lockfree = engines()
    flow = OrderFlow(SYMBOLS, seed)
    for command in flow.commands(n):
        expected = outcome(reference, command)
        assert outcome(lockfree, command) == expected
        if expected[0] == "ok":
            flow.observe(command, expected[1])
    for s in SYMBOLS:
        assert lockfree.snapshot(s) == reference.snapshot(s)
        assert lockfree.orders(s) == reference.orders(s)
        assert lockfree.events(s) == reference.events(s)
        assert lockfree.best(s) == reference.best(s)
        assert lockfree.depth(s, 5) == reference.depth(s, 5)


def test_bad_input_raises_and_changes_nothing():
    _, engine = engines()
    engine.submit("AAA", Side.SELL, 5, 100)
    before = (engine.snapshot("AAA"), engine.orders("AAA"), engine.events("AAA"))
    with pytest.raises(InvalidOrder, match="quantity"):
        engine.submit("AAA", Side.BUY, 0, 100)
    with pytest.raises(InvalidOrder, match="price"):
        engine.submit("AAA", Side.BUY, 1, -5)
    with pytest.raises(UnknownOrder):
        engine.cancel("AAA", 99)
    with pytest.raises(UnknownSymbol, match="ZZZ"):
        engine.submit("ZZZ", Side.BUY, 1, 100)
    assert (engine.snapshot("AAA"), engine.orders("AAA"), engine.events("AAA")) == before


def test_each_thread_sees_every_command():
    _, engine = engines()
    engine.submit("AAA", Side.SELL, 5, 100)
    seen = []
    t = threading.Thread(target=lambda: seen.append(engine.best("AAA")))
    t.start()
    t.join(10)
    assert seen == [engine.best("AAA")]
    assert seen[0].ask == 100


THREADS = 4
OPS_PER_THREAD = 400


def concurrent_run(engine, seed):
    """THREADS threads run their own order flows on both symbols; returns per-thread
    lists of (start_ns, end_ns, command, outcome)."""
    records = [[] for _ in range(THREADS)]

    def work(i):
        flow = OrderFlow(SYMBOLS, seed * 100 + i, owners=3)
        mine = records[i]
        for command in flow.commands(OPS_PER_THREAD):
            start = time.perf_counter_ns()
            result = outcome(engine, command)
            mine.append((start, time.perf_counter_ns(), command, result))
            if result[0] == "ok":
                flow.observe(command, result[1])

    run_threads(THREADS, work)
    return records


@pytest.mark.thread_unsafe(reason="starts its own threads")
@pytest.mark.parametrize("seed", [1, 2])
def test_concurrent_history_is_the_reference_applied_in_log_order(seed):
    _, engine = engines()
    records = concurrent_run(engine, seed)
    for symbol in SYMBOLS:
        # Replay the log, in log order, on a fresh reference engine.
        log = engine._log(symbol)
        command, replay = log.first, ReferenceEngine([log.instrument])
        expected = []
        while after := command.next.load():
            command = log.entries[after]
            expected.append((command.pos, outcome(replay, _as_command(symbol, command))))
        assert [p for p, _ in expected] == list(range(1, len(expected) + 1))
        ours = [(s, e, c, r) for rec in records for (s, e, c, r) in rec if c.symbol == symbol]
        assert len(ours) == len(expected)
        # Every thread's result is the replay's result for one log entry, each used once.
        remaining = {}
        for pos, result in expected:
            remaining.setdefault(_key(result), []).append(pos)
        position = []
        for start, end, command, result in ours:
            slots = remaining.get(_key(result))
            assert slots, f"result {result} of {command} is not in the log-order replay"
            position.append((start, end, slots.pop(0)))
        # Real-time order: an operation that finished before another started is earlier in the log.
        for s1, e1, p1 in position:
            for s2, e2, p2 in position:
                if e1 < s2 and p1 > p2 and _has_events(p1, expected) and _has_events(p2, expected):
                    raise AssertionError(f"log position {p1} finished before {p2} started")
        # Final state: every replica's view equals the replay, and invariants hold.
        assert engine.snapshot(symbol) == replay.snapshot(symbol)
        assert engine.orders(symbol) == replay.orders(symbol)
        assert violations(engine.snapshot(symbol), engine.orders(symbol), engine.events(symbol)) == []


def _as_command(symbol, entry):
    from freeorder.engines.workload import Command

    return Command(entry.method, symbol, entry.args, entry.kwargs)


def _key(result):
    return repr(result)


def _has_events(pos, expected):
    result = expected[pos - 1][1]
    return result[0] == "ok" and getattr(result[1], "events", ())


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_all_threads_replicas_agree():
    _, engine = engines()
    concurrent_run(engine, 3)
    views = []

    def look(_):
        views.append(tuple((engine.snapshot(s), engine.orders(s)) for s in SYMBOLS))

    run_threads(3, look)
    assert views[0] == views[1] == views[2] == tuple((engine.snapshot(s), engine.orders(s)) for s in SYMBOLS)


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_a_thread_frozen_mid_operation_does_not_stop_the_others():
    _, engine = engines()
    log = engine._log("AAA")
    frozen, release = threading.Event(), threading.Event()
    real_append = type(log).append
    victim = {}

    def freezing_append(self, method, args, kwargs):
        command = real_append(self, method, args, kwargs)
        if threading.get_ident() == victim.get("ident"):
            frozen.set()
            release.wait(30)  # frozen after linking, before applying anything
        return command

    type(log).append = freezing_append
    try:
        result = {}

        def victim_body():
            victim["ident"] = threading.get_ident()
            result["submit"] = engine.submit("AAA", Side.SELL, 10, 100, owner="victim")

        t = threading.Thread(target=victim_body)
        t.start()
        assert frozen.wait(10)
        # While the victim is frozen, others complete operations on the same symbol,
        # and they see its (linearized) order.
        done = []

        def other(i):
            r = engine.submit("AAA", Side.BUY, 1, 100, owner=f"o{i}")
            done.append(r)

        run_threads(3, other, timeout=30)
        assert len(done) == 3
        assert sum(r.filled_qty for r in done) == 3
        assert engine.best("AAA").ask_qty == 7
        release.set()
        t.join(10)
        assert not t.is_alive()
        assert result["submit"].order_id == 1
    finally:
        type(log).append = real_append
        release.set()
