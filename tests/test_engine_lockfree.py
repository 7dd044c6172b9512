"""LockFreeEngine: the reference's results on sequential histories, the reference applied in log
order on concurrent ones, progress with a thread frozen at any step, bounded log and records."""

from __future__ import annotations

import contextlib
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freeorder.book import (
    DuplicateClientId,
    Instrument,
    InvalidOrder,
    InvalidOrderType,
    Side,
    UnknownOrder,
    UnknownSymbol,
)
from freeorder.engines import ReferenceEngine
from freeorder.engines.lockfree import TRUNCATE_EVERY, LockFreeEngine
from freeorder.engines.workload import OrderFlow
from freeorder.verify import freeze_point, freeze_test
from test_book_properties import S, apply, commands, resolve
from threadutil import run_threads

SYMBOLS = ["AAA", "BBB"]


def engines(record_events=True):
    instruments = [Instrument(s, tick_size=1) for s in SYMBOLS]
    return ReferenceEngine(instruments), LockFreeEngine(instruments, record_events=record_events)


def outcome(engine, command):
    try:
        return ("ok", command.run(engine))
    except Exception as exc:  # noqa: BLE001 - compared between engines
        return ("error", type(exc).__name__, str(exc))


def assert_same_state(a, b, symbols):
    for s in symbols:
        assert a.snapshot(s) == b.snapshot(s)
        assert a.orders(s) == b.orders(s)
        assert a.best(s) == b.best(s)
        assert a.depth(s, 5) == b.depth(s, 5)


# ---------------------------------------------------------------------- sequential: the reference's results


@pytest.mark.thread_unsafe(reason="hypothesis")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands)
def test_every_command_type_gives_the_reference_result_and_events(cmds):
    """Limit/IOC/FOK/market/post-only, every STP mode, cancels and modifies of live, finished and
    unknown orders, mass cancels and bad input: identical results, events and state."""
    instrument = Instrument(S)
    reference, lockfree = ReferenceEngine([instrument]), LockFreeEngine([instrument])
    for cmd in cmds:
        cmd = resolve(cmd, reference.orders(S))
        assert apply(lockfree, cmd) == apply(reference, cmd), cmd
        assert lockfree.best(S) == reference.best(S)
    assert_same_state(reference, lockfree, [S])
    assert lockfree.events(S) == reference.events(S)
    assert lockfree.events(S, 3) == reference.events(S, 3)


@pytest.mark.thread_unsafe(reason="hypothesis")
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 300))
def test_order_flow_gives_the_reference_results(seed, n):
    reference, lockfree = engines()
    flow = OrderFlow(SYMBOLS, seed)
    for command in flow.commands(n):
        expected = outcome(reference, command)
        assert outcome(lockfree, command) == expected
        if expected[0] == "ok":
            flow.observe(command, expected[1])
    assert_same_state(reference, lockfree, SYMBOLS)
    for s in SYMBOLS:
        assert lockfree.events(s) == reference.events(s)


def test_client_ids_are_unique_among_live_orders_only():
    reference, lockfree = engines()
    for engine in (reference, lockfree):
        first = engine.submit("AAA", Side.SELL, 5, 100, owner="a", client_id="x")
        with pytest.raises(DuplicateClientId, match="client_id"):
            engine.submit("AAA", Side.SELL, 5, 101, owner="a", client_id="x")
        with pytest.raises(DuplicateClientId):  # reported before a bad stp, as the reference does
            engine.submit("AAA", Side.SELL, 5, 101, owner="a", client_id="x", stp="none")
        with pytest.raises(InvalidOrderType, match="stp"):
            engine.submit("AAA", Side.SELL, 5, 101, owner="b", client_id="x", stp="none")
        engine.submit("AAA", Side.SELL, 1, 101, owner="b", client_id="x")  # another owner: fine
        engine.submit("AAA", Side.BUY, 5, 100, owner="c")  # fills the first: its client id is free again
        engine.submit("AAA", Side.SELL, 2, 102, owner="a", client_id="x")
        engine.modify("AAA", first.order_id + 3, price=103)
    assert_same_state(reference, lockfree, ["AAA"])
    assert lockfree.events("AAA") == reference.events("AAA")


