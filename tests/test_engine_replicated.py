"""The replicated engine (a universal construction over a truncated command log): same results
as the reference engine sequentially, the reference applied in log order under real threads,
lock-free (a frozen thread does not stop the others), and a log bounded by its checkpoints."""

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freeorder.book import Instrument, InvalidOrder, OrderBook, Side, UnknownOrder, UnknownSymbol, violations
from freeorder.book.errors import InvalidOrderType
from freeorder.engines import ENGINES, ReferenceEngine
from freeorder.engines import replicated as replicated_module
from freeorder.engines.replicated import ReplicatedEngine
from freeorder.engines.workload import OrderFlow
from freeorder.verify import freeze_test
from threadutil import run_threads

SYMBOLS = ["AAA", "BBB"]


def instruments():
    return [Instrument(s, tick_size=1) for s in SYMBOLS]


def engines(**options):
    return ReferenceEngine(instruments(), record_events=options.get("record_events", True)), ReplicatedEngine(
        instruments(), **options)


def outcome(engine, command):
    try:
        return ("ok", command.run(engine))
    except Exception as exc:  # noqa: BLE001 - compared between engines
        return ("error", type(exc).__name__, str(exc))


def replay(entries, instrument):
    """Outcomes of the logged commands applied, in log order, to a fresh reference book."""
    book, out = OrderBook(instrument), []
    for entry in entries:
        command = entry.payload
        try:
            out.append(("ok", command.fn(book, *command.args)))
        except Exception as exc:  # noqa: BLE001 - compared with the engine's
            out.append(("error", type(exc).__name__, str(exc)))
    return book, out


def recording(engine, symbol):
    """Every entry the symbol's log links from now on, in call order (kept alive here, so
    the test can replay it after the log has forgotten them)."""
    log = engine._symbols[symbol].log
    real_append, entries = log.append, []

    def append(payload):
        entry = real_append(payload)
        entries.append(entry)
        return entry

    log.append = append
    return entries


def test_registered_as_replicated():
    assert ENGINES["replicated"] is ReplicatedEngine


@pytest.mark.thread_unsafe(reason="hypothesis")
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 300), every=st.sampled_from([1, 2, 5, 64, 4096]),
       record_events=st.booleans())
def test_same_results_and_events_as_the_reference(seed, n, every, record_events):
    reference, replicated = engines(checkpoint_every=every, record_events=record_events)
    flow = OrderFlow(SYMBOLS, seed)
    for command in flow.commands(n):
        expected = outcome(reference, command)
        assert outcome(replicated, command) == expected
        if expected[0] == "ok":
            flow.observe(command, expected[1])
    for s in SYMBOLS:
        assert replicated.snapshot(s) == reference.snapshot(s)
        assert replicated.orders(s) == reference.orders(s)
        assert outcome(replicated, _events(s)) == outcome(reference, _events(s))
        assert replicated.best(s) == reference.best(s)
        assert replicated.depth(s, 5) == reference.depth(s, 5)


def _events(symbol):
    from freeorder.engines.workload import Command

    return Command("events", symbol, ())


def test_bad_input_raises_and_changes_nothing():
    _, engine = engines(checkpoint_every=2)
    engine.submit("AAA", Side.SELL, 5, 100)
    before = (engine.snapshot("AAA"), engine.orders("AAA"), engine.events("AAA"))
    with pytest.raises(InvalidOrder, match="quantity"):
        engine.submit("AAA", Side.BUY, 0, 100)
    with pytest.raises(InvalidOrder, match="price"):
        engine.submit("AAA", Side.BUY, 1, -5)
    with pytest.raises(UnknownOrder):
        engine.cancel("AAA", 99)
    with pytest.raises(InvalidOrderType, match="side"):
        engine.submit("AAA", "buy", 1, 100)
    with pytest.raises(UnknownSymbol, match="ZZZ"):
        engine.submit("ZZZ", Side.BUY, 1, 100)
    assert (engine.snapshot("AAA"), engine.orders("AAA"), engine.events("AAA")) == before
    for bad in (0, -3):
        with pytest.raises(InvalidOrder, match=f"checkpoint_every={bad}"):
            ReplicatedEngine(checkpoint_every=bad)
    with pytest.raises(InvalidOrderType, match="checkpoint_every='8'"):
        ReplicatedEngine(checkpoint_every="8")


