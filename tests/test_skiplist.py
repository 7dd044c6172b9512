"""SkipListMap: against SortedDict sequentially (every reclaimer, sanitizer on), and
under real threads: winners explain the final state, pops are exactly-once, readers
see only stored values, slots come back."""

import doctest
import random
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sortedcontainers import SortedDict

from freeorder.atomic import INT64_MAX, INT64_MIN, AtomicInt
from freeorder.lockfree import skiplist as skiplist_module
from freeorder.lockfree.skiplist import SkipListMap
from freeorder.reclaim import make_reclaimer
from threadutil import run_threads

RECLAIMERS = ["epoch", "hazard", "none"]
THREADS = 8


def reclaimer_for(name):
    # small bags/scan thresholds so slots really are reused during short tests
    if name == "epoch":
        return make_reclaimer(name, bag_size=4, advance_every=2)
    if name == "hazard":
        return make_reclaimer(name, min_scan=2)
    return make_reclaimer(name)


keys = st.integers(-20, 20)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), keys, st.integers()),
        st.tuples(st.just("get_or_insert"), keys, st.integers()),
        st.tuples(st.just("remove"), keys),
        st.tuples(st.just("pop"), keys),
        st.tuples(st.just("get"), keys),
        st.tuples(st.just("pop_first")),
        st.tuples(st.just("pop_last")),
        st.tuples(st.just("ends")),
        st.tuples(st.just("range"), keys, keys, st.booleans()),
    ),
    max_size=80,
)


@pytest.mark.thread_unsafe(reason="hypothesis")
@pytest.mark.parametrize("name", RECLAIMERS)
@settings(max_examples=40, deadline=None)
@given(ops=ops)
def test_matches_a_sorted_dict(name, ops):
    m = SkipListMap(max_capacity=512, reclaimer=reclaimer_for(name), max_height=4, sanitize=True)
    model = SortedDict()
    for op in ops:
        kind = op[0]
        if kind == "insert":
            assert m.insert(op[1], op[2]) == (op[1] not in model)
            model[op[1]] = op[2]
        elif kind == "get_or_insert":
            assert m.get_or_insert(op[1], op[2]) == model.setdefault(op[1], op[2])
        elif kind == "remove":
            if op[1] in model:
                assert m.remove(op[1]) == model.pop(op[1])
            else:
                with pytest.raises(KeyError):
                    m.remove(op[1])
        elif kind == "pop":
            assert m.pop(op[1], "absent") == model.pop(op[1], "absent")
        elif kind == "get":
            assert m.get(op[1], "absent") == model.get(op[1], "absent")
            assert (op[1] in m) == (op[1] in model)
        elif kind in ("pop_first", "pop_last"):
            if model:
                assert getattr(m, kind)() == model.popitem(0 if kind == "pop_first" else -1)
            else:
                with pytest.raises(KeyError):
                    getattr(m, kind)()
        elif kind == "ends":
            if model:
                assert m.first() == model.peekitem(0)
                assert m.last() == model.peekitem(-1)
            else:
                with pytest.raises(KeyError):
                    m.first()
                with pytest.raises(KeyError):
                    m.last()
        else:
            _, lo, hi, reverse = op
            expected = [(k, model[k]) for k in model.irange(lo, hi, inclusive=(True, False), reverse=reverse)]
            assert list(m.range(lo, hi, reverse=reverse)) == expected
        assert len(m) == len(model)
    assert list(m.items()) == list(model.items())
    assert list(m.items(reverse=True)) == list(reversed(model.items()))
    assert m.audit()["length"] == len(model)


@pytest.mark.parametrize("name", RECLAIMERS)
def test_long_iteration_crosses_batches_both_ways(name):
    m = SkipListMap(max_capacity=2000, reclaimer=reclaimer_for(name), sanitize=True)
    for k in random.Random(1).sample(range(-5000, 5000), 1500):
        m.insert(k, -k)
    keys = sorted(m.keys())
    assert len(keys) == 1500
    assert list(m.items()) == [(k, -k) for k in keys]
    assert list(m.items(reverse=True)) == [(k, -k) for k in reversed(keys)]
    assert list(m.range(-100, 100, reverse=True)) == [(k, -k) for k in reversed(keys) if -100 <= k < 100]
    m.audit()


