"""Reclaimers: the guard protocol, when slots are freed, thread exit, and the sanitizer."""

import threading

import pytest

from freeorder.lockfree import Arena, TreiberStack
from freeorder.reclaim import (
    DoubleRetire,
    EpochCollector,
    HazardRegistry,
    NoReclaim,
    TooManyThreads,
    UseAfterReclaim,
    key_of,
    make_reclaimer,
)
from threadutil import run_in_thread

pytestmark = pytest.mark.thread_unsafe(reason="starts threads / relies on per-thread records")

RECLAIMERS = ["epoch", "hazard", "none"]


def retire(guard, arena, ref):
    """What a structure does when it unlinks a slot: mark it (sanitizer), hand it over."""
    if arena.sanitize:
        arena.mark_retired(ref)
    guard.retire(arena.free, ref, key_of(ref))


def retire_all(reclaimer, arena, refs):
    with reclaimer.pin() as guard:
        for ref in refs:
            retire(guard, arena, ref)


class EagerReclaimer:
    """Deliberately broken: frees a slot the moment it is retired, ignoring readers."""

    name = "eager"

    class _Guard:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def unpin(self):
            pass

        def protect(self, hazard, array, index):
            return array.load(index)

        def retire(self, free, ref, key):
            free(ref)

    def pin(self):
        return self._Guard()

    def help(self):
        return 0


@pytest.mark.parametrize("name", ["epoch", "hazard"])
def test_retired_slots_are_freed_and_reused(name):
    reclaimer = make_reclaimer(name)
    arena = Arena(8, sanitize=True)
    refs = [arena.alloc(i) for i in range(8)]
    retire_all(reclaimer, arena, refs)
    reclaimer.flush()
    assert arena.in_use == 0
    assert reclaimer.stats()["reclaimed"] == 8
    again = [arena.alloc() for _ in range(8)]
    assert all(not arena.is_current(r) for r in refs)
    assert sorted(r >> 1 & 0x7FFFFFFF for r in again) == list(range(1, 9))


def test_no_reclaim_never_frees():
    reclaimer = NoReclaim()
    arena = Arena(4, sanitize=True)
    refs = [arena.alloc() for _ in range(4)]
    retire_all(reclaimer, arena, refs)
    assert reclaimer.flush() == 0
    assert arena.in_use == 4
    assert reclaimer.stats() == {"retired": 4, "reclaimed": 0, "pending": 4}


def test_epoch_does_not_free_while_a_reader_is_pinned():
    collector = EpochCollector()
    arena = Arena(4, sanitize=True)
    ref = arena.alloc("x")
    reader_pinned, retired, release = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def reader():
        with collector.pin():
            reader_pinned.set()
            retired.wait(10)
            seen.append(arena.is_current(ref))
            release.wait(10)

    t = threading.Thread(target=reader)
    t.start()
    reader_pinned.wait(10)
    retire_all(collector, arena, [ref])
    for _ in range(5):
        collector.flush()
    retired.set()
    assert arena.in_use == 1, "freed while a reader was pinned"
    release.set()
    t.join(10)
    collector.flush()
    assert seen == [True]
    assert arena.in_use == 0


def test_hazard_frees_a_protected_slot_only_after_its_reader_unpins():
    """A scan leaves a slot a reader protects; once the reader unpins, the next scan frees it,
    while the reader's thread is still alive and registered (unpin clears its hazards)."""
    from freeorder import atomic

    registry = HazardRegistry(min_scan=1)
    arena = Arena(4, sanitize=True)
    cell = arena.alloc("x")
    head = atomic.AtomicIntArray(1, cell)
    protected, retired, unpinned, done = (threading.Event() for _ in range(4))

    def reader():
        with registry.pin() as guard:
            assert guard.protect(0, head, 0) == cell
            protected.set()
            retired.wait(10)
            arena.check(cell)  # still safe to dereference
        unpinned.set()
        done.wait(10)

    t = threading.Thread(target=reader)
    t.start()
    try:
        assert protected.wait(10)
        head.store(0, 0)
        retire_all(registry, arena, [cell])
        registry.flush()
        assert arena.in_use == 1, "a scan freed a protected slot"
        retired.set()
        assert unpinned.wait(10)
        registry.flush()
        assert arena.in_use == 0, "a hazard outlived its guard's unpin"
    finally:
        retired.set()
        done.set()
        t.join(10)