def test_each_thread_sees_every_command():
    _, engine = engines()
    engine.submit("AAA", Side.SELL, 5, 100)
    seen = []
    t = threading.Thread(target=lambda: seen.append(engine.best("AAA")))
    t.start()
    t.join(10)
    assert seen == [engine.best("AAA")]
    assert seen[0].ask == 100


# ---------------------------------------------------------------- freeze and thaw

def flow_book(seed, n, record_events=True):
    book, flow = OrderBook(Instrument("AAA", tick_size=1), record_events=record_events), OrderFlow(["AAA"], seed)
    for command in flow.commands(n):
        try:
            result = getattr(book, command.method)(*command.args, **command.kwargs)
        except Exception:  # noqa: BLE001 - bad input changes nothing
            continue
        flow.observe(command, result)
    return book, flow


def state(book):
    events = book.events() if book._log is not None else None
    return book.snapshot(), book.orders(), events, book.best(), book.depth(10)


def test_the_module_handles_every_book_slot():
    assert set(replicated_module.SHARED_SLOTS) | set(replicated_module.IMAGED_SLOTS) == set(OrderBook.__slots__)


@pytest.mark.parametrize("record_events", [True, False])
def test_a_thawed_image_is_the_book_at_the_freeze_and_behaves_alike(record_events):
    book, flow = flow_book(5, 2000, record_events)
    at_freeze = state(book)
    image = replicated_module._freeze(book)
    # the original goes on changing; the image does not
    later = list(flow.commands(500))
    for command in later:
        try:
            getattr(book, command.method)(*command.args, **command.kwargs)
        except Exception:  # noqa: BLE001
            pass
    thawed = replicated_module._thaw(image)
    assert state(thawed) == at_freeze
    assert violations(thawed.snapshot(), thawed.orders(), thawed.events() if record_events else None) == []
    # a thawed copy and the original, given the same commands, answer alike
    twin = replicated_module._thaw(image)
    again = replicated_module._thaw(image)
    for command in later:
        assert outcome_on(twin, command) == outcome_on(again, command)
    assert state(twin) == state(again) == state(book)
    assert state(replicated_module._thaw(image)) == at_freeze      # thawing twice shares nothing mutable


def outcome_on(book, command):
    try:
        return ("ok", getattr(book, command.method)(*command.args, **command.kwargs))
    except Exception as exc:  # noqa: BLE001
        return ("error", type(exc).__name__, str(exc))


# ---------------------------------------------------------------- threads

THREADS = 4
OPS_PER_THREAD = 400


def concurrent_run(engine, seed, ops=OPS_PER_THREAD):
    """THREADS threads run their own order flows on both symbols; returns per-thread
    lists of (start_ns, end_ns, command, outcome)."""
    records = [[] for _ in range(THREADS)]

    def work(i):
        flow = OrderFlow(SYMBOLS, seed * 100 + i, owners=3)
        mine = records[i]
        for command in flow.commands(ops):
            start = time.perf_counter_ns()
            result = outcome(engine, command)
            mine.append((start, time.perf_counter_ns(), command, result))
            if result[0] == "ok":
                flow.observe(command, result[1])

    run_threads(THREADS, work)
    return records


@pytest.mark.thread_unsafe(reason="starts its own threads")
@pytest.mark.parametrize("seed,every", [(1, 4096), (2, 4096), (3, 7), (4, 1)])
def test_concurrent_history_is_the_reference_applied_in_log_order(seed, every):
    _, engine = engines(checkpoint_every=every)
    logged = {symbol: recording(engine, symbol) for symbol in SYMBOLS}
    records = concurrent_run(engine, seed)
    for symbol in SYMBOLS:
        entries = sorted(logged[symbol], key=lambda e: e.pos)
        assert [e.pos for e in entries] == list(range(1, len(entries) + 1))
        book, results = replay(entries, engine.instrument(symbol))
        expected = list(zip((e.pos for e in entries), results))
        ours = [(s, e, c, r) for rec in records for (s, e, c, r) in rec if c.symbol == symbol]
        assert len(ours) == len(expected)
        # Every thread's result is the replay's result for one log entry, each used once.
        remaining = {}
        for pos, result in expected:
            remaining.setdefault(repr(result), []).append(pos)
        position = []
        for start, end, command, result in ours:
            slots = remaining.get(repr(result))
            assert slots, f"result {result} of {command} is not in the log-order replay"
            position.append((start, end, slots.pop(0)))
        # Real-time order: an operation that finished before another started is earlier in the log.
        for _s1, e1, p1 in position:
            for s2, _e2, p2 in position:
                if e1 < s2 and p1 > p2 and _has_events(p1, expected) and _has_events(p2, expected):
                    raise AssertionError(f"log position {p1} finished before {p2} started")
        # Final state: this thread's replica equals the replay, and invariants hold.
        assert engine.snapshot(symbol) == book.snapshot()
        assert engine.orders(symbol) == book.orders()
        assert engine.events(symbol) == book.events()
        assert violations(engine.snapshot(symbol), engine.orders(symbol), engine.events(symbol)) == []
        if every < len(entries):
            assert engine.log_length(symbol) <= 2 * every + THREADS


