"""Every atomics backend behaves the same: values, orders, and misuse errors."""

import itertools

import pytest

from freeorder.atomic import (
    ACQ_REL,
    ACQUIRE,
    INT64_MAX,
    INT64_MIN,
    RELAXED,
    RELEASE,
    SEQ_CST,
    MemoryOrder,
)

ALL_ORDERS = list(MemoryOrder)
LOAD_ORDERS = [RELAXED, ACQUIRE, SEQ_CST]
STORE_ORDERS = [RELAXED, RELEASE, SEQ_CST]
FAILURE_ORDERS = [RELAXED, ACQUIRE, SEQ_CST]
RMW = {
    "fetch_add": lambda a, b: a + b,
    "fetch_sub": lambda a, b: a - b,
    "fetch_and": lambda a, b: a & b,
    "fetch_or": lambda a, b: a | b,
    "fetch_xor": lambda a, b: a ^ b,
    "swap": lambda a, b: b,
}


def wrap(v):
    return ((v - INT64_MIN) % 2**64) + INT64_MIN


# ---- AtomicInt ---------------------------------------------------------------


def test_default_value_is_zero(backend):
    assert backend.AtomicInt().load() == 0


@pytest.mark.parametrize("value", [0, 1, -1, 12345, INT64_MAX, INT64_MIN])
def test_initial_value_round_trips(backend, value):
    assert backend.AtomicInt(value).load() == value
    assert backend.AtomicInt(value=value).load() == value


@pytest.mark.parametrize("order", LOAD_ORDERS)
def test_load_each_valid_order(backend, order):
    assert backend.AtomicInt(7).load(order) == 7
    assert backend.AtomicInt(7).load(order=order) == 7


@pytest.mark.parametrize("order", STORE_ORDERS)
def test_store_each_valid_order(backend, order):
    a = backend.AtomicInt()
    assert a.store(-42, order) is None
    assert a.load() == -42
    a.store(value=9, order=order)
    assert a.load() == 9


@pytest.mark.parametrize("order", [RELEASE, ACQ_REL])
def test_load_with_release_order_raises(backend, order):
    with pytest.raises(ValueError, match="load"):
        backend.AtomicInt().load(order)


@pytest.mark.parametrize("order", [ACQUIRE, ACQ_REL])
def test_store_with_acquire_order_raises(backend, order):
    a = backend.AtomicInt(3)
    with pytest.raises(ValueError, match="store"):
        a.store(5, order)
    assert a.load() == 3


@pytest.mark.parametrize("op", sorted(RMW))
@pytest.mark.parametrize("order", ALL_ORDERS)
def test_rmw_returns_previous_and_applies(backend, op, order):
    for start, arg in [(0, 5), (12, 10), (-7, 3), (0b1100, 0b1010)]:
        a = backend.AtomicInt(start)
        assert getattr(a, op)(arg, order) == start
        assert a.load() == wrap(RMW[op](start, arg))


@pytest.mark.parametrize(
    "op,start,arg,expected",
    [
        ("fetch_add", INT64_MAX, 1, INT64_MIN),
        ("fetch_sub", INT64_MIN, 1, INT64_MAX),
        ("fetch_add", -1, INT64_MIN, INT64_MAX),
    ],
)
def test_arithmetic_wraps_like_c11(backend, op, start, arg, expected):
    a = backend.AtomicInt(start)
    getattr(a, op)(arg)
    assert a.load() == expected


@pytest.mark.parametrize("weak", [False, True])
@pytest.mark.parametrize(
    "order,failure", [(o, f) for o, f in itertools.product(ALL_ORDERS, FAILURE_ORDERS + [None])]
)
def test_compare_exchange_success_returns_expected(backend, order, failure, weak):
    a = backend.AtomicInt(10)
    # a weak exchange may fail spuriously: retry until it reports success
    for _ in range(1000):
        witnessed = a.compare_exchange(10, 20, order=order, failure=failure, weak=weak)
        if witnessed == 10:
            break
    assert witnessed == 10
    assert a.load() == 20


@pytest.mark.parametrize("weak", [False, True])
def test_compare_exchange_failure_returns_witnessed_and_changes_nothing(backend, weak):
    a = backend.AtomicInt(10)
    assert a.compare_exchange(11, 20, weak=weak) == 10
    assert a.load() == 10


def test_compare_exchange_weak_method(backend):
    a = backend.AtomicInt(1)
    while a.compare_exchange_weak(1, 2) != 1:
        pass
    assert a.load() == 2
    assert a.compare_exchange_weak(1, 3, ACQ_REL, ACQUIRE) == 2


