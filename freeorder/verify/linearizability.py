"""Linearizability checking: Wing–Gong/Lowe search, memoised, P-compositional (as Porcupine).

A history is linearizable w.r.t. a sequential ``Model`` if its operations can
be put in one sequence that (1) respects real time — an operation that
returned before another was called comes first — and (2) is accepted by the
model, each operation producing its observed output. A *pending* operation
(never returned) may appear anywhere after its call, with any output, or not at all.

The search walks the call/return events in time order, tentatively
linearizing calls ("lifting" them out of the event list) and backtracking
when a return is reached whose operation has not been linearized. Each
search state is ``(set of linearized operations as an int bitset, model
state)``; a state seen before is not explored again (Lowe's memoisation), so
model states must be hashable. Histories of models whose ``partition``
splits by key (set, map) are checked one partition at a time (Herlihy–Wing
locality: a history is linearizable iff each per-object sub-history is).

On failure the result names the failing partition and a *minimal failing
window* (best effort, within a time budget): the shortest failing prefix in
real time; then the latest start such that the operations called from it on
still cannot be linearized from the initial state; then every operation whose
response is not needed for the contradiction relaxed to pending. ``core`` are
the operations whose responses together cannot be linearized, ``context`` the
relaxed or pending operations that may take effect around them.

>>> from freeorder.verify.history import Operation
>>> ops = [Operation("a", ("write", 1), None, 0, 10), Operation("b", ("read",), 0, 20, 30)]
>>> check(RegisterModel(), ops).linearizable       # a stale read after a completed write
False
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from .history import History, Operation


class _PendingOutput:
    __slots__ = ()

    def __repr__(self) -> str:
        return "PENDING"


PENDING = _PendingOutput()  # the output a model sees for an operation that never returned


# ---- models -------------------------------------------------------------------------


class Model:
    """A sequential specification. Subclass and give ``init`` and ``apply`` (or ``step``).

    - ``init()``: the initial state (hashable).
    - ``apply(state, input) -> (output, new_state)``: a deterministic spec.
    - ``step(state, input, output) -> (ok, new_state)``: whether ``input``
      producing ``output`` is allowed in ``state``; ``output`` is ``PENDING`` for
      an operation that never returned (then any output is allowed). Defaults
      to comparing with ``apply``; override it for nondeterministic specs.
    - ``partition(ops) -> list of lists``: independent sub-histories (default: one).
    """

    name = "model"

    def init(self) -> Any:
        raise NotImplementedError

    def apply(self, state: Any, input: tuple) -> tuple[Any, Any]:
        raise NotImplementedError

    def step(self, state: Any, input: tuple, output: Any) -> tuple[bool, Any]:
        out, new = self.apply(state, input)
        return (output is PENDING or out == output), new

    def partition(self, ops: list[Operation]) -> list[list[Operation]]:
        return [ops]


def _unknown(model: Model, input: tuple):
    return ValueError(f"{model.name} model: unknown operation {input!r}")


class RegisterModel(Model):
    """A read/write register: ("write", v) -> None, ("read",) -> v, ("cas", expected, new) -> bool."""

    name = "register"

    def __init__(self, initial: Any = 0):
        self.initial = initial

    def init(self):
        return self.initial

    def apply(self, state, input):
        kind = input[0]
        if kind == "read":
            return state, state
        if kind == "write":
            return None, input[1]
        if kind == "cas":
            return (True, input[2]) if state == input[1] else (False, state)
        raise _unknown(self, input)


class CounterModel(Model):
    """A fetch-and-add counter: ("add", d) -> previous value, ("get",) -> value."""

    name = "counter"

    def __init__(self, initial: int = 0):
        self.initial = initial

    def init(self):
        return self.initial

    def apply(self, state, input):
        if input[0] in ("add", "fetch_add"):
            return state, state + input[1]
        if input[0] in ("get", "load"):
            return state, state
        raise _unknown(self, input)


class StackModel(Model):
    """A LIFO stack: ("push", v) -> None, ("pop",) -> v or None when empty. State: a tuple."""

    name = "stack"

    def init(self):
        return ()

    def apply(self, state, input):
        if input[0] == "push":
            return None, state + (input[1],)
        if input[0] == "pop":
            return (state[-1], state[:-1]) if state else (None, state)
        raise _unknown(self, input)


class QueueModel(Model):
    """A FIFO queue: ("enqueue"|"enq"|"put", v) -> None, ("dequeue"|"deq"|"get",) -> v or None."""

    name = "queue"

    def init(self):
        return ()

    def apply(self, state, input):
        if input[0] in ("enqueue", "enq", "put"):
            return None, state + (input[1],)
        if input[0] in ("dequeue", "deq", "get"):
            return (state[0], state[1:]) if state else (None, state)
        raise _unknown(self, input)


def _by_key(model: Model, ops: list[Operation]) -> list[list[Operation]]:
    groups: dict[Any, list[Operation]] = {}
    for op in ops:
        if len(op.input) < 2:
            raise ValueError(f"{model.name} model partitions by key, but {op.input!r} has none")
        groups.setdefault(op.input[1], []).append(op)
    return list(groups.values())


class SetModel(Model):
    """A set, partitioned by key: ("add"|"remove"|"contains", k) -> bool (changed / present)."""

    name = "set"

    def init(self):
        return False  # per partition: is the key present

    def apply(self, state, input):
        kind = input[0]
        if kind == "add":
            return (not state), True
        if kind in ("remove", "discard"):
            return state, False
        if kind == "contains":
            return state, state
        raise _unknown(self, input)

    def partition(self, ops):
        return _by_key(self, ops)


class MapModel(Model):
    """A map, partitioned by key: ("put", k, v) -> previous or None, ("get", k) -> v or None,
    ("remove", k) -> previous or None."""

    name = "map"

    def init(self):
        return None  # per partition: the key's value, None when absent

    def apply(self, state, input):
        kind = input[0]
        if kind == "put":
            return state, input[2]
        if kind == "get":
            return state, state
        if kind in ("remove", "delete"):
            return state, None
        raise _unknown(self, input)

    def partition(self, ops):
        return _by_key(self, ops)


# ---- the search -----------------------------------------------------------------------


class _Timeout(Exception):
    pass


def _linearizable(model: Model, ops: list[Operation], deadline: float | None) -> bool:
    """Wing–Gong/Lowe search over one partition; raises _Timeout past ``deadline``."""
    n = len(ops)
    if n == 0:
        return True
    inf = float("inf")
    events = []
    for i, op in enumerate(ops):
        events.append((op.call, 0, i))
        events.append((inf if op.ret is None else op.ret, 1, i))
    events.sort()  # at equal times calls come first: touching operations count as concurrent
    size = 2 * n
    # node 0 is the head sentinel; event k is node k + 1
    nxt = list(range(1, size + 2))
    nxt[size] = -1
    prv = list(range(-1, size))
    is_call = [False] * (size + 1)
    op_of = [0] * (size + 1)
    match = [0] * (size + 1)
    call_node = [0] * n
    for k, (_, kind, i) in enumerate(events, 1):
        op_of[k] = i
        if kind == 0:
            is_call[k] = True
            call_node[i] = k
        else:
            match[call_node[i]] = k
    pending_ret = [False] * (size + 1)
    for i, op in enumerate(ops):
        if op.ret is None:
            pending_ret[match[call_node[i]]] = True
    inputs = [op.input for op in ops]
    outputs = [PENDING if op.ret is None else op.output for op in ops]
    step = model.step

    state = model.init()
    linearized = 0
    seen: set = set()
    calls: list[tuple[int, Any]] = []
    entry = nxt[0]
    work = 0
    while nxt[0] != -1:
        work += 1
        if deadline is not None and work & 255 == 0 and time.monotonic() > deadline:
            raise _Timeout
        if is_call[entry]:
            i = op_of[entry]
            ok, new_state = step(state, inputs[i], outputs[i])
            if ok:
                new_lin = linearized | (1 << i)
                key = (new_lin, new_state)
                if key not in seen:
                    seen.add(key)
                    calls.append((entry, state))
                    state, linearized = new_state, new_lin
                    # lift the call and its return out of the list
                    r = match[entry]
                    nxt[prv[entry]] = nxt[entry]
                    prv[nxt[entry]] = prv[entry]
                    nxt[prv[r]] = nxt[r]
                    if nxt[r] != -1:
                        prv[nxt[r]] = prv[r]
                    entry = nxt[0]
                    continue
            entry = nxt[entry]
        else:
            if pending_ret[entry]:
                return True  # every completed operation is linearized; pending ones may not happen
            if not calls:
                return False
            entry, state = calls.pop()
            linearized &= ~(1 << op_of[entry])
            r = match[entry]  # unlift
            if nxt[r] != -1:
                prv[nxt[r]] = r
            nxt[prv[r]] = r
            prv[nxt[entry]] = entry
            nxt[prv[entry]] = entry
            entry = nxt[entry]
    return True


# ---- results --------------------------------------------------------------------------


@dataclass
class LinearizabilityResult:
    """``linearizable`` is True, False, or None when the search ran out of time."""

    linearizable: bool | None
    model: str
    operations: int
    partitions: int
    elapsed: float
    failing_partition: int | None = None
    core: list[Operation] = field(default_factory=list)
    context: list[Operation] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.linearizable is True

    def explain(self) -> str:
        if self.linearizable:
            return f"linearizable: {self.operations} operations, {self.partitions} partition(s), {self.model} model"
        if self.linearizable is None:
            return f"unknown: the search timed out after {self.elapsed:.1f} s ({self.operations} operations)"
        lines = [
            f"not linearizable ({self.model} model): partition {self.failing_partition} of {self.partitions}; "
            f"minimal failing window, {len(self.core)} operation(s) whose results cannot all be explained:"
        ]
        lines += [f"  {op}" for op in sorted(self.core, key=lambda o: o.call)]
        if self.context:
            lines.append("  with these operations free to take effect or not (results ignored):")
            lines += [f"    {op}" for op in sorted(self.context, key=lambda o: o.call)]
        return "\n".join(lines)


class NotLinearizable(AssertionError):
    """Raised by ``assert_linearizable``; ``result`` holds the failing window."""

    def __init__(self, result: LinearizabilityResult):
        super().__init__(result.explain())
        self.result = result


def _as_ops(history: History | Iterable[Operation]) -> list[Operation]:
    return history.operations() if isinstance(history, History) else list(history)


def _relaxed(op: Operation) -> Operation:
    return replace(op, ret=None)


def _minimize(model: Model, ops: list[Operation], budget: float) -> tuple[list[Operation], list[Operation]]:
    """Shrink a failing partition to (core, context) as described in the module docstring.

    Best effort within ``budget`` seconds: a candidate whose check takes longer
    than a slice of the budget counts as "not shown to fail" and is not taken.
    """
    deadline = time.monotonic() + budget
    per_check = max(budget / 50, 0.01)

    def fails(candidate: list[Operation]) -> bool:
        try:
            return not _linearizable(model, candidate, min(deadline, time.monotonic() + per_check))
        except _Timeout:
            return False

    # 1. the shortest failing prefix: everything called up to some return time
    rets = sorted({op.ret for op in ops if op.ret is not None})

    def prefix(t):
        return [op if op.ret is not None and op.ret <= t else _relaxed(op) for op in ops if op.call <= t]

    lo, hi = 0, len(rets) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if fails(prefix(rets[mid])):
            hi = mid
        else:
            lo = mid + 1
    current = prefix(rets[lo])
    if not fails(current):  # out of budget before the prefix search settled
        current = ops
    # 2. the latest start: drop the operations called before it, checking from the initial state
    calls = sorted({op.call for op in current})
    lo, hi = 0, len(calls) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fails([op for op in current if op.call >= calls[mid]]):
            lo = mid
        else:
            hi = mid - 1
    current = [op for op in current if op.call >= calls[lo]]
    # 3. relax, one at a time, completed operations whose responses are not needed
    for j in range(len(current)):
        if time.monotonic() > deadline:
            break
        if current[j].ret is None:
            continue
        trial = current[:j] + [_relaxed(current[j])] + current[j + 1:]
        if fails(trial):
            current = trial
    core = [op for op in current if op.ret is not None]
    last = max((op.ret for op in core), default=0)
    original = {(o.thread, o.call): o for o in ops}
    context = [original[(op.thread, op.call)] for op in current if op.ret is None and op.call <= last]
    return core, context


def check(
    model: Model,
    history: History | Iterable[Operation],
    *,
    timeout: float | None = None,
    minimize: bool = True,
    minimize_budget: float = 2.0,
) -> LinearizabilityResult:
    """Check a history against ``model``; partitions are checked one by one."""
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    ops = _as_ops(history)
    for op in ops:
        if op.ret is not None and op.ret < op.call:
            raise ValueError(f"operation returns before it is called: {op}")
    parts = model.partition(ops)
    for k, part in enumerate(parts):
        part = sorted(part, key=lambda o: o.call)
        try:
            ok = _linearizable(model, part, deadline)
        except _Timeout:
            return LinearizabilityResult(None, model.name, len(ops), len(parts), time.monotonic() - started)
        if not ok:
            core, context = _minimize(model, part, minimize_budget) if minimize else (part, [])
            return LinearizabilityResult(False, model.name, len(ops), len(parts), time.monotonic() - started,
                                         k, core, context)
    return LinearizabilityResult(True, model.name, len(ops), len(parts), time.monotonic() - started)


check_linearizable = check  # the name exported by freeorder.verify


def assert_linearizable(model: Model, history: History | Iterable[Operation], **kwargs: Any) -> LinearizabilityResult:
    """``check``, raising ``NotLinearizable`` (an AssertionError) unless the history is linearizable."""
    result = check(model, history, **kwargs)
    if not result.linearizable:
        raise NotLinearizable(result)
    return result