def _has_events(pos, expected):
    result = expected[pos - 1][1]
    return result[0] == "ok" and getattr(result[1], "events", ())


@pytest.mark.thread_unsafe(reason="starts its own threads")
@pytest.mark.parametrize("every", [4096, 3])
def test_all_threads_replicas_agree(every):
    _, engine = engines(checkpoint_every=every)
    concurrent_run(engine, 3)
    views = []

    def look(_):
        views.append(tuple((engine.snapshot(s), engine.orders(s), engine.events(s)) for s in SYMBOLS))

    run_threads(3, look)
    here = tuple((engine.snapshot(s), engine.orders(s), engine.events(s)) for s in SYMBOLS)
    assert views[0] == views[1] == views[2] == here


# ---------------------------------------------------------------- progress

def victim(state):
    engine, _, _ = state
    return engine.submit("AAA", Side.SELL, 10, 100, owner="victim")


def other(i):
    def op(state):
        engine, _, _ = state
        return [engine.submit("AAA", Side.BUY, 1, 100, owner=f"o{i}") for _ in range(3)]

    return op


@pytest.mark.thread_unsafe(reason="freeze_test starts its own threads")
@pytest.mark.parametrize("every,freeze_at", [(every, at) for every in (4096, 2) for at in (1, 2, 4, 5, 6, 7, 8, 10)]
                         + [(2, 13), (2, 15)])
def test_a_thread_frozen_mid_operation_does_not_stop_the_others(freeze_at, every):
    """The victim's first call on the symbol, after three others. Frozen making its replica (1),
    before its id (2), mid-link (4, 5), after linking before the tail swing (6), while replaying
    (7, 8; with K=4096 also 10), and with K=2, whose replica restores at pos 2 and whose command
    (pos 4) records a checkpoint: after registering it before publishing it (10), and while
    truncating the log (13, 15), it stops no one; everyone's result is the log-order replay's."""
    holder = {}

    def setup():
        _, engine = engines(checkpoint_every=every)
        entries = recording(engine, "AAA")
        before = [engine.submit("AAA", Side.BUY, 1, 90 + i, owner="setup") for i in range(3)]
        holder["state"] = engine, entries, before
        return holder["state"]

    report = freeze_test(setup, victim, [other(i) for i in range(3)], freeze_at=freeze_at, timeout=20)
    assert report.ok, report.explain()
    engine, entries, before = holder["state"]
    entries.sort(key=lambda e: e.pos)
    assert len(entries) == 13
    book, results = replay(entries, engine.instrument("AAA"))
    got = [("ok", r) for r in before + [report.victim_result] + [r for rs in report.other_results for r in rs]]
    assert sorted(map(repr, got)) == sorted(map(repr, results))
    assert engine.snapshot("AAA") == book.snapshot() and engine.orders("AAA") == book.orders()


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_a_thread_stalled_after_linking_gets_its_result_from_a_checkpoint():
    """The victim links its command, stalls, and the others go on for many checkpoints:
    the log forgets the victim's command; on release the victim restores from a checkpoint
    past its own command and returns the result another thread recorded for it."""
    every = 4
    _, engine = engines(checkpoint_every=every)
    entries = recording(engine, "AAA")
    log = engine._symbols["AAA"].log
    linked_append = log.append
    frozen, release, result = threading.Event(), threading.Event(), {}
    victim_ident = {}

    def stalling_append(payload):
        entry = linked_append(payload)
        if threading.get_ident() == victim_ident.get("id"):
            frozen.set()
            release.wait(30)
        return entry

    log.append = stalling_append

    def victim_body():
        victim_ident["id"] = threading.get_ident()
        try:
            result["submit"] = engine.submit("AAA", Side.SELL, 10, 100, owner="victim")
        except Exception as exc:  # noqa: BLE001 - reported below
            result["error"] = exc

    t = threading.Thread(target=victim_body)
    t.start()
    try:
        assert frozen.wait(10)
        for i in range(12 * every):
            engine.submit("AAA", Side.BUY, 1, 90 + i % 5, owner="other")
        mine = next(e for e in entries if e.payload.args[6] == "victim")
        assert log.lookup(mine.id) is None, "the victim's command was not truncated away"
        assert engine.best("AAA").ask == 100          # the others applied it for the victim
    finally:
        release.set()
        t.join(10)
    assert "error" not in result and result["submit"].order_id == 1
    entries.sort(key=lambda e: e.pos)
    _, results = replay(entries, engine.instrument("AAA"))
    assert result["submit"] == results[0][1]


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_a_replica_behind_the_truncation_restores_from_a_checkpoint():
    every = 8
    reference, engine = engines(checkpoint_every=every)
    engine.best("AAA")                                # the main thread's replica exists
    flow = OrderFlow(["AAA"], 11)
    go, done, seen = threading.Event(), threading.Event(), {}

    def lagging():
        seen["before"] = engine.snapshot("AAA")       # this thread's replica, at the start
        replica = engine._local.replicas["AAA"]
        go.set()
        assert done.wait(30)
        old_book = replica.book
        seen["after"] = (engine.snapshot("AAA"), engine.orders("AAA"), engine.events("AAA"))
        seen["restored"] = replica.book is not old_book
        seen["at"] = replica.last.pos

    t = threading.Thread(target=lagging)
    t.start()
    assert go.wait(10)
    for command in flow.commands(10 * every):
        expected = outcome(reference, command)
        assert outcome(engine, command) == expected
        if expected[0] == "ok":
            flow.observe(command, expected[1])
    assert engine._symbols["AAA"].log.first.pos > 0       # the lagging replica's entry is forgotten
    done.set()
    t.join(30)
    assert seen["restored"], "the lagging replica replayed instead of restoring"
    assert seen["after"] == (reference.snapshot("AAA"), reference.orders("AAA"), reference.events("AAA"))
    assert seen["at"] == engine.commands("AAA")


