"""Helping makes the queue and the command log non-blocking: with one appender frozen between
linking its node and swinging the tail, other enqueuers (appenders) and dequeuers still finish.

A structure without its helping step stays correct but blocks here (it waits for the frozen
thread to swing the tail), which no other test notices: operations finish as soon as the
frozen thread runs again.
"""

import threading

import pytest

from freeorder.lockfree import MSQueue
from freeorder.lockfree.command_log import CommandLog
from freeorder.reclaim import make_reclaimer
from freeorder.verify import freeze_test

pytestmark = pytest.mark.thread_unsafe(reason="starts threads and freezes one of them")

PATIENCE = 10.0  # seconds the others get while the victim is frozen (they need microseconds)
SCHEMES = ["counted", "epoch", "hazard", "none"]


def queue(scheme):
    return MSQueue(reclaimer=None if scheme == "counted" else make_reclaimer(scheme))


def frozen_between_link_and_swing(q, item):
    """Start a thread enqueuing ``item`` and stop it at ``enqueue:linked``; returns (thread, release)."""
    linked, release = threading.Event(), threading.Event()

    def on_step(step):
        if step == "enqueue:linked":
            linked.set()
            release.wait(PATIENCE * 3)

    victim = threading.Thread(target=lambda: q.handle(on_step=on_step).enqueue(item), daemon=True)
    victim.start()
    assert linked.wait(PATIENCE), "the victim never linked its node"
    return victim, release


def finishes(fn):
    """Run ``fn`` on a thread; its result if it finished within PATIENCE, else fail (it blocked)."""
    out = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    t.join(PATIENCE)
    return out


@pytest.mark.parametrize("scheme", SCHEMES)
def test_an_enqueuer_finishes_while_another_is_frozen_before_its_tail_swing(scheme):
    q = queue(scheme)
    q.enqueue("a")
    victim, release = frozen_between_link_and_swing(q, "v")
    try:
        done = finishes(lambda: q.enqueue("b"))
        assert done == [None], "enqueue blocked behind a frozen enqueuer's tail swing (no helping)"
    finally:
        release.set()
        victim.join(PATIENCE)
    assert q.to_list() == ["a", "v", "b"]
    q.audit()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_dequeuer_finishes_while_an_enqueuer_is_frozen_before_its_tail_swing(scheme):
    q = queue(scheme)
    victim, release = frozen_between_link_and_swing(q, "v")
    try:
        done = finishes(lambda: [q.dequeue(None), q.dequeue(None)])
        assert done == [["v", None]], "dequeue blocked behind a frozen enqueuer's tail swing (no helping)"
    finally:
        release.set()
        victim.join(PATIENCE)
    assert q.to_list() == []
    q.audit()


APPEND_TAIL_SWING = 5  # the append's atomic operations: id, tail load, next load, link, then the swing


def test_an_appender_finishes_while_another_is_frozen_before_its_tail_swing():
    report = freeze_test(CommandLog, lambda log: log.append("v").pos, [lambda log: log.append("b").pos],
                         freeze_at=APPEND_TAIL_SWING, timeout=PATIENCE)
    assert report.frozen and report.ok, report.explain()
    # frozen after its link: the victim's entry is first, the other's second
    assert report.victim_result == 1 and report.other_results == [2]
