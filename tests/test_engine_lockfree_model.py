"""LockFreeEngine's helping protocol under the model checker: two writers and a reader on one book.

The book holds two resting sells, 3 @ 100 (order 1) and 3 @ 101 (order 2), set up before the
model threads start. Writer A submits a buy 5 @ 101 (it sweeps level 100 and partly fills
order 2); writer B cancels order 2 (racing A's fill of it) or, in the "new-level" scenario,
submits a sell 2 @ 99 (a new best level); a reader calls ``depth`` then ``best``. A thread
that finds another's command unfinished helps finish it: ``HELPING`` lists the steps each
thread is seen performing on the others' commands, and the tests assert they all occur.

In every explored execution:

- each writer's result, events included, is the ``ReferenceEngine``'s for the two commands
  applied in the log order the execution produced (the positions they were linked at, seen
  through ``engine.on_step`` "linked": 3 and 4);
- each of the reader's answers is the reference state after a prefix of that order that is
  consistent with real time: at least the commands whose writers had returned before the
  read was called, at most those whose writers had started before it returned; the depth
  (read first) from a prefix no longer than the best's;
- the final book (snapshot, orders) is the reference's, and once every thread has left and
  the reclaimers have collected, ``records`` holds exactly the live records (none freed
  early, none kept).

Each thread checks its own result at once (a writer against the order its position implies,
the reader against every reference state): sleep sets may end an execution early once the
rest is equivalent to a schedule explored already, so the checks after the joins do not run
in every execution. Real time is noted in plain code, which the checker runs atomically with
the thread's previous scheduled operation: "started" before a writer's first operation,
"returned" after its last, so both bounds are safe.

Reclaimer configurations (``SharedBook`` patched in this test only, through the names its
constructor uses): "epoch", the book's ``EpochCollector`` for its records and structures,
with bags of one and an advance every unpin, so records and slots are freed inside the
explored executions; "hazard", the skiplists and the order index on a ``HazardRegistry``
that scans at every retire, the records still on the epoch collector -- the engine frees
replaced records with ``guard.defer`` after a grace period, which hazard pointers do not
offer (a ``HazardGuard`` has no ``defer``), so the records cannot move to them.

What the model needs from the test: skiplist tower heights from a generator reseeded in each
execution (the module's global ``random`` would make executions differ); ``PATIENCE`` (the
header loads a thread waits before helping another's command) set to 1 -- a performance
heuristic, bounded, so either outcome of the wait is a schedule and one load reaches both;
a spin threshold of ``SPIN`` (the planner loads one level's cell three times in a row, which
the default threshold of 2 takes for a spin and switches away from for free); the setup and
the final checks run on a plain thread (``off_model``), so their few hundred operations are
not scheduling points; and the structures are built small (``SMALL``). Plain dicts
(``records``, the archive, the level cache) are invisible to the checker: their accesses run
atomically with the thread's preceding atomic operation.

A broken variant must be caught: a book whose ``applying`` never runs ahead of the header
(completion without the announce) lets the reader's depth see a half-applied command.

Default run: every schedule with at most one preemption with the epoch reclaimer (cancel
scenario) and 100 PCT runs per configuration. ``slow``: every schedule with at most one
preemption with hazard pointers, and 2,000 seeded PCT runs per configuration (1,000 per
scenario). GC: left on (each execution leaves threads and an engine in cycles; every
thread gives its reclaimer records back inside the model, so no finalizer runs model
operations).
"""

from __future__ import annotations

import random
import threading

import pytest

from freeorder import verify
from freeorder.book import Instrument, Side
from freeorder.engines import ReferenceEngine, shared_book
from freeorder.engines import lockfree
from freeorder.engines.lockfree import LockFreeEngine
from freeorder.engines.shared_book import DEAD
from freeorder.lockfree import OrderIndex, SkipListMap, skiplist
from freeorder.reclaim import EpochCollector, HazardRegistry

pytestmark = pytest.mark.thread_unsafe(reason="the model checker switches the global atomics backend")

SYMBOL = "AAA"
INSTRUMENT = Instrument(SYMBOL, tick_size=1)
SETUP = (lambda e: e.submit(SYMBOL, Side.SELL, 3, 100, owner="m"),
         lambda e: e.submit(SYMBOL, Side.SELL, 3, 101, owner="m"))
