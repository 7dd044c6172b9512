"""TreiberStack and MSQueue against list/deque, sequentially and under real threads,
with every reclaimer and the sanitizer on."""

import collections
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freeorder.lockfree import ArenaExhausted, MSQueue, TreiberStack
from freeorder.reclaim import make_reclaimer
from threadutil import run_in_thread, run_threads

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


@pytest.mark.parametrize("name", ["epoch", "hazard"])
@pytest.mark.parametrize("sanitize", [False, True])
def test_an_unbounded_arena_reclaims_before_it_grows(name, sanitize):
    """Bursts of 50 pushes then 50 pops under a reclaimer with its default thresholds: when
    the 64 initial slots are used up, an allocation first lets the reclaimer free the retired
    ones (the arena grows only if that frees nothing), so the arena never grows for 50 live
    items, however long the run."""
    stack = TreiberStack(reclaimer=make_reclaimer(name), initial_capacity=64, sanitize=sanitize)
    for _ in range(400):
        for i in range(50):
            stack.push(i)
        for i in reversed(range(50)):
            assert stack.pop() == i
    assert stack.arena.capacity == 64, f"the arena grew to {stack.arena.capacity} slots for 50 live items"


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_a_pop_protects_the_head_it_retries_with():
    """Hazard pointers: a pop whose compare-exchange fails re-reads the head under protection.

    The victim reads head a; another thread pops a (the victim's exchange will fail), and at
    the victim's second read of the head (b) pops b too and scans: b must survive the scan,
    since the victim is about to read its next field (the sanitizer raises on a freed slot)."""
    reclaimer = make_reclaimer("hazard", min_scan=1)
    stack = TreiberStack(max_capacity=16, reclaimer=reclaimer, sanitize=True)
    for item in ("c", "b", "a"):
        stack.push(item)
    popped = []

    def meanwhile(step):
        if step == "pop:read-head" and len(popped) < 2:
            popped.append(run_in_thread(lambda: (stack.pop(), reclaimer.flush())[0]))

    assert stack.handle(on_step=meanwhile).pop() == "c"
    assert popped == ["a", "b"]
    assert stack.arena.violations == []
    assert stack.pop(None) is None


@pytest.mark.thread_unsafe(reason="starts its own threads")
@pytest.mark.parametrize("name", ["epoch", "hazard", "counted pointers"])
def test_peek_never_reports_an_item_popped_while_it_looked(name):
    """Peek reads the head, then its item: a pop in between must send it back to the new head
    (the item it read belongs to a node no longer on the stack)."""
    stack = TreiberStack(max_capacity=16, reclaimer=None if name == "counted pointers" else reclaimer_for(name),
                         sanitize=False)
    for item in ("bottom", "top"):
        stack.push(item)
    popped = []

    def meanwhile(step):
        if step == "peek:read-head" and not popped:
            popped.append(run_in_thread(stack.pop))

    assert stack.handle(on_step=meanwhile).peek() == "bottom"
    assert popped == ["top"]


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