def test_bad_input_raises_and_changes_nothing():
    _, engine = engines()
    engine.submit("AAA", Side.SELL, 5, 100)
    before = (engine.snapshot("AAA"), engine.orders("AAA"), engine.events("AAA"))
    with pytest.raises(InvalidOrder, match="quantity"):
        engine.submit("AAA", Side.BUY, 0, 100)
    with pytest.raises(InvalidOrder, match="price"):
        engine.submit("AAA", Side.BUY, 1, -5)
    with pytest.raises(InvalidOrderType, match="side"):
        engine.submit("AAA", "buy", 1, 100)
    with pytest.raises(UnknownOrder):
        engine.cancel("AAA", 99)
    with pytest.raises(UnknownOrder):
        engine.modify("AAA", 99, price="nonsense")  # unknown first, as the reference
    with pytest.raises(InvalidOrder, match="quantity"):
        engine.modify("AAA", 1, quantity=0)
    with pytest.raises(InvalidOrderType, match="order_id"):
        engine.order("AAA", "1")
    with pytest.raises(InvalidOrder, match="n"):
        engine.depth("AAA", -1)
    with pytest.raises(UnknownSymbol, match="ZZZ"):
        engine.submit("ZZZ", Side.BUY, 1, 100)
    assert (engine.snapshot("AAA"), engine.orders("AAA"), engine.events("AAA")) == before
    assert engine.submit("AAA", Side.BUY, 1, 99).order_id == 2  # nothing was consumed


def test_events_need_record_events():
    _, engine = engines(record_events=False)
    engine.submit("AAA", Side.SELL, 5, 100)
    with pytest.raises(InvalidOrder, match="record_events"):
        engine.events("AAA")


# ---------------------------------------------------------------------- concurrent: the reference in log order


def run_recording_positions(engine, threads, n, symbols=("AAA",)):
    """Each thread runs its own OrderFlow; returns (log position, command, outcome) of every call."""
    where = threading.local()

    def on_step(name, entry):
        if name == "linked":
            where.pos = entry.pos

    engine.on_step = on_step
    out = [[] for _ in range(threads)]

    def worker(i):
        flow = OrderFlow(list(symbols), seed=1000 + i)
        for command in flow.commands(n):
            where.pos = None
            result = outcome(engine, command)
            out[i].append((command.symbol, where.pos, command, result))
            if result[0] == "ok":
                flow.observe(command, result[1])

    run_threads(threads, worker, timeout=120)
    engine.on_step = None
    return [record for part in out for record in part]


@pytest.mark.thread_unsafe(reason="starts its own threads")
@pytest.mark.parametrize("threads", [2, 4])
def test_concurrent_history_is_the_reference_applied_in_log_order(threads):
    _, engine = engines()
    records = run_recording_positions(engine, threads, 600, SYMBOLS)
    reference = ReferenceEngine([Instrument(s, tick_size=1) for s in SYMBOLS])
    logged = [r for r in records if r[1] is not None]
    for symbol in SYMBOLS:
        ordered = sorted((r for r in logged if r[0] == symbol), key=lambda r: r[1])
        assert [r[1] for r in ordered] == list(range(1, len(ordered) + 1))  # gap-free log positions
        for _symbol, _pos, command, result in ordered:
            assert outcome(reference, command) == result
    assert_same_state(reference, engine, SYMBOLS)
    for symbol in SYMBOLS:
        assert engine.events(symbol) == reference.events(symbol)


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_readers_see_complete_states_while_writers_run():
    """Every snapshot a reader takes mid-run is the state after some prefix of the log."""
    _, engine = engines()
    snapshots = []
    stop = threading.Event()

    def read():
        while not stop.is_set():
            snapshots.append(engine.snapshot("AAA"))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        records = run_recording_positions(engine, 2, 400)
    finally:
        stop.set()
        reader.join()
    reference = ReferenceEngine([Instrument(s, tick_size=1) for s in SYMBOLS])
    by_seq = {0: reference.snapshot("AAA")}
    for _symbol, _pos, command, _result in sorted((r for r in records if r[1]), key=lambda r: r[1]):
        outcome(reference, command)
        by_seq[reference.snapshot("AAA").seq] = reference.snapshot("AAA")
    assert len(snapshots) > 1
    for snap in snapshots:
        assert by_seq[snap.seq] == snap


# ---------------------------------------------------------------------- progress: nobody waits


def crossing_book():
    engine = LockFreeEngine([Instrument("AAA", tick_size=1)])
    for price in (100, 101):
        engine.submit("AAA", Side.SELL, 3, price, owner="maker")
    engine.on_step = lambda name, entry: freeze_point()
    return engine


def victim(engine):
    return engine.submit("AAA", Side.BUY, 5, 101, owner="victim")  # sweeps a level, partly fills the next


