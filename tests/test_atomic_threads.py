"""Atomics under real threads: exact counts, and the store-buffering litmus test.

Each test starts its threads on a barrier and bounds its time.
"""

import time

import pytest

from freeorder import atomic
from freeorder.atomic import ACQUIRE, RELAXED, RELEASE, SEQ_CST
from threadutil import run_threads

pytestmark = pytest.mark.thread_unsafe(reason="starts its own threads")


@pytest.mark.parametrize("order", [RELAXED, SEQ_CST])
def test_eight_threads_of_fetch_add_sum_exactly(order):
    counter = atomic.AtomicInt()
    per_thread = 20_000

    def work(_):
        add = counter.fetch_add
        for _ in range(per_thread):
            add(1, order)

    run_threads(8, work)
    assert counter.load() == 8 * per_thread


def test_fetch_add_returns_each_ticket_once():
    counter = atomic.AtomicInt()
    tickets = [[] for _ in range(8)]

    def work(i):
        mine = tickets[i]
        for _ in range(5_000):
            mine.append(counter.fetch_add(1))

    run_threads(8, work)
    everything = sorted(t for ts in tickets for t in ts)
    assert everything == list(range(8 * 5_000))


def test_cas_loop_counter_is_exact():
    counter = atomic.AtomicInt()
    retries = atomic.AtomicInt()
    per_thread = 10_000

    def work(_):
        cas = counter.compare_exchange_weak
        for _ in range(per_thread):
            seen = counter.load(RELAXED)
            while True:
                witnessed = cas(seen, seen + 1, SEQ_CST, RELAXED)
                if witnessed == seen:
                    break
                retries.fetch_add(1, RELAXED)
                seen = witnessed

    run_threads(8, work)
    assert counter.load() == 8 * per_thread


def test_array_cells_count_independently_under_threads():
    cells = atomic.AtomicIntArray(4)

    def work(i):
        for k in range(8_000):
            cells.fetch_add((i + k) % 4, 1, RELAXED)

    run_threads(8, work)
    assert sum(cells.to_list()) == 8 * 8_000
    assert cells.to_list() == [16_000] * 4


def test_swap_hands_each_token_to_exactly_one_thread():
    slot = atomic.AtomicInt(-1)
    taken = [[] for _ in range(4)]

    def work(i):
        for k in range(5_000):
            prev = slot.swap(i * 5_000 + k)
            if prev >= 0:
                taken[i].append(prev)

    run_threads(4, work)
    seen = sorted([t for ts in taken for t in ts] + [slot.load()])
    assert seen == list(range(4 * 5_000))


def store_buffering(trials, store_order, load_order):
    """Run the SB litmus test; return how many trials saw r1 == r2 == 0.

    Thread A: x = 1; r1 = y.   Thread B: y = 1; r2 = x.
    The two threads step through the trials in lock-step on a pair of
    progress counters, so the racing stores and loads overlap.
    """
    x = atomic.AtomicIntArray(trials)
    y = atomic.AtomicIntArray(trials)
    r1 = atomic.AtomicIntArray(trials, -1)
    r2 = atomic.AtomicIntArray(trials, -1)
    progress = atomic.AtomicIntArray(2)

    def side(me):
        mine, theirs, res = (x, y, r1) if me == 0 else (y, x, r2)
        other = 1 - me
        load_progress = progress.load
        for t in range(trials):
            spins = 0
            while load_progress(other, ACQUIRE) < t:
                spins += 1
                if spins > 64:  # let a GIL build switch threads
                    time.sleep(0)
                    spins = 0
            mine.store(t, 1, store_order)
            res.store(t, theirs.load(t, load_order), RELAXED)
            progress.store(me, t + 1, RELEASE)

    run_threads(2, side)
    a, b = r1.to_list(), r2.to_list()
    assert -1 not in a and -1 not in b
    return sum(1 for i in range(trials) if a[i] == 0 and b[i] == 0)


def test_store_buffering_never_shows_both_zero_with_seq_cst():
    assert store_buffering(100_000, SEQ_CST, SEQ_CST) == 0
