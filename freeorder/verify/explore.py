"""Explorers: who decides each choice of an execution.

A chooser answers three questions the execution asks: ``forced(exe, tid)``
(only ``tid`` can run: may it, or is this branch pruned?), ``choose(exe,
enabled)`` (which thread runs next) and ``pick(exe, kind, n)`` (which of ``n``
stores a load reads, or where a store goes, under ``memory="c11"``; 0 is the
newest, others are *stale* and count against ``exe.max_stale``).

- ``DFS``: every schedule within ``bound`` preemptions and ``exe.max_stale``
  stale memory choices, depth first, with sleep sets over thread choices
  (``sleep_sets``):

  * ``"full"``: after exploring thread ``t`` at a point, no sibling branch
    runs ``t`` again until a step dependent on ``t``'s pending step has run.
    This prunes only schedules equivalent to one already explored, but the
    explored one may need more preemptions than the pruned one, so under a
    preemption bound it can lose an execution the bound allows (Coons et al.,
    "Bounded partial-order reduction", 2013). The default of ``memory="sc"``.
  * ``"sound"``: only the thread that was running (and could go on) sleeps in
    its siblings' branches. Moving its pending step to the front, where it
    was the running thread, never adds a preemption (the switch it saves at
    the front pays for the one it adds after it), so the equivalent schedule
    explored first is within the bound too: nothing within the bounds is
    lost. The default of ``memory="c11"``.
  * ``"off"``: every schedule within the bounds.
- ``Replay``: exactly the decisions of a schedule string.
- ``RandomChooser``: uniform thread and memory choices (seeded).
- ``PCT``: Probabilistic Concurrency Testing priorities (seeded); memory choices uniform.
"""

from __future__ import annotations

import random

from .execution import _FENCE, _GLOBAL, _JOIN, _READ, _SPAWN, _START
from .schedule import ModelError, Pick


def independent(a: tuple, b: tuple) -> bool:
    """Whether two pending steps of different threads commute.

    A thread's first step (START) touches no shared state; a join neither (its
    target has finished); spawns conflict with spawns (they number threads);
    yield_point (GLOBAL) changes who may run, and a SEQ_CST fence (FENCE) is
    ordered against every SEQ_CST operation, so they conflict with everything;
    two memory operations conflict on the same cell unless both read (under
    the C11 model too: which stores a load may read depends on the stores
    before it in the execution, never on other loads).
    """
    ka, kb = a[0], b[0]
    if ka == _START or kb == _START:
        return True
    if ka == _GLOBAL or kb == _GLOBAL or ka == _FENCE or kb == _FENCE:
        return False
    if ka == _JOIN or kb == _JOIN:
        return True
    if ka == _SPAWN or kb == _SPAWN:
        return ka != kb
    return a[1] != b[1] or (ka == _READ and kb == _READ)


SLEEP_SETS = ("full", "sound", "off")


class _Node:
    __slots__ = ("enabled", "chosen", "sleep", "done", "pending", "kinds", "current", "cur_enabled",
                 "preemptions", "data", "stale")


