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
splits by key (set, map, kv) are checked per partition (Herlihy–Wing locality:
a history is linearizable iff each per-object sub-history is), **side by
side**: the partitions' searches take turns in slices of ``SLICE`` steps and
the check stops at the first partition that fails, so a partition that cannot
be settled in time does not hide a later one that fails at once (Porcupine
runs them in parallel and stops at the first failure). The verdict is unknown
(None) only if no partition failed and some ran out of time.

GC policy: the search allocates millions of small tuples and frees them by
reference counting alone; the cyclic garbage collector would rescan every live
object again and again (on 3.13t it walks all objects: three quarters of a long
search went to it). ``check`` therefore disables the cyclic GC while it
searches and restores the caller's setting afterwards (``gc.isenabled()``).

On failure the result names the failing partition and a *minimal failing
window* (best effort, within a time budget), never judged from a made-up
initial state: (1) the shortest failing prefix in real time; (2) the latest
start such that, with every operation called before it keeping its effect but
not its result (*result-free*: it still takes effect between its call and
return, with any output), the history still fails; (3) every other operation
whose result is not needed for the contradiction made result-free too. The
window's ``core`` is the operations whose results are needed plus those whose
*effects* are needed (made optional one at a time, the contradiction goes
away): a stale read comes with the writes it conflicts with. ``context`` are
the other operations overlapping the window, free to take effect or not.
``LinearizabilityResult.write_html(path)`` (or ``assert_linearizable(...,
html=path)``) draws the partition as a timeline, one row per thread, the
window highlighted, after Porcupine's visualisation.

>>> from freeorder.verify.history import Operation
>>> ops = [Operation("a", ("write", 1), None, 0, 10), Operation("b", ("read",), 0, 20, 30)]
>>> check(RegisterModel(), ops).linearizable       # a stale read after a completed write
False
"""

from __future__ import annotations

import contextlib
import gc
import html as _html
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
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


class KVModel(Model):
    """A key-value store of strings, partitioned by key, as Porcupine's kv model:
    ("get", k) -> the value ("" if never set), ("put", k, v) -> None, ("append", k, v) -> None
    (the value becomes value + v)."""

    name = "kv"

    def init(self):
        return ""  # per partition: the key's value

    def apply(self, state, input):
        kind = input[0]
        if kind == "get":
            return state, state
        if kind == "put":
            return None, input[2]
        if kind == "append":
            return None, state + input[2]
        raise _unknown(self, input)

    def partition(self, ops):
        return _by_key(self, ops)


# ---- the search -----------------------------------------------------------------------


class _Timeout(Exception):
    pass


SLICE = 1024  # search steps a partition takes before the next partition's turn


def _search(model: Model, ops: list[Operation]) -> Iterator[None]:
    """Wing–Gong/Lowe search over one partition, as a generator: it yields every ``SLICE``
    steps (so partitions can take turns) and returns (``StopIteration.value``) the verdict."""
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
        if work == SLICE:
            work = 0
            yield
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


def _linearizable(model: Model, ops: list[Operation], deadline: float | None) -> bool:
    """One partition's verdict; raises _Timeout past ``deadline``."""
    search = _search(model, ops)
    while True:
        try:
            next(search)
        except StopIteration as done:
            return done.value
        if deadline is not None and time.monotonic() > deadline:
            raise _Timeout


def _side_by_side(model: Model, parts: list[list[Operation]], deadline: float | None) -> tuple[bool | None, int | None]:
    """Search every partition, taking turns a slice at a time; stop at the first that fails.

    Returns (False, index of the failing partition), (True, None), or (None, None) when
    the deadline passed with no partition failed and some unsettled.
    """
    active = {k: _search(model, part) for k, part in enumerate(parts)}
    while active:
        for k in list(active):
            try:
                next(active[k])
            except StopIteration as done:
                del active[k]
                if not done.value:
                    return False, k
        if active and deadline is not None and time.monotonic() > deadline:
            return None, None
    return True, None


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The checker's GC policy: no cyclic collection while it searches (see the module docstring)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# ---- results --------------------------------------------------------------------------