def test_extreme_keys():
    m = SkipListMap(max_capacity=8)
    m.insert(INT64_MIN, "min")
    m.insert(INT64_MAX, "max")
    assert m.first() == (INT64_MIN, "min")
    assert m.last() == (INT64_MAX, "max")
    assert list(m.items(reverse=True)) == [(INT64_MAX, "max"), (INT64_MIN, "min")]


@pytest.mark.parametrize("bad", [2**63, -(2**63) - 1, 10**30])
def test_keys_outside_int64_raise_overflow_error_naming_the_key(bad):
    m = SkipListMap(max_capacity=8)
    for call in (lambda: m.insert(bad, 1), lambda: m.get(bad), lambda: m.pop(bad, None), lambda: bad in m):
        with pytest.raises(OverflowError, match=rf"key={bad}"):
            call()


@pytest.mark.parametrize("bad", ["1", 1.0, None, True])
def test_non_int_keys_raise_type_error_naming_the_key(bad):
    m = SkipListMap(max_capacity=8)
    with pytest.raises(TypeError, match=r"key=.* must be an int"):
        m.insert(bad, 1)
    if bad is not None:  # None means unbounded here
        with pytest.raises(TypeError, match=r"lo=.* must be an int"):
            list(m.range(lo=bad))


def test_replace_keeps_one_entry_and_recycles_value_slots():
    reclaimer = make_reclaimer("epoch")
    m = SkipListMap(max_capacity=16, reclaimer=reclaimer, sanitize=True)
    for i in range(200):  # far more replacements than slots
        m.insert(5, i)
        reclaimer.flush()
    assert m.get(5) == 199 and len(m) == 1
    m.audit()


def test_audit_catches_a_broken_order():
    m = SkipListMap(max_capacity=16, max_height=2)
    for k in (1, 2, 3):
        m.insert(k, k)
    index = next(i for k, i in m._level_nodes(0) if k == 2)
    m._key.store(index, 10)
    with pytest.raises(AssertionError, match="not strictly increasing"):
        m.audit()


def test_docstring_examples():
    assert doctest.testmod(skiplist_module).failed == 0


def test_ever_increasing_keys_run_forever_within_capacity():
    for name in ("epoch", "hazard"):
        reclaimer = reclaimer_for(name)
        m = SkipListMap(max_capacity=128, reclaimer=reclaimer, sanitize=True)
        for k in range(3000):
            m.insert(k, k)
            if k >= 32:
                assert m.remove(k - 32) == k - 32
        assert len(m) == 32
        reclaimer.flush()
        assert m.arena.in_use == 32 + 1  # live nodes + head


# -- threads ------------------------------------------------------------------------


@pytest.mark.thread_unsafe(reason="starts threads")
@pytest.mark.parametrize("name", RECLAIMERS)
def test_concurrent_inserts_and_removes_are_explained_by_the_winners(name):
    m = SkipListMap(max_capacity=1 << 16, reclaimer=reclaimer_for(name), sanitize=True)
    nkeys = 48
    wins = [[0] * nkeys for _ in range(THREADS)]  # successful inserts minus removes

    def work(t):
        rnd = random.Random(t)
        for i in range(1500):
            k = rnd.randrange(nkeys)
            op = rnd.random()
            if op < 0.3:
                wins[t][k] += m.insert(k, (k, t, i))
            elif op < 0.45:
                wins[t][k] += m.get_or_insert(k, (k, t, i)) == (k, t, i)
            elif op < 0.75:
                value = m.pop(k, None)
                if value is not None:
                    assert value[0] == k
                    wins[t][k] -= 1
            elif op < 0.85:
                try:
                    key, value = m.pop_first() if op < 0.8 else m.pop_last()
                except KeyError:
                    continue
                assert value[0] == key
                wins[t][key] -= 1
            else:
                value = m.get(k)
                assert value is None or value[0] == k

    run_threads(THREADS, work, timeout=60)
    present = dict(m.items())
    for k in range(nkeys):
        net = sum(w[k] for w in wins)
        assert net in (0, 1) and net == (k in present), (k, net)
    assert m.audit()["length"] == len(present)


