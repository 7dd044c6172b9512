"""The stalled-thread scenario for engines: does one slow thread hold the others back?

Four threads run the ``contended`` workload (one symbol, an ``OrderFlow``
each). In the *stalled* runs thread 0, the staller, pauses 1 ms
(``time.sleep(0.001)``) once every 100 of its commands, inside the command:

- locked engines (``rwlock``, ``sharded``, ``rcu``, ``hybrid``): inside the
  critical section, from ``engine.on_step("locked", None)``, which they call
  under the lock of every update;
- ``actor``: in the worker running the staller's command
  (``on_step("executing", sender)``), so the whole shard waits;
- ``lockfree``: at the named step ``"announced"`` -- a plan installed and
  announced, nothing applied, so every other thread reaching the symbol must
  finish it first. The staller counts its own commands at ``"linked"`` and,
  at every 100th, pauses at its next ``"announced"`` (its own command's, or
  one it is helping);
- engines without an ``on_step`` hook (``replicated``) and the ``reference``
  (not thread-safe on one symbol) are reported as not measured.

The *unstalled* runs are the same four threads with no pause. Reported: the
other three threads' throughput (untimed runs) and p99.9 latency (timed
runs), with and without the staller, and the staller's pauses and the time
it spent paused (a lock is unfair: a staller that keeps losing the lock
reaches its 100th command, and so its pause, less often).
"""

from __future__ import annotations

import threading
import time

THREADS = 4
EVERY = 100
PAUSE_S = 0.001
STEPS = {"lockfree": "announced", "rwlock": "locked", "rwlock-ft": "locked", "sharded": "locked",
         "rcu": "locked", "hybrid": "locked", "actor": "executing"}


def unsupported(engine_name: str, engine) -> str | None:
    """Why the scenario cannot run on this engine, or None."""
    if engine_name == "reference":
        return "not thread-safe on one symbol"
    if not hasattr(engine, "on_step") or engine_name not in STEPS:
        return "no on_step hook to pause inside a command"
    return None


class Staller:
    """The ``on_step`` hook: pauses thread 0 (``setup(0)`` names it) every ``EVERY`` of its commands.

    Only the staller's own steps touch its counters (on the actor, the worker running its
    commands, one at a time), so they need no synchronisation."""

    def __init__(self, engine_name: str) -> None:
        self.step = STEPS[engine_name]
        self.counts_at = "linked" if self.step == "announced" else self.step
        self.ident = None
        self.commands = 0
        self.armed = False
        self.pauses = 0
        self.paused_ns = 0

    def setup(self, i: int) -> None:
        if i == 0:
            self.ident = threading.get_ident()

    def __call__(self, name: str, entry) -> None:
        if threading.get_ident() != self.ident and entry != self.ident:
            return  # another thread, or the actor running another sender's command
        if name == self.counts_at:
            self.commands += 1
            if self.commands % EVERY == 0:
                self.armed = True
        if name == self.step and self.armed:
            self.armed = False
            t0 = time.perf_counter_ns()
            time.sleep(PAUSE_S)
            self.paused_ns += time.perf_counter_ns() - t0
            self.pauses += 1
