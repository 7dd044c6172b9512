"""The model checker finds real concurrency bugs, replays them, and passes correct code.

Each broken structure below is small, index-based (nodes are slots of
AtomicIntArrays, 0 is NIL) and sits beside its correct version, so the pair
shows the checker tells them apart. Pointers that need ABA protection are
packed as ``tag << 16 | index``; the tag is bumped on every successful CAS.
"""

import threading
import time

import pytest

from freeorder import atomic, verify
from freeorder.verify.model import decode_schedule, encode_schedule

pytestmark = pytest.mark.thread_unsafe(reason="switches the global atomics backend and starts threads")

NIL = 0
MASK = 0xFFFF


def pack(tag, index):
    return (tag << 16) | index


def idx(ptr):
    return ptr & MASK


def tag(ptr):
    return ptr >> 16


def expect_failure(body, kind="exception", **kw):
    with pytest.raises(verify.ModelFailure) as info:
        verify.model(body, **kw)
    assert info.value.kind == kind, str(info.value)
    return info.value


def assert_replays(body, failure):
    """The printed schedule re-runs exactly the failing execution."""
    assert f'replay="{failure.schedule}"' in str(failure)
    with pytest.raises(verify.ModelFailure) as again:
        verify.model(body, replay=failure.schedule)
    assert again.value.kind == failure.kind
    assert again.value.schedule == failure.schedule
    assert again.value.execution == 1


# ---- Treiber stack: untagged head suffers ABA once nodes are reused --------------------


class TreiberStack:
    """head -> node -> ... -> NIL; node i has val[i], next[i]. Tagged head iff ``tagged``."""

    def __init__(self, capacity, tagged):
        self.tagged = tagged
        self.head = atomic.AtomicInt(NIL)
        self.next = atomic.AtomicIntArray(capacity + 1)
        self.val = atomic.AtomicIntArray(capacity + 1)

    def _ref(self, old, node):
        return pack(tag(old) + 1, node) if self.tagged else node

    def push(self, node, value):
        self.val.store(node, value)
        while True:
            h = self.head.load()
            self.next.store(node, idx(h))
            if self.head.compare_exchange(h, self._ref(h, node)) == h:
                return

    def pop(self):
        """Return the popped node (now owned by the caller) or NIL."""
        while True:
            h = self.head.load()
            if idx(h) == NIL:
                return NIL
            n = self.next.load(idx(h))
            if self.head.compare_exchange(h, self._ref(h, n)) == h:
                return idx(h)


def aba_scenario(tagged):
    """Stack [A=1, B=2]; thread 1 pops once; thread 2 pops twice and pushes A again (reused)."""

    def body():
        s = TreiberStack(4, tagged)
        s.push(2, 200)
        s.push(1, 100)

        def pop_one():
            node = s.pop()
            return [s.val.load(node)] if node else []

        def pop_pop_push():
            free = []  # this thread's free list: popped nodes are reused
            got = []
            for _ in range(2):
                node = s.pop()
                if node:
                    got.append(s.val.load(node))
                    free.append(node)
            s.push(free.pop(0), 300)
            return got

        h1, h2 = verify.spawn(pop_one), verify.spawn(pop_pop_push)
        popped = h1.join() + h2.join()
        rest = []
        while (node := s.pop()) != NIL and len(rest) < 5:
            rest.append(s.val.load(node))
        assert sorted(popped + rest) == [100, 200, 300], f"popped {popped}, left {rest}"

    return body


def test_untagged_treiber_stack_aba_is_found_and_replays():
    body = aba_scenario(tagged=False)
    failure = expect_failure(body)
    assert "AssertionError" in str(failure)
    assert_replays(body, failure)


def test_tagged_treiber_stack_passes_aba_scenario():
    report = verify.model(aba_scenario(tagged=True))
    assert report.complete and report.executions > 10


def three_thread_stack(tagged):
    """Three threads each push their own node then pop one; every value comes out once."""

    def body():
        s = TreiberStack(3, tagged)

        def worker(i):
            s.push(i, 10 * i)
            node = s.pop()
            return s.val.load(node) if node else None

        hs = [verify.spawn(worker, i) for i in (1, 2, 3)]
        got = [h.join() for h in hs]
        assert None not in got and sorted(got) == [10, 20, 30], got
        assert s.head.load() & MASK == NIL

    return body


def test_three_threads_push_pop_on_tagged_stack_pass_at_bound_2():
    started = time.perf_counter()
    report = verify.model(three_thread_stack(tagged=True), max_preemptions=2)
    assert report.complete
    assert time.perf_counter() - started < 60


