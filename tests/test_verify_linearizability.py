"""The linearizability checker accepts exactly the histories some real-time-respecting order explains."""

import collections
import random
import threading

import pytest

from freeorder import atomic
from freeorder.verify.history import History, Operation
from freeorder.verify.linearizability import (
    PENDING,
    CounterModel,
    MapModel,
    Model,
    NotLinearizable,
    QueueModel,
    RegisterModel,
    SetModel,
    StackModel,
    assert_linearizable,
    check,
)

JOIN_TIMEOUT = 60


def op(thread, input, output, call, ret):
    return Operation(thread, input, output, call, ret)


# ---- hand-made histories ----------------------------------------------------------------


def test_register_read_overlapping_a_write_may_see_either_value():
    for seen in (0, 1):
        h = [op("a", ("write", 1), None, 0, 10), op("b", ("read",), seen, 5, 15)]
        assert check(RegisterModel(), h).linearizable


def test_register_stale_read_after_completed_write_is_rejected():
    h = [op("a", ("write", 1), None, 0, 10), op("b", ("read",), 0, 20, 30)]
    result = check(RegisterModel(), h)
    assert result.linearizable is False
    assert {o.input for o in result.core} == {("write", 1), ("read",)}
    assert "read() -> 0" in result.explain()


def test_register_new_old_inversion_between_two_readers_is_rejected():
    # the write overlaps both reads, but once b saw 1 a later read cannot see 0 again
    h = [
        op("w", ("write", 1), None, 0, 100),
        op("b", ("read",), 1, 10, 20),
        op("c", ("read",), 0, 30, 40),
    ]
    assert check(RegisterModel(), h).linearizable is False


def test_queue_fifo_violation_with_non_overlapping_enqueues_is_rejected():
    h = [
        op("a", ("enqueue", 1), None, 0, 10),
        op("a", ("enqueue", 2), None, 20, 30),
        op("b", ("dequeue",), 2, 40, 50),
    ]
    result = check(QueueModel(), h)
    assert result.linearizable is False
    assert {o.input for o in result.core} == {("enqueue", 1), ("dequeue",)}
    assert [o.input for o in result.context] == [("enqueue", 2)]


def test_queue_with_overlapping_enqueues_may_dequeue_either_first():
    h = [
        op("a", ("enqueue", 1), None, 0, 30),
        op("b", ("enqueue", 2), None, 5, 25),
        op("c", ("dequeue",), 2, 40, 50),
        op("c", ("dequeue",), 1, 60, 70),
    ]
    assert check(QueueModel(), h).linearizable


def test_stack_lifo_and_empty_pop():
    ok = [op("a", ("push", 1), None, 0, 1), op("a", ("push", 2), None, 2, 3), op("b", ("pop",), 2, 4, 5)]
    assert check(StackModel(), ok).linearizable
    bad = ok[:2] + [op("b", ("pop",), 1, 4, 5)]
    assert not check(StackModel(), bad).linearizable
    empty_pop_while_full = [op("a", ("push", 1), None, 0, 1), op("b", ("pop",), None, 2, 3)]
    assert not check(StackModel(), empty_pop_while_full).linearizable


def test_counter_duplicate_fetch_add_result_is_rejected():
    h = [op("a", ("add", 1), 0, 0, 10), op("b", ("add", 1), 0, 5, 15)]
    assert not check(CounterModel(), h).linearizable
    h_ok = [op("a", ("add", 1), 1, 0, 10), op("b", ("add", 1), 0, 5, 15)]
    assert check(CounterModel(), h_ok).linearizable


def test_pending_operation_may_or_may_not_take_effect():
    took_effect = [op("a", ("write", 1), None, 0, None), op("b", ("read",), 1, 10, 20)]
    assert check(RegisterModel(), took_effect).linearizable
    did_not = [op("a", ("write", 1), None, 0, None), op("b", ("read",), 0, 10, 20)]
    assert check(RegisterModel(), did_not).linearizable
    never_written = [op("a", ("write", 1), None, 0, None), op("b", ("read",), 2, 10, 20)]
    assert not check(RegisterModel(), never_written).linearizable


def test_map_and_set_are_partitioned_by_key():
    h = [
        op("a", ("put", "x", 1), None, 0, 10),
        op("b", ("put", "y", 2), None, 0, 10),
        op("a", ("get", "x"), 1, 20, 30),
        op("b", ("get", "y"), 1, 20, 30),  # y holds 2: wrong
    ]
    result = check(MapModel(), h)
    assert result.partitions == 2 and result.linearizable is False
    assert all(o.input[1] == "y" for o in result.core)
    s = [op("a", ("add", 5), True, 0, 1), op("b", ("add", 5), True, 2, 3)]
    assert not check(SetModel(), s).linearizable
    assert check(SetModel(), s[:1] + [op("b", ("contains", 5), True, 2, 3)]).linearizable


def test_a_user_model_plugs_in():
    class MaxRegister(Model):
        """("offer", v) -> None raises the max; ("max",) -> current max."""

        name = "max-register"

        def init(self):
            return 0

        def step(self, state, input, output):
            if input[0] == "offer":
                return True, max(state, input[1])
            return (output is PENDING or output == state), state

    h = [op("a", ("offer", 3), None, 0, 10), op("b", ("offer", 5), None, 0, 10), op("c", ("max",), 3, 20, 30)]
    assert not check(MaxRegister(), h).linearizable
    assert check(MaxRegister(), h[:2] + [op("c", ("max",), 5, 20, 30)]).linearizable


