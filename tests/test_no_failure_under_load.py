"""Under load nothing fails for lack of reclamation (issue: arenas exhausted by 8 threads).

Eight threads of push/pop (enqueue/dequeue) pairs for a minute on a 2-core machine,
with each reclaimer: no thread gets an error, every item comes out exactly as often as
it went in, and the arena never needed more than its default initial capacity -- so
reclamation kept up, rather than growth hiding that it lagged. Not timed: the duration
only sets how long the pressure lasts.
"""

import os
import threading
import time

import pytest

from freeorder.lockfree import MSQueue, TreiberStack
from freeorder.lockfree.arena import DEFAULT_INITIAL_CAPACITY
from freeorder.reclaim import make_reclaimer

pytestmark = [pytest.mark.slow, pytest.mark.thread_unsafe(reason="starts its own threads")]

THREADS = 8
SECONDS = float(os.environ.get("FREEORDER_LOAD_SECONDS", "60"))


def pairs_for_a_while(structure, put, take):
    """Each thread puts unique ints and takes one item per pair; returns per-thread
    (count, sum, xor) of what went in and what came out, and the errors raised."""
    put, take = getattr(structure, put), getattr(structure, take)
    start, stop = threading.Barrier(THREADS), [False]
    totals, errors = [None] * THREADS, []

    def work(k):
        n = s_in = s_out = x_in = x_out = 0
        try:
            start.wait()
            while not stop[0]:
                for _ in range(64):
                    item = k + THREADS * n
                    put(item)
                    got = take()
                    n += 1
                    s_in += item
                    x_in ^= item
                    s_out += got
                    x_out ^= got
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        totals[k] = (n, s_in, x_in, s_out, x_out)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    time.sleep(SECONDS)
    stop[0] = True
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread did not stop"
    return totals, errors


@pytest.mark.parametrize("reclaimer", ["epoch", "hazard", "counted"])
@pytest.mark.parametrize("cls,put,take", [(TreiberStack, "push", "pop"), (MSQueue, "enqueue", "dequeue")])
def test_eight_threads_of_pairs_never_fail_and_reclamation_keeps_up(cls, put, take, reclaimer):
    structure = cls(reclaimer=None if reclaimer == "counted" else make_reclaimer(reclaimer))
    totals, errors = pairs_for_a_while(structure, put, take)
    assert errors == [], f"{len(errors)} threads failed, first: {errors[0]!r}"
    pairs = sum(t[0] for t in totals)
    assert pairs > 0
    assert sum(t[1] for t in totals) == sum(t[3] for t in totals), "items lost or duplicated (sums differ)"
    x_in = x_out = 0
    for t in totals:
        x_in ^= t[2]
        x_out ^= t[4]
    assert x_in == x_out, "items lost or duplicated (xors differ)"
    assert (structure.pop(None) if cls is TreiberStack else structure.dequeue(None)) is None
    assert structure.arena.peak <= DEFAULT_INITIAL_CAPACITY, (
        f"{structure.arena.peak} slots were needed at once after {pairs:,} pairs: reclamation lagged "
        f"behind (initial capacity {DEFAULT_INITIAL_CAPACITY})"
    )