DEFAULT_TIMEOUT = 60.0  # seconds: assert_linearizable's time limit unless given one
ENV_HTML = "FREEORDER_LINEARIZABILITY_HTML"  # a directory: assert_linearizable writes failures there


@dataclass
class LinearizabilityResult:
    """``linearizable`` is True, False, or None when the search ran out of time.

    On failure: ``failing_partition`` (its index) and ``partition`` (its operations),
    ``core`` (the minimal failing window: operations whose results, or whose effects, the
    contradiction needs; ``needs_result`` says which) and ``context`` (the other operations
    overlapping the window, free to take effect or not).
    """

    linearizable: bool | None
    model: str
    operations: int
    partitions: int
    elapsed: float
    failing_partition: int | None = None
    core: list[Operation] = field(default_factory=list)
    context: list[Operation] = field(default_factory=list)
    partition: list[Operation] = field(default_factory=list)
    needs_result: list[Operation] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.linearizable is True

    def explain(self) -> str:
        if self.linearizable:
            return f"linearizable: {self.operations} operations, {self.partitions} partition(s), {self.model} model"
        if self.linearizable is None:
            return f"unknown: the search timed out after {self.elapsed:.1f} s ({self.operations} operations)"
        results = {_ident(o) for o in self.needs_result}
        lines = [
            f"not linearizable ({self.model} model): partition {self.failing_partition} of {self.partitions}; "
            f"minimal failing window, {len(self.core)} operation(s) whose results cannot all be explained:"
        ]
        lines += [f"  {op}" + ("" if _ident(op) in results else "   (its effect is needed, not its result)")
                  for op in sorted(self.core, key=lambda o: o.call)]
        if self.context:
            lines.append("  with these operations free to take effect or not (results ignored):")
            lines += [f"    {op}" for op in sorted(self.context, key=lambda o: o.call)]
        return "\n".join(lines)

    def to_html(self, title: str = "linearizability check") -> str:
        """The failing partition (or, if none failed, nothing but the verdict) as a self-contained
        HTML timeline: one row per thread, each operation a box from its call to its return
        (positions by event order, as Porcupine draws them), the window's operations highlighted."""
        return _timeline_html(self, title)

    def write_html(self, path: str | os.PathLike, title: str = "linearizability check") -> Path:
        """Write ``to_html()`` to ``path``; returns the path."""
        path = Path(path)
        path.write_text(self.to_html(title), encoding="utf-8")
        return path


class NotLinearizable(AssertionError):
    """Raised by ``assert_linearizable``; ``result`` holds the failing window
    (``result.linearizable`` is None if the check ran out of time)."""

    def __init__(self, result: LinearizabilityResult, html: Path | None = None):
        message = result.explain()
        if html is not None:
            message += f"\nhistory timeline: {html}"
        super().__init__(message)
        self.result = result
        self.html = html


def _as_ops(history: History | Iterable[Operation]) -> list[Operation]:
    return history.operations() if isinstance(history, History) else list(history)


def _ident(op: Operation) -> tuple:
    return (op.thread, op.call, op.input)


def _pending(op: Operation) -> Operation:
    """Made optional: it may take effect any time after its call, or never."""
    return replace(op, ret=None)


def _result_free(op: Operation) -> Operation:
    """Its result ignored: it still takes effect between its call and its return, with any output."""
    return op if op.ret is None else replace(op, output=PENDING)


