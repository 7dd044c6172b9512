"""Helpers for real-thread tests: start together on a barrier, bounded joins."""

import os
import threading

JOIN_TIMEOUT = 120  # seconds
# multiplies every join limit where everything runs slower (nox -s tsan sets 10)
TIME_SCALE = float(os.environ.get("FREEORDER_TIME_SCALE", "1"))


def run_threads(n, target, timeout=JOIN_TIMEOUT):
    """Run target(i) for i in range(n) on n threads started together; re-raise the first error."""
    barrier = threading.Barrier(n)
    errors = []

    def body(i):
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout * TIME_SCALE)
        assert not t.is_alive(), "thread did not finish in time"
    if errors:
        raise errors[0]


def run_in_thread(fn, timeout=JOIN_TIMEOUT):
    """Run ``fn()`` to completion on a new thread (its own reclaimer records) and return its
    result; re-raise its error; fail if it does not finish within the join limit."""
    out, errors = [], []

    def body():
        try:
            out.append(fn())
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)

    t = threading.Thread(target=body)
    t.start()
    t.join(timeout * TIME_SCALE)
    assert not t.is_alive(), "thread did not finish in time"
    if errors:
        raise errors[0]
    return out[0]
