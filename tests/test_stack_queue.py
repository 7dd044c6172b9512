"""TreiberStack and MSQueue against list/deque, sequentially and under real threads,
with every reclaimer and the sanitizer on."""

import collections
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freeorder.lockfree import ArenaExhausted, MSQueue, TreiberStack
from freeorder.reclaim import make_reclaimer
from threadutil import run_threads

RECLAIMERS = ["epoch", "hazard", "none"]
ops = st.lists(st.one_of(st.tuples(st.just("put"), st.integers()), st.just(("take",)), st.just(("peek",))), max_size=120)


def reclaimer_for(name):
    # small scan/bag sizes so slots really are reused during short tests
    if name == "epoch":
        return make_reclaimer(name, bag_size=4, advance_every=2)
    if name == "hazard":
        return make_reclaimer(name, min_scan=2)
    return make_reclaimer(name)


@pytest.mark.thread_unsafe(reason="hypothesis")
@pytest.mark.parametrize("name", RECLAIMERS)
@settings(max_examples=40, deadline=None)
@given(ops=ops)
def test_stack_matches_a_list(name, ops):
    stack = TreiberStack(max_capacity=256, reclaimer=reclaimer_for(name), sanitize=True)
    model = []
    for op in ops:
        if op[0] == "put":
            stack.push(op[1])
            model.append(op[1])
        elif op[0] == "take":
            assert stack.pop(None) == (model.pop() if model else None)
        else:
            assert stack.peek(None) == (model[-1] if model else None)
        assert stack.is_empty() == (not model)
    assert stack.to_list() == model[::-1]
    stack.audit()


@pytest.mark.thread_unsafe(reason="hypothesis")
@pytest.mark.parametrize("name", RECLAIMERS)
@settings(max_examples=40, deadline=None)
@given(ops=ops)
def test_queue_matches_a_deque(name, ops):
    queue = MSQueue(max_capacity=256, reclaimer=reclaimer_for(name), sanitize=True)
    model = collections.deque()
    for op in ops:
        if op[0] == "put":
            queue.enqueue(op[1])
            model.append(op[1])
        elif op[0] == "take":
            assert queue.dequeue(None) == (model.popleft() if model else None)
        else:
            assert queue.peek(None) == (model[0] if model else None)
        assert queue.is_empty() == (not model)
    assert queue.to_list() == list(model)
    queue.audit()


@pytest.mark.parametrize("cls", [TreiberStack, MSQueue])
def test_empty_structures_raise_index_error(cls):
    s = cls(max_capacity=4)
    take = s.pop if cls is TreiberStack else s.dequeue
    with pytest.raises(IndexError, match="empty"):
        take()
    with pytest.raises(IndexError, match="empty"):
        s.peek()
    assert take("d") == "d"


@pytest.mark.parametrize("name", ["epoch", "hazard"])
def test_slots_are_reused_so_a_small_arena_runs_forever(name):
    reclaimer = reclaimer_for(name)
    stack = TreiberStack(max_capacity=16, reclaimer=reclaimer, sanitize=True)
    queue = MSQueue(max_capacity=16, reclaimer=reclaimer, sanitize=True)
    for i in range(2_000):
        stack.push(i)
        queue.enqueue(i)
        assert stack.pop() == i
        assert queue.dequeue() == i
    assert stack.arena.peak <= 16
    assert queue.arena.peak <= 17


def test_no_reclaim_exhausts_with_a_clear_error():
    stack = TreiberStack(max_capacity=8, reclaimer=make_reclaimer("none"))
    with pytest.raises(ArenaExhausted, match="8 slots"):
        for i in range(100):
            stack.push(i)
            stack.pop()


def test_exhaustion_leaves_the_structure_unchanged():
    queue = MSQueue(max_capacity=2)
    queue.enqueue(1)
    queue.enqueue(2)
    with pytest.raises(ArenaExhausted):
        queue.enqueue(3)
    assert queue.to_list() == [1, 2]


# ---- real threads -------------------------------------------------------------

PRODUCERS = CONSUMERS = 4
PER_PRODUCER = 3_000


def produce_consume(name, make, put, take):
    """4 producers put (p, seq) items, 4 consumers take until all are taken."""
    s = make(max_capacity=PRODUCERS * PER_PRODUCER + 1, reclaimer=reclaimer_for(name), sanitize=True)
    put, take = getattr(s, put), getattr(s, take)
    taken = [[] for _ in range(CONSUMERS)]
    remaining = [PRODUCERS * PER_PRODUCER]
    count_lock = threading.Lock()  # test bookkeeping only

    def work(i):
        if i < PRODUCERS:
            for k in range(PER_PRODUCER):
                put((i, k))
            return
        mine = taken[i - PRODUCERS]
        while True:
            item = take(None)
            if item is None:
                with count_lock:
                    if remaining[0] == 0:
                        return
                continue
            mine.append(item)
            with count_lock:
                remaining[0] -= 1

    run_threads(PRODUCERS + CONSUMERS, work)
    s.reclaimer.flush()
    return s, taken


@pytest.mark.thread_unsafe(reason="starts its own threads")
@pytest.mark.parametrize("name", RECLAIMERS)
def test_stack_delivers_every_item_exactly_once(name):
    stack, taken = produce_consume(name, TreiberStack, "push", "pop")
    everything = sorted(x for t in taken for x in t)
    assert everything == sorted((p, k) for p in range(PRODUCERS) for k in range(PER_PRODUCER))
    assert stack.is_empty()
    stack.audit()
    assert stack.arena.violations == []


@pytest.mark.thread_unsafe(reason="starts its own threads")
@pytest.mark.parametrize("name", RECLAIMERS)
def test_queue_delivers_every_item_once_in_per_producer_fifo_order(name):
    queue, taken = produce_consume(name, MSQueue, "enqueue", "dequeue")
    everything = sorted(x for t in taken for x in t)
    assert everything == sorted((p, k) for p in range(PRODUCERS) for k in range(PER_PRODUCER))
    for consumer in taken:
        last = {}
        for p, k in consumer:
            assert k > last.get(p, -1), "a consumer saw a producer's items out of order"
            last[p] = k
    assert queue.is_empty()
    queue.audit()
    assert queue.arena.violations == []


@pytest.mark.thread_unsafe(reason="starts its own threads")
@pytest.mark.parametrize("cls,put,take", [(TreiberStack, "push", "pop"), (MSQueue, "enqueue", "dequeue")])
@pytest.mark.parametrize("name", RECLAIMERS)
def test_take_from_nearly_empty_under_contention(cls, put, take, name):
    s = cls(max_capacity=256, reclaimer=reclaimer_for(name), sanitize=True)
    for i in range(100):
        getattr(s, put)(i)
    got = [[] for _ in range(8)]

    def work(i):
        for _ in range(60):
            item = getattr(s, take)(None)
            if item is not None:
                got[i].append(item)

    run_threads(8, work)
    assert sorted(x for g in got for x in g) == list(range(100))
    assert s.is_empty()
    assert s.arena.violations == []