def _minimize(model: Model, ops: list[Operation], budget: float):
    """Shrink a failing partition to (core, context, needs_result) as the module docstring says.

    Best effort within ``budget`` seconds: a candidate whose check takes longer
    than a slice of the budget counts as "not shown to fail" and is not taken.
    """
    deadline = time.monotonic() + budget
    per_check = max(budget / 50, 0.01)

    def fails(candidate: list[Operation]) -> bool:
        if time.monotonic() > deadline:
            return False
        try:
            return not _linearizable(model, candidate, min(deadline, time.monotonic() + per_check))
        except _Timeout:
            return False

    # 1. the shortest failing prefix: everything called up to some return time (later calls
    # cannot take effect before it; operations still running then are pending)
    rets = sorted({op.ret for op in ops if op.ret is not None})

    def prefix(t):
        return [op if op.ret is not None and op.ret <= t else _pending(op) for op in ops if op.call <= t]

    lo, hi = 0, len(rets) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if fails(prefix(rets[mid])):
            hi = mid
        else:
            lo = mid + 1
    current = prefix(rets[lo])
    if not fails(current):  # out of budget before the prefix search settled
        current = list(ops)
    # 2. the latest start: operations called before it keep their effects but not their results
    calls = sorted({op.call for op in current if op.ret is not None})

    def from_start(t):
        return [_result_free(op) if op.call < t else op for op in current]

    lo, hi = 0, len(calls) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fails(from_start(calls[mid])):
            lo = mid
        else:
            hi = mid - 1
    if calls:
        trial = from_start(calls[lo])
        current = trial if fails(trial) else current
    # 3. results not needed for the contradiction: ignored, one at a time
    for j in range(len(current)):
        op = current[j]
        if op.ret is None or op.output is PENDING:
            continue
        trial = current[:j] + [_result_free(op)] + current[j + 1:]
        if fails(trial):
            current = trial
    original = {_ident(o): o for o in ops}
    needs_result = [original[_ident(op)] for op in current if op.ret is not None and op.output is not PENDING]
    # 4. effects needed: made optional alone (nearest the window first), the contradiction goes away
    first = min((op.call for op in needs_result), default=0)
    last = max((op.ret for op in needs_result), default=0)
    needed = {_ident(op) for op in needs_result}
    candidates = sorted((j for j, op in enumerate(current) if _ident(op) not in needed and op.ret is not None
                         and op.call <= last), key=lambda j: abs(current[j].call - first))
    for j in candidates:
        if time.monotonic() > deadline:
            break
        if not fails(current[:j] + [_pending(current[j])] + current[j + 1:]):
            needed.add(_ident(current[j]))
    core = [original[_ident(op)] for op in current if _ident(op) in needed]
    start = min((op.call for op in core), default=0)
    context = [original[_ident(op)] for op in current
               if _ident(op) not in needed and op.call <= last and (op.ret is None or op.ret >= start)]
    return core, context, needs_result


def check(
    model: Model,
    history: History | Iterable[Operation],
    *,
    timeout: float | None = None,
    minimize: bool = True,
    minimize_budget: float = 2.0,
) -> LinearizabilityResult:
    """Check a history against ``model``: partitions side by side, stopping at the first that
    fails; the cyclic GC is off while it searches (see the module docstring)."""
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    ops = _as_ops(history)
    for op in ops:
        if op.ret is not None and op.ret < op.call:
            raise ValueError(f"operation returns before it is called: {op}")
    parts = [sorted(part, key=lambda o: o.call) for part in model.partition(ops)]
    with _gc_paused():
        verdict, k = _side_by_side(model, parts, deadline)
        if verdict is False:
            part = parts[k]
            core, context, needs = _minimize(model, part, minimize_budget) if minimize else (part, [], part)
            return LinearizabilityResult(False, model.name, len(ops), len(parts), time.monotonic() - started,
                                         k, core, context, part, needs)
    return LinearizabilityResult(verdict, model.name, len(ops), len(parts), time.monotonic() - started)


check_linearizable = check  # the name exported by freeorder.verify


def assert_linearizable(model: Model, history: History | Iterable[Operation], *,
                        timeout: float | None = None, html: str | os.PathLike | None = None,
                        **kwargs: Any) -> LinearizabilityResult:
    """``check``, raising ``NotLinearizable`` (an AssertionError) unless the history is linearizable.

    ``timeout`` defaults to ``DEFAULT_TIMEOUT`` seconds (a history that cannot be settled fails
    the assertion as unknown instead of hanging the caller). On failure the history's timeline
    is written to ``html`` if given, else into the directory named by env FREEORDER_LINEARIZABILITY_HTML
    if set; the message names the file.
    """
    result = check(model, history, timeout=DEFAULT_TIMEOUT if timeout is None else timeout, **kwargs)
    if not result.linearizable:
        path = html
        if path is None and os.environ.get(ENV_HTML):
            directory = Path(os.environ[ENV_HTML])
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"{model.name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.html"
        raise NotLinearizable(result, result.write_html(path) if path is not None else None)
    return result