@pytest.mark.thread_unsafe(reason="starts threads")
@pytest.mark.parametrize("name", RECLAIMERS)
def test_pop_first_under_contention_pops_every_key_exactly_once(name):
    m = SkipListMap(max_capacity=1 << 14, reclaimer=reclaimer_for(name), sanitize=True)
    total = 2000
    for k in random.Random(7).sample(range(total), total):
        m.insert(k, -k)
    popped = [[] for _ in range(THREADS)]

    def work(t):
        pop = m.pop_last if t % 2 else m.pop_first
        while True:
            try:
                key, value = pop()
            except KeyError:
                return
            assert value == -key
            popped[t].append(key)

    run_threads(THREADS, work, timeout=60)
    everything = sorted(k for p in popped for k in p)
    assert everything == list(range(total))
    for p in popped:  # each thread saw its end move monotonically
        assert p == sorted(p) or p == sorted(p, reverse=True)
    assert len(m) == 0 and m.audit()["length"] == 0


@pytest.mark.thread_unsafe(reason="starts threads")
@pytest.mark.parametrize("name", RECLAIMERS)
def test_pop_first_from_near_empty_with_producers(name):
    m = SkipListMap(max_capacity=1 << 15, reclaimer=reclaimer_for(name), sanitize=True)
    per_producer = 600
    producers = THREADS // 2
    total = producers * per_producer
    count = AtomicInt(0)
    popped = [[] for _ in range(THREADS)]
    deadline = time.monotonic() + 30

    def work(t):
        if t < producers:
            for i in range(per_producer):
                m.insert(t * per_producer + i, t)
            return
        while count.load() < total and time.monotonic() < deadline:
            try:
                key, value = m.pop_first()  # mostly from an empty or one-key map
            except KeyError:
                continue
            count.fetch_add(1)
            assert value == key // per_producer
            popped[t].append(key)

    run_threads(THREADS, work, timeout=60)
    everything = sorted(k for p in popped for k in p)
    assert everything == list(range(total))
    assert len(m) == 0 and m.audit()["length"] == 0


@pytest.mark.thread_unsafe(reason="starts threads")
@pytest.mark.parametrize("name", RECLAIMERS)
def test_readers_never_see_keys_or_values_that_were_never_stored(name):
    m = SkipListMap(max_capacity=1 << 16, reclaimer=reclaimer_for(name), sanitize=True)
    writers = 4
    stop = threading.Event()

    def work(t):
        rnd = random.Random(t)
        if t < writers:
            for i in range(2500):
                k = rnd.randrange(0, 100, 2)  # only even keys are ever inserted
                if rnd.random() < 0.6:
                    m.insert(k, ("v", k, t, i))
                else:
                    m.pop(k, None)
            stop.set()
            return
        while not stop.is_set():
            k = rnd.randrange(100)
            value = m.get(k)
            if k % 2:
                assert value is None
            elif value is not None:
                assert value[0] == "v" and value[1] == k and 0 <= value[2] < writers
            for key, value in m.range(rnd.randrange(100), 100, reverse=bool(rnd.getrandbits(1))):
                assert key % 2 == 0 and value[1] == key

    run_threads(THREADS, work, timeout=60)
    m.audit()


@pytest.mark.thread_unsafe(reason="starts threads")
@pytest.mark.parametrize("name", ["epoch", "hazard"])
def test_slots_are_reclaimed_after_flush(name):
    reclaimer = reclaimer_for(name)
    capacity = THREADS * 1500  # room for every key: a stalled epoch must not fail the test
    m = SkipListMap(max_capacity=capacity, reclaimer=reclaimer, sanitize=True)

    def work(t):
        base = t * 1_000_000
        for i in range(1500):
            m.insert(base + i, i)
            if i >= 20:
                assert m.remove(base + i - 20) == i - 20

    run_threads(THREADS, work, timeout=60)
    live = m.audit()["length"]
    assert live == THREADS * 20
    reclaimer.flush()
    stats = reclaimer.stats()
    assert stats["pending"] == 0, stats
    assert m.arena.in_use == live + 1  # + the head


@pytest.mark.thread_unsafe(reason="starts threads")
@pytest.mark.parametrize("name", ["epoch", "hazard"])
def test_a_thread_exiting_while_pinned_does_not_stop_reclamation(name):
    reclaimer = reclaimer_for(name)
    m = SkipListMap(max_capacity=256, reclaimer=reclaimer, sanitize=True)
    for k in range(100):
        m.insert(k, k)

    def pinned_exit():
        guard = reclaimer.pin()
        guard.protect(0, m._nexts[0], m._head)  # holds a hazard, never unpins
        assert m.get(50) == 50

    thread = threading.Thread(target=pinned_exit)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    for k in range(100):
        m.remove(k)
    reclaimer.flush()
    assert reclaimer.stats()["pending"] == 0
    assert m.arena.in_use == 1
