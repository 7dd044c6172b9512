"""The C11 mode's own machinery: memory choices in schedules, data races on non-atomic
locations, order overrides and site recording, replay, and argument checks."""

from __future__ import annotations

import pytest

from freeorder import atomic, verify
from freeorder.atomic import ACQUIRE, ACQ_REL, RELAXED, RELEASE, SEQ_CST
from freeorder.verify.model import NonAtomicList
from freeorder.verify.schedule import Pick, decode_schedule, encode_schedule

pytestmark = pytest.mark.thread_unsafe(reason="the model checker switches the global atomics backend")

HERE = "tests/test_verify_c11_model.py"


def join_all(*fns):
    handles = [verify.spawn(fn) for fn in fns]
    return [h.join() for h in handles]


def publish(flag_store=RELEASE, flag_load=ACQUIRE):
    """A writer fills a non-atomic slot and raises a flag; a reader that sees the flag uses the slot."""

    def body():
        slot, flag = NonAtomicList([None]), atomic.AtomicInt()

        def writer():
            slot[0] = "payload"
            flag.store(1, flag_store)

        def reader():
            if flag.load(flag_load):
                return slot[0] == "payload"
            return None

        _, seen = join_all(writer, reader)
        assert seen in (True, None)

    return body


def test_memory_choices_round_trip_through_schedule_strings():
    choices = [0, 0, Pick("r", 1), Pick("r", 1), 2, Pick("w", 0), 1]
    assert encode_schedule(choices) == "0x2.r1x2.2.w0.1"
    assert decode_schedule("0x2.r1x2.2.w0.1") == choices
    for bad in ("r", "r-1", "w1.x", "q2"):
        with pytest.raises(verify.ModelError, match="malformed schedule"):
            decode_schedule(bad)


def test_published_payload_is_not_a_race():
    report = verify.model(publish(RELEASE, ACQUIRE), memory="c11")
    assert report.complete and report.memory == "c11" and report.executions > 1


@pytest.mark.parametrize("store, load", [(RELAXED, ACQUIRE), (RELEASE, RELAXED)])
def test_using_a_payload_read_without_happens_before_is_a_data_race(store, load):
    body = publish(store, load)
    with pytest.raises(verify.ModelFailure) as failure:
        verify.model(body, memory="c11")
    assert failure.value.kind == "race"
    assert "racy read of item 0 of the non-atomic list made at " + HERE in str(failure.value)
    with pytest.raises(verify.ModelFailure) as again:
        verify.model(body, memory="c11", replay=failure.value.schedule)
    assert again.value.kind == "race" and again.value.schedule == failure.value.schedule


def test_unordered_writes_are_a_data_race_at_once():
    def body():
        slot = NonAtomicList([None])

        def write(x):
            return lambda: slot.__setitem__(0, x)

        join_all(write(1), write(2))

    with pytest.raises(verify.ModelFailure) as failure:
        verify.model(body, memory="c11")
    assert failure.value.kind == "race" and "data race on item 0" in str(failure.value)
    assert isinstance(failure.value.__cause__, verify.DataRace)


def test_a_racy_read_that_is_thrown_away_passes():
    """As a speculative read that a failed compare-exchange then discards (Michael and Scott's dequeue)."""

    def body():
        slot = NonAtomicList([None])

        def writer():
            slot[0] = "new"

        def reader():
            slot[0]  # read and dropped  # noqa: B018
            return "done"

        assert join_all(writer, reader)[1] == "done"

    assert verify.model(body, memory="c11").complete


def test_spawn_and_join_order_non_atomic_accesses():
    def body():
        slot = NonAtomicList([0])
        slot[0] = 1

        def child():
            assert slot[0] == 1
            slot[0] = 2

        verify.spawn(child).join()
        assert slot[0] == 2

    assert verify.model(body, memory="c11").complete