# ---------------------------------------------------------------- memory

def bounded_run(every, threads, per_thread, sample):
    _, engine = engines(checkpoint_every=every, record_events=False)
    held = []

    def work(i):
        flow = OrderFlow(SYMBOLS, 1000 + i, owners=3)
        for k, command in enumerate(flow.commands(per_thread)):
            result = outcome(engine, command)
            if result[0] == "ok":
                flow.observe(command, result[1])
            if k % sample == 0:
                held.append(max(engine._symbols[s].log.held() for s in SYMBOLS))

    run_threads(threads, work)
    return engine, held


def assert_truncated_to_two_checkpoints(engine, every):
    """At rest, after one thread's last 3K commands: the log holds at most 2K entries (from
    the previous checkpoint on) and two checkpoints are kept."""
    for s in SYMBOLS:
        state = engine._symbols[s]
        assert state.log.held() <= 2 * every + 1, (s, state.log.held())
        assert len(state.checkpoints) == 2
        assert state.log.first.pos >= engine.commands(s) - 2 * every


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_the_log_stays_bounded_with_record_events_off_one_thread():
    every = 32
    engine, held = bounded_run(every, 1, 3000, 25)
    assert sum(engine.commands(s) for s in SYMBOLS) == 3000
    assert max(held) <= 2 * every + 1       # one thread: every checkpoint is recorded, in order
    assert_truncated_to_two_checkpoints(engine, every)


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_the_log_stays_bounded_with_record_events_off_two_threads():
    every, per_thread = 32, 3000
    engine, held = bounded_run(every, 2, per_thread, 25)
    # With two threads a claimer descheduled for K commands' time costs K more entries until
    # two later checkpoints are out (see the module docstring): a scheduling matter, so the
    # bound asserted while they run is only that the log did not keep the history.
    assert max(held) < per_thread // 2
    flow = OrderFlow(SYMBOLS, 99, owners=3)
    for command in flow.commands(3 * every * len(SYMBOLS) * 4):
        result = outcome(engine, command)
        if result[0] == "ok":
            flow.observe(command, result[1])
    assert_truncated_to_two_checkpoints(engine, every)


@pytest.mark.slow
@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_the_log_stays_bounded_over_a_long_run():
    every = 1024
    engine, held = bounded_run(every, 2, 100_000, 1000)
    assert max(held) < 20 * every
    assert sum(engine.commands(s) for s in SYMBOLS) == 200_000