@pytest.mark.slow
def test_three_threads_push_pop_on_tagged_stack_pass_at_bound_3():
    assert verify.model(three_thread_stack(tagged=True), max_preemptions=3).complete


@pytest.mark.slow
def test_tagged_treiber_stack_passes_aba_scenario_at_bound_3():
    assert verify.model(aba_scenario(tagged=True), max_preemptions=3).complete


# ---- Michael-Scott queue: without tail helping a dequeued dummy is reused under tail ----


class MSQueue:
    """head/tail -> dummy -> ... ; all pointers tagged. ``helping`` is MS's tail helping."""

    def __init__(self, capacity, helping):
        self.helping = helping
        self.head = atomic.AtomicInt(pack(0, 1))  # node 1 is the first dummy
        self.tail = atomic.AtomicInt(pack(0, 1))
        self.next = atomic.AtomicIntArray(capacity + 1)
        self.val = atomic.AtomicIntArray(capacity + 1)

    def enqueue(self, node, value):
        self.val.store(node, value)
        old = self.next.load(node)
        self.next.store(node, pack(tag(old) + 1, NIL))
        while True:
            t = self.tail.load()
            n = self.next.load(idx(t))
            if t != self.tail.load():
                continue
            if idx(n) == NIL:
                if self.next.compare_exchange(idx(t), n, pack(tag(n) + 1, node)) == n:
                    self.tail.compare_exchange(t, pack(tag(t) + 1, node))
                    return
            elif self.helping:
                self.tail.compare_exchange(t, pack(tag(t) + 1, idx(n)))
            else:
                verify.yield_point()  # wait for the enqueuer that linked n to swing the tail

    def dequeue(self):
        """Return (value, freed node) or None when empty."""
        while True:
            h = self.head.load()
            t = self.tail.load()
            n = self.next.load(idx(h))
            if h != self.head.load():
                continue
            if idx(n) == NIL:
                return None
            if self.helping and idx(h) == idx(t):
                self.tail.compare_exchange(t, pack(tag(t) + 1, idx(n)))  # tail lags: help, retry
                continue
            value = self.val.load(idx(n))
            if self.head.compare_exchange(h, pack(tag(h) + 1, idx(n))) == h:
                return value, idx(h)


def ms_queue_scenario(helping):
    """Thread 1 enqueues 1; thread 2 dequeues, then enqueues 2 reusing the node it freed."""

    def body():
        q = MSQueue(3, helping)

        def enqueuer():
            q.enqueue(2, 1)

        def dequeue_then_enqueue():
            got = q.dequeue()
            if got is None:
                return []
            value, freed = got
            q.enqueue(freed, 2)
            return [value]

        h1, h2 = verify.spawn(enqueuer), verify.spawn(dequeue_then_enqueue)
        h1.join()
        taken = h2.join()
        rest = []
        while (got := q.dequeue()) is not None and len(rest) < 5:
            rest.append(got[0])
        expected = [1] if not taken else [2]
        assert rest == expected, f"dequeued {taken}, then left {rest}: an item was lost"

    return body


def test_ms_queue_without_tail_helping_loses_an_item_and_replays():
    body = ms_queue_scenario(helping=False)
    failure = expect_failure(body)
    assert "an item was lost" in str(failure)
    assert_replays(body, failure)


def test_ms_queue_with_helping_passes():
    assert verify.model(ms_queue_scenario(helping=True)).complete


@pytest.mark.slow
def test_ms_queue_with_helping_passes_at_bound_3():
    assert verify.model(ms_queue_scenario(helping=True), max_preemptions=3).complete


# ---- reclamation: freeing a node a reader still holds ---------------------------------


def reclaim_scenario(hazard_pointer):
    """A reader follows ``cur`` to a node; the writer replaces it and recycles the old node.

    With ``hazard_pointer`` the reader publishes the node it uses and revalidates;
    the writer recycles only nodes no hazard slot protects.
    """

    def body():
        cur = atomic.AtomicInt(1)
        val = atomic.AtomicIntArray(3)
        val.store(1, 10)
        hazard = atomic.AtomicInt(NIL)

        def reader():
            while True:
                p = cur.load()
                if not hazard_pointer:
                    break
                hazard.store(p)
                if cur.load() == p:
                    break
            v = val.load(p)
            hazard.store(NIL)
            assert v in (10, 20), f"reader saw recycled node {p} holding {v}"

        def writer():
            val.store(2, 20)
            old = cur.swap(2)
            if not hazard_pointer or hazard.load() != old:
                val.store(old, 99)  # the node is reused for something else

        hs = [verify.spawn(reader), verify.spawn(writer)]
        for h in hs:
            h.join()

    return body