@pytest.mark.parametrize("failure", [RELEASE, ACQ_REL])
def test_compare_exchange_release_failure_order_raises(backend, failure):
    a = backend.AtomicInt(1)
    with pytest.raises(ValueError, match="failure"):
        a.compare_exchange(1, 2, SEQ_CST, failure)
    assert a.load() == 1


@pytest.mark.parametrize("bad", [5, -1, 100])
def test_order_out_of_range_raises_value_error(backend, bad):
    with pytest.raises(ValueError, match="order"):
        backend.AtomicInt().load(bad)


@pytest.mark.parametrize("bad", ["SEQ_CST", 1.0, None])
def test_order_of_wrong_type_raises_type_error(backend, bad):
    with pytest.raises(TypeError, match="order"):
        backend.AtomicInt().fetch_add(1, bad)


@pytest.mark.parametrize("value", [INT64_MAX + 1, INT64_MIN - 1, 2**100])
def test_value_outside_int64_raises_overflow(backend, value):
    with pytest.raises(OverflowError, match="int64"):
        backend.AtomicInt(value)
    a = backend.AtomicInt(1)
    for call in (
        lambda: a.store(value),
        lambda: a.fetch_add(value),
        lambda: a.swap(value),
        lambda: a.compare_exchange(1, value),
    ):
        with pytest.raises(OverflowError):
            call()
    assert a.load() == 1


@pytest.mark.parametrize("value", [1.0, "1", None, b"1", 1.5])
def test_non_int_value_raises_type_error(backend, value):
    with pytest.raises(TypeError):
        backend.AtomicInt(value)
    a = backend.AtomicInt(1)
    with pytest.raises(TypeError, match="value"):
        a.store(value)
    with pytest.raises(TypeError):
        a.compare_exchange(value, 2)
    assert a.load() == 1


def test_bool_and_index_types_are_ints(backend):
    class Idx:
        def __index__(self):
            return 41

    a = backend.AtomicInt(True)
    assert a.load() == 1
    a.store(Idx())
    assert a.load() == 41


def test_unknown_keyword_raises(backend):
    with pytest.raises(TypeError):
        backend.AtomicInt().load(ordr=SEQ_CST)


# ---- AtomicIntArray ----------------------------------------------------------


def test_array_fill_and_length(backend):
    arr = backend.AtomicIntArray(5, -3)
    assert len(arr) == 5
    assert arr.to_list() == [-3] * 5
    assert len(backend.AtomicIntArray(0)) == 0
    assert backend.AtomicIntArray(3).to_list() == [0, 0, 0]


def test_array_cells_are_independent(backend):
    arr = backend.AtomicIntArray(4)
    for i in range(4):
        arr.store(i, i * 10)
    arr.fetch_add(2, 5)
    assert arr.to_list() == [0, 10, 25, 30]


@pytest.mark.parametrize("op", sorted(RMW))
@pytest.mark.parametrize("order", ALL_ORDERS)
def test_array_rmw(backend, op, order):
    arr = backend.AtomicIntArray(3, 12)
    assert getattr(arr, op)(1, 10, order) == 12
    assert arr.to_list() == [12, wrap(RMW[op](12, 10)), 12]


@pytest.mark.parametrize("order", LOAD_ORDERS)
def test_array_load_orders(backend, order):
    arr = backend.AtomicIntArray(2, 4)
    assert arr.load(1, order) == 4
    assert arr.load(index=0, order=order) == 4


@pytest.mark.parametrize("order", STORE_ORDERS)
def test_array_store_orders(backend, order):
    arr = backend.AtomicIntArray(2)
    arr.store(1, 99, order)
    arr.store(index=0, value=-1, order=order)
    assert arr.to_list() == [-1, 99]


def test_array_compare_exchange(backend):
    arr = backend.AtomicIntArray(2, 1)
    assert arr.compare_exchange(0, 1, 5) == 1
    assert arr.compare_exchange(0, 1, 6) == 5
    assert arr.compare_exchange(1, 1, 7, order=ACQ_REL, failure=ACQUIRE, weak=False) == 1
    while arr.compare_exchange_weak(1, 7, 8, RELEASE, RELAXED) != 7:
        pass
    assert arr.to_list() == [5, 8]