class DFS:
    """Depth-first search over schedules with a preemption bound, a stale-choice bound and sleep sets.

    The stack holds thread nodes (``data`` None) and memory nodes (``data`` =
    (kind, n)); a memory node tries the newest store first, then staler ones
    while the execution's stale count is below ``max_stale``.
    """

    def __init__(self, bound: int, sleep_sets: str = "full"):
        if sleep_sets not in SLEEP_SETS:
            raise ValueError(f"sleep_sets={sleep_sets!r}: expected one of {', '.join(map(repr, SLEEP_SETS))}")
        self.bound = bound
        self.sleep_sets = sleep_sets
        self.stack: list[_Node] = []
        self.depth = 0
        self.sleep: set[int] = set()

    def start(self) -> None:
        self.depth = 0
        self.sleep = set()

    def _cost(self, node: _Node, u: int) -> int:
        return 1 if node.cur_enabled and u != node.current else 0

    def _child_sleep(self, node: _Node, tid: int) -> None:
        mode = self.sleep_sets
        if mode == "off":
            return
        if mode == "full":
            asleep = node.sleep | node.done
        elif node.cur_enabled and node.current in node.done:
            asleep = node.sleep | {node.current}
        else:
            asleep = node.sleep
        p = node.pending[tid]
        self.sleep = {u for u in asleep if u != tid and independent(node.pending[u], p)}

    def _replayed(self, what: str):
        node = self.stack[self.depth]
        raise ModelError(
            f"the test is not deterministic: at decision {self.depth} {what}, but not in an earlier "
            f"execution with the same schedule prefix ({'memory choice' if node.data else 'threads'} "
            f"{node.data or node.enabled} there)")

    def forced(self, exe, tid: int) -> bool:
        if tid in self.sleep:
            return False
        if self.sleep:
            p = exe.threads[tid].pending
            self.sleep = {u for u in self.sleep if independent(exe.threads[u].pending, p)}
        return True

    def choose(self, exe, en: list[int]) -> int | None:
        if self.depth < len(self.stack):
            node = self.stack[self.depth]
            if node.data is not None or node.enabled != en or node.kinds != [exe.threads[u].pending[0] for u in en]:
                self._replayed(f"threads {en} could run (or their next operations differ)")
        else:
            node = _Node()
            node.data = None
            node.enabled = en
            node.sleep = self.sleep & set(en)
            node.done = set()
            node.pending = {u: exe.threads[u].pending for u in en}
            node.kinds = [exe.threads[u].pending[0] for u in en]
            node.current = exe.current
            node.cur_enabled = exe.current in en
            node.preemptions = exe.preemptions
            candidates = [u for u in en if u not in node.sleep
                          and node.preemptions + self._cost(node, u) <= self.bound]
            if not candidates:
                return None
            node.chosen = exe.current if exe.current in candidates else candidates[0]
            self.stack.append(node)
        self.depth += 1
        self._child_sleep(node, node.chosen)
        return node.chosen

    def pick(self, exe, kind: str, n: int) -> int:
        if self.depth < len(self.stack):
            node = self.stack[self.depth]
            if node.data != (kind, n):
                self._replayed(f"a memory choice {(kind, n)} was taken")
        else:
            node = _Node()
            node.data = (kind, n)
            node.stale = exe.stale
            node.done = set()
            node.chosen = 0
            self.stack.append(node)
        self.depth += 1
        return node.chosen

    def advance(self, max_stale: int) -> bool:
        """Move to the next unexplored schedule; False when the bounded space is done."""
        while self.stack:
            node = self.stack[-1]
            node.done.add(node.chosen)
            if node.data is not None:
                if node.stale < max_stale:
                    for k in range(node.data[1]):
                        if k not in node.done:
                            node.chosen = k
                            return True
                self.stack.pop()
                continue
            for u in node.enabled:
                if u in node.done or u in node.sleep:
                    continue
                if node.preemptions + self._cost(node, u) > self.bound:
                    continue
                node.chosen = u
                return True
            self.stack.pop()
        return False


class Replay:
    def __init__(self, choices: list):
        self.choices = choices
        self.i = 0

    def forced(self, exe, tid) -> bool:
        return True

    def _next(self, what: str, ok) -> object:
        if self.i >= len(self.choices):
            raise ModelError(f"the schedule ends after {self.i} choices but {what}: it is not a schedule of this test")
        choice = self.choices[self.i]
        if not ok(choice):
            raise ModelError(f"the schedule has {choice} at choice {self.i}, but {what}: "
                             "it is not a schedule of this test (or not of this memory model)")
        self.i += 1
        return choice

    def choose(self, exe, en):
        return self._next(f"threads {en} can run", lambda c: type(c) is int and c in en)

    def pick(self, exe, kind, n):
        what = f"a {'load' if kind == 'r' else 'store'} has {n} choices here ({kind}0..{kind}{n - 1})"
        return self._next(what, lambda c: type(c) is Pick and c.kind == kind and c.k < n).k


def _random_pick(rng: random.Random, exe, n: int) -> int:
    return rng.randrange(n) if exe.stale < exe.max_stale else 0


class RandomChooser:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def forced(self, exe, tid) -> bool:
        return True

    def choose(self, exe, en):
        return self.rng.choice(en)

    def pick(self, exe, kind, n):
        return _random_pick(self.rng, exe, n)


class PCT:
    """PCT: highest priority runs; at d-1 random steps the running thread drops to the bottom."""

    def __init__(self, rng: random.Random, depth: int, length: int):
        self.rng = rng
        self.prio: dict[int, float] = {}
        self.change = set(rng.sample(range(1, max(length, depth) + 1), depth - 1)) if depth > 1 else set()
        self.low = 0.0

    def _p(self, tid: int) -> float:
        if tid not in self.prio:
            self.prio[tid] = 1.0 + self.rng.random()
        return self.prio[tid]

    def forced(self, exe, tid) -> bool:
        self._maybe_change(exe)
        return True

    def _maybe_change(self, exe):
        if exe.steps in self.change and exe.current is not None:
            self.low -= 1.0
            self.prio[exe.current] = self.low

    def choose(self, exe, en):
        self._maybe_change(exe)
        return max(en, key=self._p)

    def pick(self, exe, kind, n):
        return _random_pick(self.rng, exe, n)