def test_reclaimer_freeing_a_node_in_use_is_found_and_replays():
    body = reclaim_scenario(hazard_pointer=False)
    failure = expect_failure(body)
    assert "recycled node 1 holding 99" in str(failure)
    assert_replays(body, failure)


def test_hazard_pointer_reclaimer_passes():
    assert verify.model(reclaim_scenario(hazard_pointer=True)).complete


# ---- SeqLock: a reader must re-check the sequence ---------------------------------------


def seqlock_scenario(recheck, writes=1):
    def body():
        seq, a, b = atomic.AtomicInt(0), atomic.AtomicInt(0), atomic.AtomicInt(0)

        def writer():
            for x in range(1, writes + 1):
                s = seq.load()
                seq.store(s + 1)
                a.store(x)
                b.store(x)
                seq.store(s + 2)

        def reader():
            while True:
                s1 = seq.load()
                if s1 & 1:
                    verify.yield_point()
                    continue
                x, y = a.load(), b.load()
                if not recheck or seq.load() == s1:
                    assert x == y, f"torn read ({x}, {y})"
                    return

        hs = [verify.spawn(writer), verify.spawn(reader)]
        for h in hs:
            h.join()

    return body


def test_seqlock_reader_without_recheck_tears_and_replays():
    body = seqlock_scenario(recheck=False)
    failure = expect_failure(body)
    assert "torn read" in str(failure)
    assert_replays(body, failure)


def test_correct_seqlock_passes():
    assert verify.model(seqlock_scenario(recheck=True, writes=2)).complete


@pytest.mark.slow
def test_correct_seqlock_passes_at_bound_3():
    assert verify.model(seqlock_scenario(recheck=True, writes=2), max_preemptions=3).complete


# ---- what the checker reports -----------------------------------------------------------


def lost_update():
    c = atomic.AtomicInt()

    def inc():
        c.store(c.load() + 1)

    hs = [verify.spawn(inc), verify.spawn(inc)]
    for h in hs:
        h.join()
    assert c.load() == 2, f"lost update: {c.load()}"


def test_exception_in_a_spawned_thread_is_reported_with_its_thread():
    def body():
        def boom():
            atomic.AtomicInt().load()
            raise ValueError("kaboom")

        verify.spawn(boom).join()

    failure = expect_failure(body)
    assert failure.thread == 1
    assert isinstance(failure.__cause__, ValueError)
    assert "kaboom" in str(failure)


def test_deadlock_when_a_joined_thread_waits_forever():
    def body():
        flag = atomic.AtomicInt()

        def waiter():
            while flag.load() == 0:
                verify.yield_point()

        verify.spawn(waiter).join()

    failure = expect_failure(body, kind="deadlock")
    assert "thread 0 joining thread 1" in str(failure)
    assert_replays(body, failure)


def test_lock_order_inversion_spins_forever_and_is_reported_as_livelock():
    def body():
        locks = atomic.AtomicIntArray(2)

        def take(first, second):
            for lock in (first, second):
                while locks.compare_exchange(lock, 0, 1) != 0:
                    verify.yield_point()
            locks.store(second, 0)
            locks.store(first, 0)

        hs = [verify.spawn(take, 0, 1), verify.spawn(take, 1, 0)]
        for h in hs:
            h.join()

    failure = expect_failure(body, kind="livelock", max_steps=300)
    assert "max_steps=300" in str(failure)


def test_spin_without_yield_point_is_detected_and_terminates():
    def body():
        flag = atomic.AtomicInt()

        def spinner():
            while flag.load() == 0:  # no yield_point: spin detection deprioritises it
                pass

        h = verify.spawn(spinner)
        flag.store(1)
        h.join()

    assert verify.model(body).complete


def test_thread_blocked_outside_the_model_is_reported_as_stuck():
    release = threading.Event()

    def body():
        atomic.AtomicInt().load()
        release.wait(30)

    try:
        failure = expect_failure(body, kind="stuck", stall_timeout=0.3)
    finally:
        release.set()
    assert "blocked outside the model" in str(failure)


def test_lost_update_is_found_and_env_replay_reproduces_it(monkeypatch):
    failure = expect_failure(lost_update)
    assert "lost update: 1" in str(failure)
    monkeypatch.setenv(verify.ENV_REPLAY, failure.schedule)
    with pytest.raises(verify.ModelFailure) as again:
        verify.model(lost_update)
    assert again.value.schedule == failure.schedule and again.value.execution == 1