WRITER_A = ("A", lambda e: e.submit(SYMBOL, Side.BUY, 5, 101, owner="a"))
SCENARIOS = {
    "cancel": (WRITER_A, ("B", lambda e: e.cancel(SYMBOL, 2))),
    "new-level": (WRITER_A, ("B", lambda e: e.submit(SYMBOL, Side.SELL, 2, 99, owner="b"))),
    "alone": (WRITER_A,),  # A and the reader only: the broken variant's check, small
}
# the planner loads a level's cell three times in a row (level_at, level, next_best): the checker's
# default spin threshold (2) would take that for a spin and switch away for free
SPIN = 8


class EpochCollectors(EpochCollector):
    """The book's reclaimer, for its records and its structures (bags of one, an advance every
    unpin: records and slots are freed inside the explored executions)."""

    def __init__(self):
        super().__init__(max_threads=8, bag_size=1, advance_every=1)
        self.structures = self

    def each(self):
        return (self,)


class HazardStructures(EpochCollectors):
    """The book's records on the epoch collector, its skiplists and order index on hazard
    pointers (every retire scans). The records cannot go on hazard pointers: the engine frees
    replaced records with ``guard.defer`` after a grace period, which hazard pointers have not."""

    def __init__(self):
        super().__init__()
        self.structures = HazardRegistry(max_threads=8, min_scan=1)

    def each(self):
        return (self, self.structures)


RECLAIMERS = {"epoch": EpochCollectors, "hazard": HazardStructures}


def read_depth(engine):
    return engine.depth(SYMBOL, 3)


def read_best(engine):
    return engine.best(SYMBOL)


class Reference:
    """The reference engine's results and reader answers for both log orders of the writers."""

    def __init__(self, writers):
        self.outcomes = {}
        self.any_state: tuple[list, list] = ([], [])  # every (depth, best) after any prefix of any order
        for order in (writers, writers[::-1]):
            engine = ReferenceEngine([INSTRUMENT])
            for command in SETUP:
                command(engine)
            states = [(read_depth(engine), read_best(engine))]
            results = {}
            for name, command in order:
                results[name] = command(engine)
                states.append((read_depth(engine), read_best(engine)))
            final = (engine.snapshot(SYMBOL), engine.orders(SYMBOL))
            self.outcomes[tuple(name for name, _ in order)] = (results, states, final)
            for which in (0, 1):
                self.any_state[which].extend(state[which] for state in states)

    def order_of(self, name, pos):
        """The log order in which writer ``name`` was linked at ``pos`` (after the setup's)."""
        for order in self.outcomes:
            if order.index(name) == pos - 1 - len(SETUP):
                return order
        raise AssertionError(f"writer {name} linked at log position {pos}, after {len(SETUP)} setup commands")


class Heights:
    """Skiplist tower heights from a generator reseeded at the start of each execution."""

    def __init__(self):
        self.rng = random.Random()

    def reset(self):
        self.rng.seed(7)

    def __call__(self, bits):
        return self.rng.getrandbits(bits)


@pytest.fixture
def heights(monkeypatch):
    """Deterministic tower heights; and a patience of one header load (see the module docstring)."""
    h = Heights()
    monkeypatch.setattr(skiplist, "_getrandbits", h)
    monkeypatch.setattr(lockfree, "PATIENCE", 1)
    return h


# small structures: the same code, cheap to build in every execution (the order index's default
# 1,024 buckets are 1,024 slot allocations, most of an execution's cost)
SMALL = {SkipListMap: {"initial_capacity": 8}, OrderIndex: {"buckets": 4, "initial_capacity": 8}}


def use_reclaimer(monkeypatch, name):
    """``SharedBook`` builds its reclaimer, then its structures with it: patch the three names."""
    monkeypatch.setattr(shared_book, "EpochCollector", RECLAIMERS[name])
    for structure in (SkipListMap, OrderIndex):
        monkeypatch.setattr(shared_book, structure.__name__, small_on_structures_reclaimer(structure))


def small_on_structures_reclaimer(structure):
    def make(*args, reclaimer, **kwargs):
        return structure(*args, **(kwargs | SMALL[structure] | {"reclaimer": reclaimer.structures}))

    return make


def live_stamps(book):
    """Stamps the book's cells name now: the header, every live order (finished ones are
    archived), every live level."""
    stamps = {book.header.load()}
    cells = (book.orders.get(i) for i in range(1, book.head()[2] + 1))
    stamps.update(cell.load() for cell in cells if cell is not None)
    for side in (book.bids, book.asks):
        stamps.update(s for _key, level in side.range(None) if (s := level.cell.load()) != DEAD)
    return stamps