def test_non_atomic_list_is_a_plain_list_outside_c11():
    plain = NonAtomicList([1, 2])
    plain[0] = 5
    assert plain == [5, 2] and plain[-1] == 2 and plain[0:1] == [5]

    def body():
        slot = NonAtomicList([None])
        join_all(lambda: slot.__setitem__(0, 1), lambda: slot.__setitem__(0, 2))  # no race check under sc

    report = verify.model(body, memory="sc")
    assert report.complete


def test_arena_payloads_are_non_atomic_lists_only_under_the_model_backend():
    from freeorder.lockfree import Arena

    assert type(Arena(fields=()).payload) is list
    seen = []
    verify.model(lambda: seen.append(type(Arena(fields=()).payload)), memory="c11")
    assert seen == [NonAtomicList]


def test_max_stale_zero_reads_only_the_newest_store():
    def body():
        data, flag = atomic.AtomicInt(), atomic.AtomicInt()

        def writer():
            data.store(1, RELAXED)
            flag.store(1, RELAXED)

        def reader():
            return flag.load(RELAXED), data.load(RELAXED)

        _, seen = join_all(writer, reader)
        assert seen != (1, 0), "stale"

    assert verify.model(body, memory="c11", max_stale=0).max_stale == 0
    with pytest.raises(verify.ModelFailure) as failure:
        verify.model(body, memory="c11", max_stale=1)
    message = str(failure.value)
    assert "stale memory choices:" in message and f"load at {HERE}:" in message
    assert 'replay it: verify.model(body, memory="c11", replay=' in message


def test_a_c11_schedule_does_not_replay_under_sc():
    def body():
        c = atomic.AtomicInt()
        t = verify.spawn(lambda: c.store(1, RELAXED))
        c.load(RELAXED)
        t.join()

    with pytest.raises(verify.ModelError, match="not a schedule of this test"):
        verify.model(body, memory="sc", replay="0.r1")


def test_memory_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(verify.ENV_MEMORY, "c11")
    monkeypatch.setenv(verify.ENV_MAX_STALE, "0")
    report = verify.model(lambda: atomic.AtomicInt().load())
    assert report.memory == "c11" and report.max_stale == 0


def store_once():
    cell = atomic.AtomicInt()
    cell.store(1, RELEASE)
    cell.load(ACQUIRE)


STORE_SITE = f"{HERE} | store_once | store | cell.store(1, RELEASE)"


def test_sites_are_recorded_with_the_orders_used():
    report = verify.model(store_once, memory="c11", record_sites=True)
    assert report.sites[STORE_SITE] == {int(RELEASE)}
    assert report.sites[f"{HERE} | store_once | load | cell.load(ACQUIRE)"] == {int(ACQUIRE)}


def test_an_order_override_applies_at_its_site_only():
    seen = []

    def body():
        store_once()
        seen.append(1)

    report = verify.model(body, memory="c11", orders={STORE_SITE: RELAXED, f"{HERE} | nowhere | load | x": RELAXED})
    assert report.overridden == {STORE_SITE: {int(RELEASE)}}  # the unreached site is not listed
    assert seen


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="memory='tso'"):
        verify.model(store_once, memory="tso")
    with pytest.raises(ValueError, match="only memory='c11'"):
        verify.model(store_once, memory="sc", orders={STORE_SITE: RELAXED})
    with pytest.raises(ValueError, match="max_stale=-1"):
        verify.model(store_once, memory="c11", max_stale=-1)
    with pytest.raises(ValueError, match="history=0"):
        verify.model(store_once, memory="c11", history=0)
    with pytest.raises(ValueError, match=r"orders\[.*ACQ_REL is not valid for a store"):
        verify.model(store_once, memory="c11", orders={STORE_SITE: ACQ_REL})


def test_a_seq_cst_fence_is_a_scheduling_point_only_under_c11():
    def body():
        x = atomic.AtomicInt()
        t = verify.spawn(lambda: (x.store(1, RELAXED), atomic.fence(SEQ_CST)))
        atomic.fence(SEQ_CST)
        t.join()

    sc, c11 = verify.model(body, memory="sc"), verify.model(body, memory="c11")
    assert c11.executions > sc.executions