def test_replay_of_a_passing_schedule_runs_one_execution():
    def body():
        c = atomic.AtomicInt()
        verify.spawn(c.fetch_add, 1).join()
        assert c.load() == 1

    report = verify.model(body, replay="")
    assert report.mode == "replay" and report.executions == 1


def test_replay_that_does_not_fit_the_test_is_a_model_error():
    with pytest.raises(verify.ModelError, match="not a schedule of this test"):
        verify.model(lost_update, replay="0x2.7")


def test_preemption_bound_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(verify.ENV_MAX_PREEMPTIONS, "0")
    report = verify.model(lost_update)  # with no preemption the threads run one after the other
    assert report.max_preemptions == 0 and report.complete
    monkeypatch.setenv(verify.ENV_MAX_PREEMPTIONS, "1")
    expect_failure(lost_update)


def test_sleep_sets_prune_independent_interleavings():
    def body():
        cells = atomic.AtomicIntArray(3)
        hs = [verify.spawn(lambda i=i: [cells.store(i, k) for k in range(3)]) for i in range(3)]
        for h in hs:
            h.join()

    report = verify.model(body, max_preemptions=3)
    assert report.complete
    assert report.executions - report.pruned <= 30, report  # threads touch disjoint cells


@pytest.mark.parametrize("mode", ["random", "pct"])
def test_random_and_pct_modes_find_the_bug_and_are_seeded(mode):
    body = aba_scenario(tagged=False)
    first = expect_failure(body, mode=mode, seed=7, iterations=2000)
    assert f"mode={mode}, seed=7" in str(first)
    second = expect_failure(body, mode=mode, seed=7, iterations=2000)
    assert (second.schedule, second.execution) == (first.schedule, first.execution)
    assert_replays(body, first)


@pytest.mark.parametrize("mode", ["random", "pct"])
def test_random_and_pct_modes_pass_correct_code(mode):
    report = verify.model(three_thread_stack(tagged=True), mode=mode, seed=1, iterations=50)
    assert report.executions == 50 and report.seed == 1


def test_nondeterministic_body_is_rejected():
    runs = []

    def body():
        runs.append(1)
        c = atomic.AtomicInt()
        n = 1 + len(runs) % 2  # differs from one execution to the next

        def work():
            for _ in range(n):
                c.fetch_add(1)

        hs = [verify.spawn(work) for _ in range(2)]
        for h in hs:
            h.join()

    with pytest.raises(verify.ModelError, match="not deterministic"):
        verify.model(body)


def test_threading_local_and_ident_are_per_model_thread():
    def body():
        local = threading.local()
        registry = atomic.AtomicIntArray(4)
        idents = {}

        def register(i):
            local.slot = i
            idents[i] = threading.get_ident()
            registry.store(i, 1)
            assert local.slot == i and verify.current_thread_id() == i

        hs = [verify.spawn(register, i) for i in (1, 2, 3)]
        for h in hs:
            h.join()
        assert not hasattr(local, "slot")
        assert len(set(idents.values())) == 3 and threading.get_ident() not in idents.values()

    verify.model(body)


def test_atomics_come_from_the_model_backend_only_inside_model():
    seen = []

    def body():
        seen.append((atomic.backend_name(), type(atomic.AtomicInt()).__module__))

    verify.model(body)
    assert seen == [("model", "freeorder.verify.model")]
    assert atomic.backend_name() != "model"


def test_model_atomic_outside_a_model_is_a_plain_cell():
    cell = atomic.load_backend("model").AtomicInt(5)
    assert cell.fetch_add(2) == 5 and cell.load() == 7
    assert verify.model(lambda: cell.store(cell.load() + 1)).executions == 1
    assert cell.load() == 8


def test_spawn_outside_model_is_an_error():
    with pytest.raises(verify.ModelError, match="inside verify.model"):
        verify.spawn(print)
    verify.yield_point()  # a no-op outside a model


def test_schedule_strings_round_trip():
    choices = [0, 0, 0, 1, 2, 2, 0]
    assert encode_schedule(choices) == "0x3.1.2x2.0"
    assert decode_schedule(encode_schedule(choices)) == choices
    assert decode_schedule("") == []
    with pytest.raises(verify.ModelError):
        decode_schedule("1.y")


def test_model_thread_index_is_the_model_thread_id():
    """The model twin of ``thread_index``: deterministic per model thread, so replays agree."""
    from freeorder import atomic

    def body():
        backend = atomic.current_backend()
        got = [backend.thread_index()]
        others = [verify.spawn(backend.thread_index) for _ in range(2)]
        got += [t.join() for t in others]
        assert got == [0, 1, 2]

    with atomic.use_backend("model"):
        verify.model(body)