def off_model(fn):
    """``fn()`` on a plain thread, joined: its atomic operations are not scheduling points (the
    model threads are not running meanwhile, so this changes no explored behaviour, only cost)."""
    out = []

    def run():
        try:
            out.append((True, fn()))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the model thread
            out.append((False, exc))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    ok, value = out[0]
    if not ok:
        raise value
    return value


def check_final(engine, book, reclaimers, final):
    """The final book is the reference's; records hold the live ones, and nothing else once
    every thread has left and the reclaimers have collected."""
    assert (engine.snapshot(SYMBOL), engine.orders(SYMBOL)) == final
    for reclaimer in reclaimers:
        reclaimer.flush()
    live = live_stamps(book)
    missing, kept = live - set(book.records), set(book.records) - live
    assert not missing, f"live records freed: {sorted(missing)}"
    assert not kept, f"replaced records never freed: {sorted(kept)}"
    leave(reclaimers)


def leave(reclaimers):
    """Give this thread's reclaimer records back inside the model (not at an unscheduled exit)."""
    for reclaimer in reclaimers:
        reclaimer.unregister()


def prefix_bounds(order, done, started):
    """(lo, hi): prefixes of ``order`` (names in log order) a read may have seen, given the writers
    ``done`` before it was called and ``started`` before it returned."""
    lo = max((order.index(name) + 1 for name in done), default=0)
    hi = 0
    while hi < len(order) and order[hi] in started:
        hi += 1
    return lo, hi


def helping_body(scenario, heights, engine_class=LockFreeEngine, helped=None):
    """The body for ``verify.model``. Each thread checks what it can as soon as it can (a writer
    its result against the reference for the log order its position implies, the reader each
    answer against every reference state), because sleep sets may cut an execution short
    once what remains is equivalent to a schedule already explored; the real-time bounds and
    the final state are checked once all have joined. ``helped`` (a set, if given) collects
    ``(thread, step, command's owner)`` for every named step a thread performed on another's
    command ("R" is the reader)."""
    writers = SCENARIOS[scenario]
    reference = Reference(writers)

    def setup():
        engine = engine_class([INSTRUMENT])
        for command in SETUP:
            command(engine)
        leave(engine._books[SYMBOL].reclaimer.each())
        return engine

    def body():
        heights.reset()
        engine = off_model(setup)
        book = engine._books[SYMBOL]
        reclaimers = book.reclaimer.each()
        linked, started, done, roles, owners = {}, set(), set(), {}, {}
        append = book.log.append

        def owned_append(command):
            owners[command] = roles[verify.current_thread_id()]  # before it is linked
            return append(command)

        book.log.append = owned_append

        def on_step(name, entry):
            me = verify.current_thread_id()
            if name == "linked":
                linked[me] = entry.pos
            elif helped is not None and owners[entry.payload] != roles[me]:
                helped.add((roles[me], name, owners[entry.payload]))

        engine.on_step = on_step

        def writer(name, command):
            def run():
                roles[verify.current_thread_id()] = name
                started.add(name)
                try:
                    result = command(engine)
                finally:
                    done.add(name)
                    leave(reclaimers)
                pos = linked[verify.current_thread_id()]
                order = reference.order_of(name, pos)
                want = reference.outcomes[order][0][name]
                assert result == want, (f"writer {name} at log position {pos}: {result} but the reference "
                                        f"in log order {order} gives {want}")
                return pos, result

            return verify.spawn(run)

        def reader():
            roles[verify.current_thread_id()] = "R"
            seen = []
            try:
                for which, read in enumerate((read_depth, read_best)):
                    before = frozenset(done)
                    answer = read(engine)
                    assert answer in reference.any_state[which], (
                        f"reader's {read.__name__} {answer} is no state after a prefix of either log order")
                    seen.append((answer, before, frozenset(started)))
                return seen
            finally:
                leave(reclaimers)

        handles = {name: writer(name, command) for name, command in writers}
        reading = verify.spawn(reader)
        positions = {name: handle.join()[0] for name, handle in handles.items()}
        seen = reading.join()

        order = tuple(sorted(positions, key=positions.get))
        first = len(SETUP) + 1
        assert [positions[name] for name in order] == list(range(first, first + len(order))), positions
        _results, states, final = reference.outcomes[order]
        earliest = 0
        for which, (answer, before, during) in enumerate(seen):
            lo, hi = prefix_bounds(order, before, during)
            fits = [k for k in range(max(lo, earliest), hi + 1) if states[k][which] == answer]
            assert fits, (f"reader's {('depth', 'best')[which]} {answer} is no state after a prefix "
                          f"{max(lo, earliest)}..{hi} of the log order {order} consistent with real time: "
                          f"{[s[which] for s in states]}")
            earliest = fits[0]
        off_model(lambda: check_final(engine, book, reclaimers, final))

    return body