def test_array_order_misuse_raises(backend):
    arr = backend.AtomicIntArray(1)
    with pytest.raises(ValueError):
        arr.load(0, RELEASE)
    with pytest.raises(ValueError):
        arr.store(0, 1, ACQUIRE)
    with pytest.raises(ValueError):
        arr.compare_exchange(0, 0, 1, SEQ_CST, ACQ_REL)
    assert arr.to_list() == [0]


@pytest.mark.parametrize("index", [3, 4, -1, 2**70])
def test_array_bad_index_raises_index_error(backend, index):
    arr = backend.AtomicIntArray(3)
    for call in (
        lambda: arr.load(index),
        lambda: arr.store(index, 1),
        lambda: arr.fetch_add(index, 1),
        lambda: arr.swap(index, 1),
        lambda: arr.compare_exchange(index, 0, 1),
    ):
        with pytest.raises(IndexError, match="index"):
            call()
    assert arr.to_list() == [0, 0, 0]


@pytest.mark.parametrize("index", [1.0, "0", None])
def test_array_non_int_index_raises_type_error(backend, index):
    with pytest.raises(TypeError, match="index"):
        backend.AtomicIntArray(3).load(index)


def test_array_bad_construction(backend):
    with pytest.raises(ValueError, match="length"):
        backend.AtomicIntArray(-1)
    with pytest.raises(TypeError):
        backend.AtomicIntArray(2.0)
    with pytest.raises(OverflowError):
        backend.AtomicIntArray(2, 2**64)


def test_array_value_overflow_leaves_cell(backend):
    arr = backend.AtomicIntArray(1, 5)
    with pytest.raises(OverflowError):
        arr.store(0, INT64_MAX + 1)
    with pytest.raises(TypeError):
        arr.fetch_add(0, 1.0)
    assert arr.to_list() == [5]


def test_fence_accepts_every_order(backend):
    for order in ALL_ORDERS:
        backend.fence(order)
    with pytest.raises(ValueError):
        backend.fence(9)


# ---- reserved arrays that grow -------------------------------------------------


def test_reserved_array_grows_in_place(backend):
    a = backend.AtomicIntArray(2, reserve=1000)
    assert len(a) == 2 and a.reserved == 1000
    a.store(1, 41)
    with pytest.raises(IndexError):
        a.load(2)
    assert a.grow(500) == 500
    assert len(a) == 500
    assert a.load(1) == 41 and a.load(2) == 0 and a.load(499) == 0
    a.store(499, -7)
    assert a.grow(10) == 500, "grow never shrinks"
    assert a.load(499) == -7
    assert a.grow(1000) == 1000


def test_reserved_array_misuse_raises(backend):
    with pytest.raises(ValueError, match="reserve"):
        backend.AtomicIntArray(10, reserve=5)
    with pytest.raises(ValueError, match="fill"):
        backend.AtomicIntArray(10, 3, reserve=20)
    a = backend.AtomicIntArray(1, reserve=8)
    with pytest.raises(ValueError, match="reservation"):
        a.grow(9)
    with pytest.raises(ValueError, match="reservation"):
        a.grow(-1)
    with pytest.raises(TypeError):
        a.grow(2.0)
    assert len(a) == 1


def test_unreserved_array_cannot_grow(backend):
    a = backend.AtomicIntArray(4, 5)
    assert a.reserved == 4
    assert a.grow(4) == 4
    with pytest.raises(ValueError, match="reservation"):
        a.grow(5)


# ---- thread index ----------------------------------------------------------------


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_thread_index_is_stable_and_distinct_among_live_threads(backend):
    import threading

    mine = backend.thread_index()
    assert isinstance(mine, int) and mine >= 0
    assert backend.thread_index() == mine
    seen, ready, done = [], threading.Barrier(5), threading.Event()

    def worker():
        first = backend.thread_index()
        ready.wait(10)             # all alive at once
        seen.append((first, backend.thread_index()))
        done.wait(10)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    ready.wait(10)
    done.set()
    for t in threads:
        t.join(10)
    assert all(a == b for a, b in seen), "an index changed within one thread"
    indexes = {a for a, _ in seen} | {mine}
    assert len(indexes) == 5, "two live threads shared an index"


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_thread_index_is_given_back_when_a_thread_exits(backend):
    import threading
    import time

    used = []
    for _ in range(40):
        t = threading.Thread(target=lambda: used.append(backend.thread_index()))
        t.start()
        t.join(10)
        time.sleep(0.002)          # the index is released as the OS thread ends, just after join
    assert len(set(used)) <= 4, f"indexes were not reused: {sorted(set(used))}"