def test_assert_linearizable_raises_with_the_window():
    h = [op("a", ("write", 7), None, 0, 10), op("b", ("read",), 0, 20, 30)]
    with pytest.raises(NotLinearizable, match="minimal failing window") as info:
        assert_linearizable(RegisterModel(), h)
    assert info.value.result.linearizable is False


def test_failing_window_is_small_in_a_long_history():
    rng = random.Random(3)
    h, t = [], 0
    for i in range(300):  # a sequential, correct queue history
        if rng.random() < 0.5 or i < 5:
            h.append(op("p", ("enqueue", i), None, t, t + 1))
        else:
            h.append(op("c", ("dequeue",), None, t, t + 1))
        t += 2
    model = QueueModel()
    state = model.init()
    fixed = []
    for o in h:
        out, state = model.apply(state, o.input)
        fixed.append(Operation(o.thread, o.input, out, o.call, o.ret))
    assert check(model, fixed).linearizable
    victim = next(i for i in range(200, 300) if fixed[i].input[0] == "dequeue" and fixed[i].output is not None)
    broken = list(fixed)
    broken[victim] = Operation("c", ("dequeue",), -1, fixed[victim].call, fixed[victim].ret)
    result = check(model, broken)
    assert result.linearizable is False
    assert len(result.core) <= 3 and broken[victim] in result.core


def test_timeout_gives_an_unknown_result():
    # 40 pending increments, then a read no subset of them explains: 2**40 subsets to rule out
    h = [op(i, ("add", 1), None, 0, None) for i in range(40)]
    h.append(op("x", ("get",), -1, 10, 20))
    result = check(CounterModel(), h, timeout=0.2)
    assert result.linearizable is None and "timed out" in result.explain()


# ---- recorded from real threads ---------------------------------------------------------


def run_threads(n, target):
    barrier = threading.Barrier(n)
    errors = []

    def body(i):
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
        assert not t.is_alive()
    if errors:
        raise errors[0]


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_recorded_atomic_counter_history_is_linearizable():
    history = History()
    counter = atomic.AtomicInt()

    def work(i):
        for _ in range(60):
            if i % 3 == 0:
                history.record(i, "get", counter.load)
            else:
                history.record(i, "add", counter.fetch_add, 1)

    run_threads(8, work)
    assert len(history) == 480
    assert_linearizable(CounterModel(), history)


class LockedQueue:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = collections.deque()

    def enqueue(self, v):
        with self.lock:
            self.items.append(v)

    def dequeue(self):
        with self.lock:
            return self.items.popleft() if self.items else None


class RacyQueue(LockedQueue):
    """Broken: dequeue reads the head, then removes it in a second critical section."""

    def dequeue(self):
        with self.lock:
            v = self.items[0] if self.items else None
        threading.Event().wait(0.0002)  # widen the race window
        with self.lock:
            if self.items and v is not None:
                self.items.popleft()
        return v


def record_queue_run(queue, ops_per_thread=40):
    history = History()

    def work(i):
        for k in range(ops_per_thread):
            if k % 2 == 0:
                with history.op("enqueue", i * 1000 + k, thread=i):
                    queue.enqueue(i * 1000 + k)
            else:
                with history.op("dequeue", thread=i) as o:
                    o.result = queue.dequeue()

    run_threads(8, work)
    return history


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_recorded_lock_guarded_queue_history_is_linearizable():
    assert_linearizable(QueueModel(), record_queue_run(LockedQueue()))


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_recorded_racy_queue_history_is_rejected_with_a_small_window():
    for _ in range(5):  # the race needs two dequeuers to meet; it almost always happens at once
        result = check(QueueModel(), record_queue_run(RacyQueue()))
        if result.linearizable is False:
            break
    assert result.linearizable is False, "the racy queue never produced a bad history"
    assert 1 <= len(result.core) <= 12, result.explain()  # of 320 operations
    assert "minimal failing window" in result.explain()


def test_recorder_context_manager_leaves_failed_operations_pending():
    h = History()
    with pytest.raises(RuntimeError):
        with h.op("push", 1, thread="t"):
            raise RuntimeError("died mid-operation")
    (only,) = h.operations()
    assert only.pending and only.input == ("push", 1)
    token = h.call("t", "pop")
    h.ret(token, 1)
    with pytest.raises(ValueError, match="already returned"):
        h.ret(token, 2)


# ---- scale ---------------------------------------------------------------------------------


def synthetic_map_history(n_ops, n_keys, n_threads, seed):
    """A linearizable map history: threads with overlapping operations, effects at a random point."""
    rng = random.Random(seed)
    store = {}
    clock = 0
    ops = []
    active = []
    for _ in range(n_ops):
        clock += rng.randint(1, 3)
        key = rng.randrange(n_keys)
        kind = rng.choice(("put", "get", "get", "remove"))
        inp = ("put", key, rng.randrange(100)) if kind == "put" else (kind, key)
        # the operation takes effect now; its call is a little before and its return a little after
        prev = store.get(key)
        if kind == "put":
            store[key] = inp[2]
        elif kind == "remove":
            store.pop(key, None)
        call = clock - rng.randint(0, 2 * n_threads)
        ret = clock + rng.randint(0, 2 * n_threads)
        active.append(Operation(len(ops) % n_threads, inp, prev, call, ret))
        ops.append(active[-1])
        clock += 1
    return ops


def test_ten_thousand_operation_map_history_checks():
    ops = synthetic_map_history(10_000, 200, 8, seed=11)
    result = check(MapModel(), ops)
    assert result.linearizable and result.partitions == 200 and result.operations == 10_000