def test_a_thread_that_exits_while_pinned_does_not_stall_epochs():
    collector = EpochCollector()
    arena = Arena(16, sanitize=True)

    def pin_and_die():
        collector.pin().__enter__()  # never unpinned: the thread just ends

    run_in_thread(pin_and_die, timeout=30)
    refs = [arena.alloc() for _ in range(16)]
    retire_all(collector, arena, refs)
    collector.flush()
    assert arena.in_use == 0


def test_a_live_thread_pinned_forever_stalls_epochs_until_it_unpins():
    collector = EpochCollector()
    arena = Arena(4, sanitize=True)
    pinned, done = threading.Event(), threading.Event()

    def hold():
        with collector.pin():
            pinned.set()
            done.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    pinned.wait(10)
    retire_all(collector, arena, [arena.alloc()])
    for _ in range(5):
        collector.flush()
    assert arena.in_use == 1
    done.set()
    t.join(10)
    collector.flush()
    assert arena.in_use == 0


@pytest.mark.parametrize("name", ["epoch", "hazard"])
def test_garbage_of_an_exited_thread_is_adopted(name):
    reclaimer = make_reclaimer(name)
    arena = Arena(32, sanitize=True)
    refs = [arena.alloc() for _ in range(5)]

    run_in_thread(lambda: retire_all(reclaimer, arena, refs), timeout=30)
    reclaimer.flush()
    if name == "epoch":
        reclaimer.flush()
    assert arena.in_use == 0
    assert reclaimer.stats()["reclaimed"] == 5


@pytest.mark.parametrize("name", ["epoch", "hazard"])
def test_thread_records_are_reused_after_exit(name):
    reclaimer = make_reclaimer(name, max_threads=2)
    for _ in range(6):
        run_in_thread(lambda: reclaimer.pin().__enter__().__exit__(None, None, None), timeout=30)
    with reclaimer.pin():
        pass


def test_too_many_threads_is_a_clear_error():
    collector = EpochCollector(max_threads=1)
    with collector.pin():
        pass
    errors = []

    def second():
        try:
            collector.pin()
        except TooManyThreads as exc:
            errors.append(str(exc))

    run_in_thread(second, timeout=30)
    assert errors and "1 thread records" in errors[0]


def test_make_reclaimer_rejects_unknown_names():
    with pytest.raises(ValueError, match="reclaimer='rcu'"):
        make_reclaimer("rcu")


@pytest.mark.parametrize("name", ["epoch", "hazard", "none"])
def test_sanitizer_catches_double_retire(name):
    reclaimer = make_reclaimer(name)
    arena = Arena(4, sanitize=True)
    ref = arena.alloc()
    with reclaimer.pin() as guard:
        retire(guard, arena, ref)
        with pytest.raises(DoubleRetire):
            retire(guard, arena, ref)
    assert arena.violations


def test_sanitizer_poisons_freed_slots():
    arena = Arena(2, fields=("next",), sanitize=True)
    ref = arena.alloc("payload")
    arena.next.store(1, 7)
    arena.mark_retired(ref)
    arena.free(ref)
    assert repr(arena.payload[1]).startswith("<POISON")
    assert arena.next.load(1) != 7
    with pytest.raises(UseAfterReclaim):
        arena.check(ref)


def broken_reader_scenario(reclaimer):
    """A reader pins and protects the stack's head; another thread pops and retires it;
    the reader then dereferences its reference. Returns the reader's error, if any."""
    stack = TreiberStack(max_capacity=8, reclaimer=reclaimer, sanitize=True)
    stack.push("a")
    stack.push("b")
    protected, popped = threading.Event(), threading.Event()
    errors = []

    def reader():
        with reclaimer.pin() as guard:
            ref = guard.protect(0, stack._head, 0)
            protected.set()
            popped.wait(10)
            try:
                stack.arena.check(ref)
            except UseAfterReclaim as exc:
                errors.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    protected.wait(10)
    assert stack.pop() == "b"
    if hasattr(reclaimer, "flush"):
        reclaimer.flush()
    stack.push("c")  # reuses the freed slot if the reclaimer freed it
    popped.set()
    t.join(10)
    return errors, stack


def test_sanitizer_catches_a_reclaimer_that_frees_while_a_reader_is_pinned():
    errors, stack = broken_reader_scenario(EagerReclaimer())
    assert len(errors) == 1
    assert "use after reclaim" in str(errors[0])
    assert stack.arena.violations


@pytest.mark.parametrize("name", RECLAIMERS)
def test_correct_reclaimers_pass_the_same_scenario(name):
    errors, stack = broken_reader_scenario(make_reclaimer(name))
    assert errors == []
    assert stack.arena.violations == []