# ---- the HTML timeline ----------------------------------------------------------------------

_CSS = """
body { font: 13px system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 16px; } p.verdict { font-weight: bold; }
.timeline { position: relative; border-top: 1px solid #ccc; }
.row { position: relative; height: 34px; border-bottom: 1px solid #eee; }
.label { position: absolute; left: 0; width: 110px; top: 9px; overflow: hidden; white-space: nowrap;
         text-overflow: ellipsis; color: #555; }
.lane { position: absolute; left: 120px; right: 0; top: 0; bottom: 0; }
.op { position: absolute; top: 5px; height: 22px; border-radius: 3px; background: #cfe0f5;
      border: 1px solid #7a9cc6; box-sizing: border-box; overflow: hidden; white-space: nowrap;
      font-size: 11px; padding: 3px 4px; cursor: default; }
.op.pending { border-style: dashed; background: #eee; }
.op.core { background: #f6b8b8; border-color: #c0392b; font-weight: bold; }
.op.effect { background: #f9d7a8; border-color: #d68910; font-weight: bold; }
.op.context { background: #fbeecf; border-color: #d6b35a; }
.op:hover { z-index: 2; overflow: visible; box-shadow: 0 1px 4px #0005; }
.legend span { display: inline-block; padding: 2px 8px; margin-right: 8px; border-radius: 3px;
               border: 1px solid #999; font-size: 11px; }
pre { background: #f6f6f6; padding: 8px; }
"""


def _timeline_html(result: LinearizabilityResult, title: str) -> str:
    esc = _html.escape
    head = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{esc(title)}</h1>"
            f"<p class='verdict'>{esc(result.explain().splitlines()[0])}</p>")
    ops = result.partition
    if not ops:
        return head + "</body></html>"
    # x positions by event order (Porcupine's compression): each call/return time gets the next slot
    times = sorted({op.call for op in ops} | {op.ret for op in ops if op.ret is not None})
    slot = {t: i for i, t in enumerate(times)}
    width = len(times) + 1
    results = {_ident(o) for o in result.needs_result}
    core = {_ident(o) for o in result.core}
    context = {_ident(o) for o in result.context}
    threads: dict = {}
    for op in ops:
        threads.setdefault(op.thread, []).append(op)
    rows = []
    for thread, mine in sorted(threads.items(), key=lambda item: str(item[0])):
        boxes = []
        for op in mine:
            start = slot[op.call] / width * 100
            end = (slot[op.ret] + 1 if op.ret is not None else width) / width * 100
            key = _ident(op)
            kind = ("core" if key in results else "effect") if key in core else ("context" if key in context else "")
            if op.ret is None:
                kind += " pending"
            name, *args = op.input
            label = f"{name}({', '.join(map(repr, args))})" + ("" if op.ret is None else f" → {op.output!r}")
            boxes.append(f"<div class='op {kind}' style='left:{start:.3f}%;width:{max(end - start, 0.5):.3f}%' "
                         f"title='{esc(str(op))}'>{esc(label)}</div>")
        rows.append(f"<div class='row'><div class='label' title='{esc(str(thread))}'>{esc(str(thread))}</div>"
                    f"<div class='lane'>{''.join(boxes)}</div></div>")
    legend = ("<p class='legend'><span class='op core' style='position:static'>result needed</span>"
              "<span class='op effect' style='position:static'>effect needed</span>"
              "<span class='op context' style='position:static'>overlapping, free</span>"
              "<span class='op pending' style='position:static'>pending</span></p>")
    return (head + legend + f"<p>partition {result.failing_partition} of {result.partitions}: {len(ops)} operations, "
            f"{len(threads)} threads (hover an operation for its call and return times)</p>"
            f"<div class='timeline'>{''.join(rows)}</div><pre>{esc(result.explain())}</pre></body></html>")