# ---------------------------------------------------------------------- the protocol, every configuration


# the steps each thread performs on the other threads' commands: the writers plan, announce and
# apply each other's; the reader finishes either writer's half-applied command (it helps only
# once a command is announced, so it never plans)
HELPING = {(helper, step, owner) for helper, owner in (("A", "B"), ("B", "A"))
           for step in ("planned", "announced", "applied")}
HELPING |= {("R", step, owner) for step in ("announced", "applied") for owner in ("A", "B")}
# within one preemption, A never helps B: B's command must be linked and stalled before A's is
# linked, and sleep sets leave A (whose first step touches nothing) asleep in every schedule
# where B goes first, so the equivalent schedule explored is A's first step, then B, which costs
# a second preemption. PCT runs reach it.
WITHIN_ONE_PREEMPTION = HELPING - {("A", step, "B") for step in ("planned", "announced", "applied")}


def every_schedule(scenario, reclaimer, monkeypatch, heights):
    use_reclaimer(monkeypatch, reclaimer)
    helped = set()
    report = verify.model(helping_body(scenario, heights, helped=helped), max_preemptions=1, spin_threshold=SPIN)
    assert report.complete and report.executions > 100
    assert WITHIN_ONE_PREEMPTION <= helped, sorted(WITHIN_ONE_PREEMPTION - helped)


def pct_runs(scenario, reclaimer, monkeypatch, heights, runs, seed):
    use_reclaimer(monkeypatch, reclaimer)
    helped = set()
    report = verify.model(helping_body(scenario, heights, helped=helped), mode="pct", iterations=runs, seed=seed,
                          spin_threshold=SPIN)
    assert report.executions == runs
    assert HELPING <= helped, sorted(HELPING - helped)


def test_every_schedule_with_one_preemption_epoch(monkeypatch, heights):
    every_schedule("cancel", "epoch", monkeypatch, heights)


@pytest.mark.parametrize("reclaimer", sorted(RECLAIMERS))
def test_seeded_pct_runs(reclaimer, monkeypatch, heights):
    pct_runs("cancel", reclaimer, monkeypatch, heights, 100, seed=11)


@pytest.mark.slow
def test_every_schedule_with_one_preemption_hazard(monkeypatch, heights):
    every_schedule("cancel", "hazard", monkeypatch, heights)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["cancel", "new-level"])
@pytest.mark.parametrize("reclaimer", sorted(RECLAIMERS))
def test_two_thousand_pct_runs(reclaimer, scenario, monkeypatch, heights):
    """1,000 per scenario: 2,000 per configuration."""
    pct_runs(scenario, reclaimer, monkeypatch, heights, 1000, seed=2024)


# ---------------------------------------------------------------------- the check bites


class Unannounced:
    """An ``applying`` cell that never runs ahead of the header: completion without the announce."""

    def __init__(self, book):
        self.book = book

    def load(self):
        return self.book.head()[0]

    def compare_exchange(self, expected, desired):
        return expected


class UnannouncedEngine(LockFreeEngine):
    """Broken on purpose: readers cannot tell that a command is half-applied."""

    def add_instrument(self, instrument):
        super().add_instrument(instrument)
        book = self._books[instrument.symbol]
        book.applying = Unannounced(book)


def test_the_check_catches_a_completion_without_the_announce(monkeypatch, heights):
    """Found within one preemption: A is preempted between its compare-exchanges that kill level
    100 and shrink level 101, and the reader's depth shows 101 alone at its old quantity. (With
    writer B as well, the same is found after ~300 executions, ~25 s; A alone keeps it small.)"""
    use_reclaimer(monkeypatch, "epoch")
    with pytest.raises(verify.ModelFailure) as failure:
        verify.model(helping_body("alone", heights, UnannouncedEngine), max_preemptions=1, spin_threshold=SPIN)
    assert "is no state after a prefix" in str(failure.value)
    assert failure.value.schedule
