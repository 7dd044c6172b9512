"""SeqLock: consistent reads under concurrent (multi-)writers; bad input leaves it unchanged."""

import pytest

from freeorder.lockfree import SeqLock
from threadutil import run_threads


def test_read_returns_what_was_written():
    lock = SeqLock(3, [1, 2, 3])
    assert lock.read() == (1, 2, 3)
    lock.write([4, 5, 6])
    assert lock.read() == (4, 5, 6)
    assert lock.version() == 1


def test_update_applies_a_function_atomically():
    lock = SeqLock(2, [1, 10])
    assert lock.update(lambda v: (v[0] + 1, v[1] * 2)) == (2, 20)
    assert lock.read() == (2, 20)


@pytest.mark.parametrize(
    "values,error",
    [([1, 2], ValueError), ([1, 2, 3, 4], ValueError), ([1, 2.0, 3], TypeError), ([1, 2**64, 3], OverflowError)],
)
def test_bad_writes_raise_and_change_nothing(values, error):
    lock = SeqLock(3, [7, 8, 9])
    with pytest.raises(error, match="values"):
        lock.write(values)
    with pytest.raises(error):
        lock.update(lambda _: values)
    assert lock.read() == (7, 8, 9)
    assert lock.version() == 1  # only the failed update's released claim


def test_update_that_raises_releases_the_write():
    lock = SeqLock(1, [5])

    def boom(_):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        lock.update(boom)
    lock.write([6])  # would spin forever if the claim were not released
    assert lock.read() == (6,)


def test_width_must_be_positive():
    with pytest.raises(ValueError, match="width=0"):
        SeqLock(0)


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_readers_never_see_a_torn_record_with_many_writers():
    width = 6
    lock = SeqLock(width, [0] * width)
    writes_per_writer = 3_000
    torn = []

    def work(i):
        if i < 3:  # writers: every field of a record holds the same value
            for k in range(writes_per_writer):
                lock.write([i * writes_per_writer + k] * width)
            return
        for _ in range(3_000):
            record = lock.read()
            if len(set(record)) != 1:
                torn.append(record)

    run_threads(8, work)
    assert torn == []
    assert lock.version() == 3 * writes_per_writer


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_concurrent_updates_are_not_lost():
    lock = SeqLock(2, [0, 0])

    def work(_):
        for _ in range(2_000):
            lock.update(lambda v: (v[0] + 1, v[1] - 1))

    run_threads(4, work)
    assert lock.read() == (8_000, -8_000)