OTHERS = [lambda e: e.submit("AAA", Side.BUY, 1, 101, owner="x"), lambda e: e.best("AAA"),
          lambda e: e.cancel("AAA", 2), lambda e: e.snapshot("AAA")]


@pytest.mark.thread_unsafe(reason="freeze_test runs its own threads")
def test_a_thread_frozen_at_every_step_does_not_stop_the_others():
    """The victim is frozen before each of its atomic operations on the book's structures and each
    named step in turn (81 points for this command); others on the same symbol -- a writer, readers,
    a cancel of an order the victim is filling -- finish meanwhile, then the victim does."""
    frozen = 0
    for freeze_at in range(1, 1000):
        report = freeze_test(crossing_book, victim, OTHERS, freeze_at=freeze_at, timeout=10)
        if not report.frozen:
            break
        assert report.ok, (freeze_at, report)
        result = report.victim_result
        assert result.order_id in (3, 4) and result.filled_qty + result.remaining_qty <= 5
        frozen += 1
    assert frozen > 30  # the victim's command passes that many points: each was tried


@contextlib.contextmanager
def victim_stalled_at(step):
    """A book with a maker's ask of 3 at 100 and a victim thread whose buy of 2 at 100 is stalled
    at named ``step`` while the block runs (yields the engine); then the victim is released and
    must have its whole fill, order id 2."""
    engine = LockFreeEngine([Instrument("AAA", tick_size=1)])
    engine.submit("AAA", Side.SELL, 3, 100, owner="maker")
    stalled, release = threading.Event(), threading.Event()
    victim_thread, result = {}, {}

    def on_step(name, entry):
        if name == step and threading.get_ident() == victim_thread.get("ident") and not stalled.is_set():
            stalled.set()
            release.wait(30)

    def body():
        victim_thread["ident"] = threading.get_ident()
        result["victim"] = engine.submit("AAA", Side.BUY, 2, 100, owner="victim")

    engine.on_step = on_step
    t = threading.Thread(target=body)
    t.start()
    try:
        assert stalled.wait(10)
        yield engine
        # the block's operations finished while the victim stayed stalled (not after its stall timed out)
        assert "victim" not in result and t.is_alive(), f"the others waited for the victim stalled at {step!r}"
    finally:
        release.set()
        t.join(30)
    assert result["victim"].filled_qty == 2 and result["victim"].order_id == 2


@pytest.mark.thread_unsafe(reason="starts its own threads")
@pytest.mark.parametrize("step", ["linked", "planned", "announced", "applied"])
def test_others_finish_a_command_stalled_at_each_named_step(step):
    with victim_stalled_at(step) as engine:
        # the victim's command is linked: the others complete it, then their own
        assert engine.submit("AAA", Side.BUY, 1, 100, owner="other").filled_qty == 1
        assert engine.best("AAA").ask is None
        assert engine.order("AAA", 2).filled == 2


@pytest.mark.thread_unsafe(reason="starts its own threads")
@pytest.mark.parametrize("step", ["announced", "applied"])
def test_a_reader_alone_finishes_a_command_stalled_half_applied(step):
    """No other writer comes: a reader that finds the book half-applied waits a bounded time for
    the stalled writer, then completes its command itself and reads the state after it."""
    with victim_stalled_at(step) as engine:
        read = {}
        reader = threading.Thread(target=lambda: read.update(filled=engine.order("AAA", 1).filled))
        reader.start()
        reader.join(10)
        assert not reader.is_alive(), f"a reader waited for a writer stalled at {step!r}"
        assert read["filled"] == 2  # the maker's order, which the victim's command fills


# ---------------------------------------------------------------------- memory: bounded in commands


def test_log_and_records_stay_bounded_in_commands():
    _, engine = engines(record_events=False)
    flow = OrderFlow(["AAA"], seed=5)
    for command in flow.commands(6 * TRUNCATE_EVERY):
        result = outcome(engine, command)
        if result[0] == "ok":
            flow.observe(command, result[1])
    assert engine.log_length("AAA") <= TRUNCATE_EVERY
    book = engine._books["AAA"]
    assert book.log.held() <= TRUNCATE_EVERY + 2
    orders = engine.snapshot("AAA").last_order_id
    levels = len(engine.depth("AAA", 10**6).bids) + len(engine.depth("AAA", 10**6).asks)
    # one record per order and per live level, the header, and what awaits its grace period
    assert len(book.records) <= orders + levels + 1 + 64 * 32
