"""The arena's free chain and the reclaimers' thread-record registry under the model checker.

Arena: two threads allocate and free through the shared free chain of a
6-slot arena whose per-thread caches hold two slots (so a third free spills
one onto the chain, and an allocation from an empty cache pops one off it):
no slot is ever handed out twice. The same harness fails on an arena whose frees do not bump
the slot's version (the chain head's ABA tag).

Registry: two threads registering at once get different records; the same
harness fails on a claim done as check-then-store.
"""

import pytest

from freeorder import atomic, verify
from freeorder.lockfree import Arena
from freeorder.lockfree import arena as arena_module
from freeorder.lockfree.arena import INDEX_MASK, INDEX_SHIFT, MARK, ThreadSlots
from freeorder.reclaim.registry import ThreadRegistry, TooManyThreads, _Handle

pytestmark = pytest.mark.thread_unsafe(reason="the model checker switches the global atomics backend")

SLOTS = 6


@pytest.fixture
def small_caches(monkeypatch):
    """A thread keeps at most two free slots: a third free spills one onto the shared chain."""
    monkeypatch.setattr(arena_module, "CACHE_LIMIT", 2)


class UntaggedSlots(ThreadSlots):
    """Broken on purpose: a freed slot comes back with the same version (no ABA tag)."""

    __slots__ = ()

    def free(self, ref):
        self._payload[(ref >> INDEX_SHIFT) & INDEX_MASK] = None
        self.cache.append(ref & ~MARK)  # the product adds VERSION_ONE here
        if len(self.cache) > arena_module.CACHE_LIMIT:
            self.arena.spill(self.cache)


class UntaggedArena(Arena):
    _slots_class = UntaggedSlots


def arena_body(cls):
    def body():
        arena = cls(SLOTS, initial_capacity=SLOTS)
        live = set()  # slot indexes handed out and not given back: plain, so updated within a step

        def alloc():
            ref = arena.alloc()
            index = (ref >> INDEX_SHIFT) & INDEX_MASK
            assert index not in live, f"slot {index} handed out twice (live: {sorted(live)})"
            live.add(index)
            return ref

        def free(ref):
            live.discard((ref >> INDEX_SHIFT) & INDEX_MASK)
            arena.free(ref)

        # thread 0 takes every slot and frees them: four land on the shared chain, two in its cache
        for ref in [arena.alloc() for _ in range(SLOTS)]:
            arena.free(ref)

        def keeper():  # takes two slots and keeps them
            return [alloc(), alloc()]

        def churner():  # takes three, gives them back (the third free spills the first taken), takes two
            first = [alloc(), alloc(), alloc()]
            for ref in reversed(first):
                free(ref)
            return [alloc(), alloc()]

        a, b = verify.spawn(keeper), verify.spawn(churner)
        held = a.join() + b.join()
        assert len({(ref >> INDEX_SHIFT) & INDEX_MASK for ref in held}) == 4, held

    return body


def test_arena_never_hands_out_a_slot_twice(small_caches):
    report = verify.model(arena_body(Arena), max_preemptions=3)
    assert report.complete and report.executions > 1


def test_the_check_sees_a_free_chain_without_its_aba_tag(small_caches):
    with pytest.raises(verify.ModelFailure, match="handed out twice"):
        verify.model(arena_body(UntaggedArena), max_preemptions=2)


def spilling_body():
    """Two threads each take three slots, give them back (the third free spills one onto the
    chain: both spill at once) and take three again: all six must still be there, once each."""

    def body():
        arena = Arena(SLOTS, initial_capacity=SLOTS)
        live = set()

        def churn():
            taken = [arena.alloc() for _ in range(3)]
            for ref in taken:
                index = (ref >> INDEX_SHIFT) & INDEX_MASK
                assert index not in live, f"slot {index} handed out twice"
                live.add(index)
            for ref in reversed(taken):
                live.discard((ref >> INDEX_SHIFT) & INDEX_MASK)
                arena.free(ref)
            again = [arena.alloc() for _ in range(3)]  # ArenaExhausted if a spill lost a slot
            for ref in again:
                index = (ref >> INDEX_SHIFT) & INDEX_MASK
                assert index not in live, f"slot {index} handed out twice"
                live.add(index)

        for ref in [arena.alloc() for _ in range(SLOTS)]:
            arena.free(ref)
        threads = [verify.spawn(churn), verify.spawn(churn)]
        for t in threads:
            t.join()
        assert len(live) == SLOTS

    return body


def test_two_threads_spilling_at_once_lose_no_slot(small_caches):
    report = verify.model(spilling_body(), max_preemptions=2)
    assert report.complete and report.executions > 1


class CheckThenStoreRegistry(ThreadRegistry):
    """Broken on purpose: a record is claimed by a load that saw it free, then a store."""

    def _acquire(self, thread):
        for i in range(self.max_threads):
            if self.owners.load(i) == 0:
                self.owners.store(i, 1)  # the product claims with a compare-exchange
                return _Handle(thread, i, self._make_state(i), self._release)
        raise TooManyThreads("all records in use")


def registry_body(cls):
    def body():
        registry = cls(2, lambda i: i, lambda i, state: None)
        arrived = atomic.AtomicInt(0)

        def register():
            record = registry.current()
            arrived.fetch_add(1)
            while arrived.load() < 2:  # hold the record until the other thread has one too
                verify.yield_point()
            registry.release_current()
            return record

        a, b = verify.spawn(register), verify.spawn(register)
        ra, rb = a.join(), b.join()
        assert ra != rb, f"two threads registered at once got the same record {ra}"
        assert registry.active() == []

    return body


def test_two_threads_registering_get_different_records():
    report = verify.model(registry_body(ThreadRegistry), max_preemptions=3)
    assert report.complete and report.executions > 1


def test_the_check_sees_a_check_then_store_claim():
    with pytest.raises(verify.ModelFailure, match="same record"):
        verify.model(registry_body(CheckThenStoreRegistry), max_preemptions=2)
