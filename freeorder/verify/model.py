"""The model checker: a ``model`` atomics backend, a one-thread-at-a-time scheduler, explorers.

``model(body)`` runs ``body`` as model thread 0; threads it starts with
``spawn(fn)`` are model threads 1, 2, ... Each model thread is a real
``threading.Thread`` (so ``threading.local`` and ``threading.get_ident`` work),
but a token passed between them lets exactly one run at a time. Every
operation on a model atomic, ``spawn``, ``JoinHandle.join`` and
``yield_point()`` is a *scheduling point*: the thread announces the operation
(which cell, read or write) and waits until the scheduler picks it. A *step*
is one announced operation plus the plain Python code after it, up to the
thread's next scheduling point. The body is re-run from scratch for every
explored execution, so it must build its state inside ``body`` and be
deterministic given the schedule.

Memory model: sequential consistency. Every operation acts on one global
memory in the order the scheduler picks; weak-memory reorderings (a RELAXED
load reading a stale value, store buffering) are NOT explored, and a weak
compare-exchange never fails spuriously. Orders are still validated as C11 does.

Exploration modes:

- ``dfs`` (default): every schedule with at most ``max_preemptions``
  preemptions (a switch away from a thread that could have continued; env
  ``FREEORDER_MAX_PREEMPTIONS``, default 2), depth first, with *sleep sets*:
  after exploring thread ``t`` at a point, sibling branches do not re-run
  ``t`` until a step dependent on ``t``'s pending operation runs (two
  operations are dependent when they touch the same cell and one writes;
  spawns conflict with spawns, yield_point with everything). Sleep sets prune only
  schedules equivalent to one already explored; under a preemption bound the
  explored representative may sometimes be the one over the bound.
- ``random``: ``iterations`` executions, each thread choice uniform (seeded).
- ``pct``: Probabilistic Concurrency Testing (Burckhardt et al. 2010): random
  thread priorities and ``depth - 1`` random priority-change points (seeded).

Spinning: ``yield_point()`` marks the calling thread as waiting: it is not
scheduled again until another thread takes a step (as ``loom::thread::yield_now``).
A thread that reads the same cell more than ``spin_threshold`` times with no
write by anyone in between is treated the same way (spin detection, so spin
loops in code that cannot call ``yield_point`` terminate); if nothing else
can run it continues.

Failures (raised as ``ModelFailure`` with the schedule and how to replay it):
an exception in any thread (a failed ``assert`` included), a deadlock (no
thread can run but some have not finished: joins that never return, or
threads that ``yield_point()`` while nobody else can run), a livelock (more
than ``max_steps`` steps in one execution), and a thread stuck outside the
model (blocked on a real lock or event for ``stall_timeout`` seconds).

The schedule string lists the thread picked at each point where more than one
thread could run, run-length encoded: ``"0x3.1.2x2"`` is 0,0,0,1,2,2.
``model(body, replay=s)`` or env ``FREEORDER_REPLAY=s`` re-runs exactly that
execution.

Limits: plain Python objects shared between threads are invisible to the
scheduler (a step's plain code runs atomically with its operation), so share
state through atomics; real blocking primitives (``threading.Lock``) inside
model threads stall the model.
"""

from __future__ import annotations

import os
import random
import threading
import time
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from freeorder import atomic
from freeorder.atomic._checks import as_index, as_int64, as_order, cas_orders, check_grow, check_reserve, wrap64
from freeorder.atomic._orders import SEQ_CST

ENV_MAX_PREEMPTIONS = "FREEORDER_MAX_PREEMPTIONS"
ENV_REPLAY = "FREEORDER_REPLAY"
DEFAULT_MAX_PREEMPTIONS = 2
DEFAULT_MAX_STEPS = 10_000

# Kinds of pending operation, for the dependence relation of the sleep sets.
_START, _READ, _WRITE, _GLOBAL, _SPAWN, _JOIN = 0, 1, 2, 3, 4, 5

_tls = threading.local()  # .mthread: the model thread running on this real thread, if any
_plain_lock = threading.Lock()  # serialises model atomics used outside a running model


class ModelFailure(AssertionError):
    """An execution of the model failed; ``schedule`` replays it.

    Attributes: ``kind`` ("exception", "deadlock", "livelock", "stuck"),
    ``thread`` (model thread id or None), ``schedule`` (replay string),
    ``execution`` (1-based index of the failing execution).
    """

    def __init__(self, message: str, kind: str, thread: int | None, schedule: str, execution: int):
        super().__init__(message)
        self.kind = kind
        self.thread = thread
        self.schedule = schedule
        self.execution = execution


class ModelError(RuntimeError):
    """The model cannot run the test: nondeterminism, a replay that does not fit, misuse."""


class _Abort(BaseException):
    """Raised inside model threads to unwind them when an execution ends early."""


@dataclass
class Report:
    """What ``model()`` explored: all executions passed."""

    mode: str
    executions: int
    pruned: int
    max_preemptions: int | None
    seed: int | None
    max_steps_seen: int
    elapsed: float
    complete: bool  # dfs: the whole bounded space was explored (not cut by max_executions)


# ---- schedule strings ---------------------------------------------------------------


def encode_schedule(choices: list[int]) -> str:
    """Run-length encode thread choices: [0, 0, 0, 1, 2, 2] -> "0x3.1.2x2"."""
    parts = []
    i = 0
    while i < len(choices):
        j = i
        while j < len(choices) and choices[j] == choices[i]:
            j += 1
        n = j - i
        parts.append(f"{choices[i]}x{n}" if n > 1 else str(choices[i]))
        i = j
    return ".".join(parts)


def decode_schedule(text: str) -> list[int]:
    """Inverse of ``encode_schedule``; raises ModelError on malformed text."""
    choices: list[int] = []
    text = text.strip().strip('"').strip("'")
    if not text:
        return choices
    for part in text.split("."):
        tid, _, count = part.partition("x")
        try:
            choices.extend([int(tid)] * (int(count) if count else 1))
        except ValueError:
            raise ModelError(f"malformed schedule {text!r} at {part!r}") from None
    return choices


# ---- model threads and one execution ------------------------------------------------


class _MThread:
    __slots__ = (
        "tid", "fn", "args", "kwargs", "lock", "real", "pending", "finished", "join_target",
        "yielded", "stalled", "spinning", "result", "exe", "reads", "read_epoch",
    )

    def __init__(self, exe: _Execution, tid: int, fn, args, kwargs):
        self.exe = exe
        self.tid = tid
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.lock = threading.Lock()
        self.lock.acquire()  # held = "not my turn"; the scheduler releases it to run me
        self.pending = (_START, None)
        self.finished = False
        self.join_target: _MThread | None = None
        self.yielded = False  # called yield_point(): wait for another thread's step
        self.stalled = 0  # yield_point() calls since another thread last took a step
        self.spinning = False  # spin detected: same as yielded, but may continue if alone
        self.result = None
        self.reads: dict = {}
        self.read_epoch = -1
        self.real = threading.Thread(target=exe._run_thread, args=(self,), daemon=True,
                                     name=f"freeorder-model-{tid}")


@dataclass
class _Outcome:
    kind: str  # ok, pruned, exception, deadlock, livelock, stuck
    thread: int | None = None
    message: str = ""
    exc: BaseException | None = None


class _Execution:
    """One run of the body under a chooser. Invariant: at most one model thread runs."""

    def __init__(self, chooser, max_steps: int, spin_threshold: int | None):
        self.chooser = chooser
        self.max_steps = max_steps
        self.spin_threshold = spin_threshold
        self.threads: list[_MThread] = []
        self.steps = 0
        self.choices: list[int] = []
        self.current: int | None = None
        self.preemptions = 0
        self.write_epoch = 0
        self.outcome: _Outcome | None = None
        self.aborting = False
        self.done = threading.Lock()
        self.done.acquire()

    # -- thread lifecycle --
    def new_thread(self, fn, args, kwargs) -> _MThread:
        t = _MThread(self, len(self.threads), fn, args, kwargs)
        self.threads.append(t)
        t.real.start()
        return t

    def _run_thread(self, t: _MThread) -> None:
        _tls.mthread = t
        try:
            t.lock.acquire()
            if self.aborting:
                return
            t.result = t.fn(*t.args, **t.kwargs)
        except _Abort:
            return
        except BaseException as exc:  # noqa: BLE001 - any failure in a model thread is the finding
            if not self.aborting:
                self._end(_Outcome("exception", t.tid, "".join(traceback.format_exception(exc)), exc))
            return
        finally:
            _tls.mthread = None
        t.finished = True
        t.pending = None
        for u in self.threads:  # a finished thread counts as progress for waiting threads
            u.yielded = u.spinning = False
        nxt = self._pick()
        if nxt is not None:
            nxt.lock.release()

    def _end(self, outcome: _Outcome) -> None:
        if self.outcome is None:
            self.outcome = outcome
            self.done.release()

    # -- scheduling --
    def _enabled(self) -> list[int]:
        en = []
        for t in self.threads:
            if t.finished or t.yielded or t.spinning:
                continue
            if t.join_target is not None and not t.join_target.finished:
                continue
            en.append(t.tid)
        return en

    def _pick(self) -> _MThread | None:
        """Choose the thread that takes the next step; None if the execution is over."""
        if self.aborting or self.outcome is not None:
            return None
        en = self._enabled()
        if not en and any(t.spinning or (t.yielded and t.stalled < 2) for t in self.threads):
            # Nobody else can run. A spinning thread may not really spin, and a thread
            # that yielded may have missed progress made just before its yield: let
            # them go on. A second yield with still no other step is a deadlock.
            for t in self.threads:
                t.spinning = False
                if t.stalled < 2:
                    t.yielded = False
            en = self._enabled()
        if not en:
            waiting = [t for t in self.threads if not t.finished]
            if not waiting:
                self._end(_Outcome("ok"))
            else:
                desc = ", ".join(
                    f"thread {t.tid} " + (f"joining thread {t.join_target.tid}" if t.join_target is not None
                                          else "waiting at yield_point() with nobody else able to run")
                    for t in waiting)
                self._end(_Outcome("deadlock", waiting[0].tid, f"deadlock: {desc}"))
            return None
        self.steps += 1
        if self.steps > self.max_steps:
            self._end(_Outcome("livelock", self.current,
                               f"livelock: more than max_steps={self.max_steps} steps in one execution "
                               "(threads spinning forever, or raise max_steps)"))
            return None
        cur = self.current
        if len(en) == 1:
            tid = en[0]
            if not self.chooser.forced(self, tid):
                self._end(_Outcome("pruned"))
                return None
        else:
            try:
                tid = self.chooser.choose(self, en)
            except ModelError as exc:
                self._end(_Outcome("error", self.current, str(exc), exc))
                return None
            if tid is None:
                self._end(_Outcome("pruned"))
                return None
            self.choices.append(tid)
        if cur is not None and tid != cur and cur in en:
            self.preemptions += 1
        for t in self.threads:  # another thread steps: waiting (yielded/spinning) threads may run again
            if t.tid != tid:
                t.yielded = t.spinning = False
                t.stalled = 0
        self.current = tid
        return self.threads[tid]

    def point(self, t: _MThread, op: tuple, join: _MThread | None = None) -> None:
        """Scheduling point of thread ``t`` (which holds the token) before ``op``."""
        if self.aborting or self.outcome is not None:
            raise _Abort
        t.pending = op
        t.join_target = join
        nxt = self._pick()
        if nxt is not t:
            if nxt is not None:
                nxt.lock.release()
            t.lock.acquire()
            if self.aborting:
                raise _Abort
        t.join_target = None

    def after_op(self, t: _MThread, key, wrote: bool) -> None:
        if wrote:
            self.write_epoch += 1
            return
        if self.spin_threshold is None:
            return
        if t.read_epoch != self.write_epoch:
            t.reads.clear()
            t.read_epoch = self.write_epoch
        n = t.reads.get(key, 0) + 1
        t.reads[key] = n
        if n > self.spin_threshold:
            t.spinning = True
            t.reads.clear()

    def abort_and_join(self, timeout: float = 5.0) -> None:
        self.aborting = True
        for t in self.threads:
            if not t.finished:
                try:
                    t.lock.release()
                except RuntimeError:
                    pass
        for t in self.threads:
            t.real.join(timeout)


# ---- choosers -------------------------------------------------------------------------


def _independent(a: tuple, b: tuple) -> bool:
    """Whether two pending steps of different threads commute.

    A thread's first step (START) touches no shared state; a join neither (its
    target has finished); spawns conflict with spawns (they number threads);
    yield_point (GLOBAL) changes who may run, so it conflicts with everything;
    two memory operations conflict on the same cell unless both read.
    """
    ka, kb = a[0], b[0]
    if ka == _START or kb == _START:
        return True
    if ka == _GLOBAL or kb == _GLOBAL:
        return False
    if ka == _JOIN or kb == _JOIN:
        return True
    if ka == _SPAWN or kb == _SPAWN:
        return ka != kb
    return a[1] != b[1] or (ka == _READ and kb == _READ)


class _Node:
    __slots__ = ("enabled", "chosen", "sleep", "done", "pending", "kinds", "current", "cur_enabled",
                 "preemptions")


class _DFS:
    """Depth-first search over schedules with a preemption bound and sleep sets."""

    def __init__(self, bound: int):
        self.bound = bound
        self.stack: list[_Node] = []
        self.depth = 0
        self.sleep: set[int] = set()

    def start(self) -> None:
        self.depth = 0
        self.sleep = set()

    def _cost(self, node: _Node, u: int) -> int:
        return 1 if node.cur_enabled and u != node.current else 0

    def _child_sleep(self, node: _Node, tid: int) -> None:
        p = node.pending[tid]
        self.sleep = {u for u in node.sleep | node.done if u != tid and _independent(node.pending[u], p)}

    def forced(self, exe: _Execution, tid: int) -> bool:
        if tid in self.sleep:
            return False
        if self.sleep:
            p = exe.threads[tid].pending
            self.sleep = {u for u in self.sleep if _independent(exe.threads[u].pending, p)}
        return True

    def choose(self, exe: _Execution, en: list[int]) -> int | None:
        if self.depth < len(self.stack):
            node = self.stack[self.depth]
            if node.enabled != en or node.kinds != [exe.threads[u].pending[0] for u in en]:
                raise ModelError(
                    f"the test is not deterministic: at decision {self.depth} threads {en} could run, "
                    f"but {node.enabled} in an earlier execution with the same schedule prefix "
                    "(or their next operations differ)")
        else:
            node = _Node()
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

    def advance(self) -> bool:
        """Move to the next unexplored schedule; False when the bounded space is done."""
        while self.stack:
            node = self.stack[-1]
            node.done.add(node.chosen)
            for u in node.enabled:
                if u in node.done or u in node.sleep:
                    continue
                if node.preemptions + self._cost(node, u) > self.bound:
                    continue
                node.chosen = u
                return True
            self.stack.pop()
        return False


class _Replay:
    def __init__(self, choices: list[int]):
        self.choices = choices
        self.i = 0

    def forced(self, exe, tid) -> bool:
        return True

    def choose(self, exe, en):
        if self.i >= len(self.choices):
            raise ModelError(f"the schedule ends after {self.i} choices but threads {en} can still run: "
                             "it is not a schedule of this test")
        tid = self.choices[self.i]
        if tid not in en:
            raise ModelError(f"the schedule picks thread {tid} at choice {self.i}, but only {en} can run: "
                             "it is not a schedule of this test")
        self.i += 1
        return tid


class _Random:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def forced(self, exe, tid) -> bool:
        return True

    def choose(self, exe, en):
        return self.rng.choice(en)


class _PCT:
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


# ---- the public API -----------------------------------------------------------------


def _current() -> _MThread | None:
    return getattr(_tls, "mthread", None)


class JoinHandle:
    """A model thread started by ``spawn``; ``join()`` waits for it and returns its result."""

    __slots__ = ("_t",)

    def __init__(self, t: _MThread):
        self._t = t

    @property
    def tid(self) -> int:
        """The model thread id (as used in schedule strings)."""
        return self._t.tid

    def join(self) -> Any:
        t = _current()
        if t is None or t.exe is not self._t.exe:
            raise ModelError("JoinHandle.join() must be called from a thread of the same model execution")
        t.exe.point(t, (_JOIN, None), join=self._t)
        return self._t.result


def spawn(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> JoinHandle:
    """Start ``fn(*args, **kwargs)`` as a new model thread (like ``loom::thread::spawn``)."""
    t = _current()
    if t is None:
        raise ModelError("spawn() must be called inside verify.model(body)")
    t.exe.point(t, (_SPAWN, None))
    return JoinHandle(t.exe.new_thread(fn, args, kwargs))


def yield_point() -> None:
    """A scheduling point that also says "I am waiting for another thread" (spin loops).

    Outside a running model it does nothing.
    """
    t = _current()
    if t is None:
        return
    t.exe.point(t, (_GLOBAL, None))
    t.yielded = True
    t.stalled += 1


def current_thread_id() -> int | None:
    """The model thread id of the caller, or None outside a running model."""
    t = _current()
    return None if t is None else t.tid


def _max_preemptions(value: int | None) -> int:
    if value is not None:
        return value
    env = os.environ.get(ENV_MAX_PREEMPTIONS)
    return int(env) if env else DEFAULT_MAX_PREEMPTIONS


def _run_one(body, chooser, max_steps, spin_threshold, stall_timeout) -> _Execution:
    exe = _Execution(chooser, max_steps, spin_threshold)
    first = exe.new_thread(body, (), {})
    nxt = exe._pick()
    assert nxt is first
    first.lock.release()
    last = -1
    while not exe.done.acquire(timeout=stall_timeout):
        if exe.steps == last:
            running = exe.current
            exe._end(_Outcome("stuck", running,
                              f"stuck: model thread {running} made no step for {stall_timeout} s; it is blocked "
                              "outside the model (a real lock, event or sleep?)"))
            break
        last = exe.steps
    if exe.outcome.kind != "ok":
        exe.abort_and_join(0.2 if exe.outcome.kind == "stuck" else 5.0)
    else:
        for t in exe.threads:
            t.real.join(5.0)
    return exe


def model(
    body: Callable[[], Any],
    *,
    mode: str = "dfs",
    max_preemptions: int | None = None,
    iterations: int = 1000,
    seed: int | None = None,
    depth: int = 3,
    max_steps: int = DEFAULT_MAX_STEPS,
    max_executions: int | None = None,
    replay: str | None = None,
    spin_threshold: int | None = 2,
    stall_timeout: float = 10.0,
) -> Report:
    """Run ``body`` under the model checker; raise ``ModelFailure`` if any execution fails.

    ``mode`` is "dfs" (bounded exhaustive), "random" or "pct" (``iterations``
    executions from ``seed``; ``depth`` is PCT's bug depth). ``replay`` (or env
    FREEORDER_REPLAY) runs exactly one recorded schedule. Atomics created while
    it runs come from the ``model`` backend. Returns a ``Report``.
    """
    if _current() is not None:
        raise ModelError("verify.model() cannot be nested inside a model thread")
    if mode not in ("dfs", "random", "pct"):
        raise ValueError(f"mode={mode!r}: expected 'dfs', 'random' or 'pct'")
    replay = replay if replay is not None else os.environ.get(ENV_REPLAY) or None
    bound = _max_preemptions(max_preemptions) if mode == "dfs" and replay is None else None
    if seed is None and mode != "dfs":
        seed = random.randrange(2**32)
    rng = random.Random(seed)
    started = time.perf_counter()
    executions = pruned = max_seen = 0
    dfs = _DFS(bound) if bound is not None else None
    pct_length = 50
    complete = True
    with atomic.use_backend("model"):
        while True:
            if replay is not None:
                chooser = _Replay(decode_schedule(replay))
            elif dfs is not None:
                dfs.start()
                chooser = dfs
            elif mode == "random":
                chooser = _Random(rng)
            else:
                chooser = _PCT(rng, depth, pct_length)
            exe = _run_one(body, chooser, max_steps, spin_threshold, stall_timeout)
            executions += 1
            max_seen = max(max_seen, exe.steps)
            pct_length = max(pct_length, exe.steps)
            out = exe.outcome
            if out.kind == "pruned":
                pruned += 1
            elif out.kind == "error":
                raise out.exc
            elif out.kind != "ok":
                raise _failure(out, exe, executions, mode if replay is None else "replay", seed)
            if replay is not None:
                break
            if dfs is not None:
                if not dfs.advance():
                    break
            elif executions >= iterations:
                break
            if max_executions is not None and executions >= max_executions:
                complete = dfs is None
                break
    return Report(mode if replay is None else "replay", executions, pruned, bound, seed, max_seen,
                  time.perf_counter() - started, complete)


def _failure(out: _Outcome, exe: _Execution, n: int, mode: str, seed: int | None) -> ModelFailure:
    schedule = encode_schedule(exe.choices)
    where = f" in thread {out.thread}" if out.thread is not None else ""
    how = f"mode={mode}" + (f", seed={seed}" if seed is not None and mode in ("random", "pct") else "")
    msg = (
        f"model check failed: {out.kind}{where} (execution {n}, {how}, {exe.steps} steps, "
        f"{exe.preemptions} preemptions)\n"
        f"{out.message.rstrip()}\n"
        f'schedule: "{schedule}"\n'
        f'replay it: verify.model(body, replay="{schedule}")  or  {ENV_REPLAY}="{schedule}" pytest ...'
    )
    err = ModelFailure(msg, out.kind, out.thread, schedule, n)
    if out.exc is not None:
        err.__cause__ = out.exc
    return err


# ---- the model atomics backend --------------------------------------------------------


def _access(key, kind: int, apply: Callable[[], tuple[int, bool]]):
    """Perform ``apply`` (returning (result, wrote)) as one scheduled step, or plainly outside a model."""
    t = getattr(_tls, "mthread", None)
    if t is not None:
        exe = t.exe
        exe.point(t, (kind, key))
        result, wrote = apply()
        exe.after_op(t, key, wrote)
        return result
    with _plain_lock:
        return apply()[0]


_RMW_FUNCS = {
    "fetch_add": lambda a, b: wrap64(a + b),
    "fetch_sub": lambda a, b: wrap64(a - b),
    "fetch_and": lambda a, b: a & b,
    "fetch_or": lambda a, b: a | b,
    "fetch_xor": lambda a, b: a ^ b,
    "swap": lambda a, b: b,
}


class _Cells:
    """Storage shared by the two model types: a list of ints, index-addressed."""

    __slots__ = ("_v",)

    def _key(self, i: int):
        return (id(self), i)

    def _load(self, i, order):
        as_order(order, "load")
        v = self._v
        return _access(self._key(i), _READ, lambda: (v[i], False))

    def _store(self, i, value, order):
        x = as_int64(value)
        as_order(order, "store")
        v = self._v

        def apply():
            v[i] = x
            return None, True

        _access(self._key(i), _WRITE, apply)

    def _rmw(self, name, i, value, order):
        x = as_int64(value)
        as_order(order, "rmw")
        v, f = self._v, _RMW_FUNCS[name]

        def apply():
            old = v[i]
            v[i] = f(old, x)
            return old, True

        return _access(self._key(i), _WRITE, apply)

    def _cas(self, i, expected, desired, order, failure, weak):
        e, d = as_int64(expected, "expected"), as_int64(desired, "desired")
        cas_orders(order, failure)
        bool(weak)
        v = self._v

        def apply():
            old = v[i]
            if old == e:
                v[i] = d
                return old, True
            return old, False

        return _access(self._key(i), _WRITE, apply)


class AtomicInt(_Cells):
    """A model int64 cell: the native ``AtomicInt`` API; each operation is a scheduling point."""

    __slots__ = ()

    def __init__(self, value=0):
        self._v = [as_int64(value)]

    def _key(self, i):
        return id(self)

    def __repr__(self) -> str:
        return f"AtomicInt({self._v[0]})"

    def load(self, order=SEQ_CST):
        return self._load(0, order)

    def store(self, value, order=SEQ_CST):
        self._store(0, value, order)

    def swap(self, value, order=SEQ_CST):
        return self._rmw("swap", 0, value, order)

    def compare_exchange(self, expected, desired, order=SEQ_CST, failure=None, weak=False):
        return self._cas(0, expected, desired, order, failure, weak)

    def compare_exchange_weak(self, expected, desired, order=SEQ_CST, failure=None):
        return self._cas(0, expected, desired, order, failure, True)

    def fetch_add(self, value, order=SEQ_CST):
        return self._rmw("fetch_add", 0, value, order)

    def fetch_sub(self, value, order=SEQ_CST):
        return self._rmw("fetch_sub", 0, value, order)

    def fetch_and(self, value, order=SEQ_CST):
        return self._rmw("fetch_and", 0, value, order)

    def fetch_or(self, value, order=SEQ_CST):
        return self._rmw("fetch_or", 0, value, order)

    def fetch_xor(self, value, order=SEQ_CST):
        return self._rmw("fetch_xor", 0, value, order)


class AtomicIntArray(_Cells):
    """A model array of int64 cells: the native ``AtomicIntArray`` API, one scheduling point per cell access."""

    __slots__ = ("reserved",)

    def __init__(self, length, fill=0, *, reserve=None):
        n = as_int64(length, "length")
        if n < 0:
            raise ValueError(f"length={length!r} must be >= 0 and fit in memory")
        f = as_int64(fill, "fill")
        self.reserved = check_reserve(n, f, reserve)
        self._v = [f] * n

    def grow(self, length):
        """Raise the length (new cells read 0). Not a scheduling point: it changes no cell's value."""
        n = check_grow(length, self.reserved)
        if len(self._v) < n:
            self._v.extend([0] * (n - len(self._v)))
        return len(self._v)

    def __len__(self) -> int:
        return len(self._v)

    def __repr__(self) -> str:
        return f"AtomicIntArray(length={len(self._v)})"

    def load(self, index, order=SEQ_CST):
        return self._load(as_index(index, len(self._v)), order)

    def store(self, index, value, order=SEQ_CST):
        self._store(as_index(index, len(self._v)), value, order)

    def swap(self, index, value, order=SEQ_CST):
        return self._rmw("swap", as_index(index, len(self._v)), value, order)

    def compare_exchange(self, index, expected, desired, order=SEQ_CST, failure=None, weak=False):
        return self._cas(as_index(index, len(self._v)), expected, desired, order, failure, weak)

    def compare_exchange_weak(self, index, expected, desired, order=SEQ_CST, failure=None):
        return self._cas(as_index(index, len(self._v)), expected, desired, order, failure, True)

    def fetch_add(self, index, value, order=SEQ_CST):
        return self._rmw("fetch_add", as_index(index, len(self._v)), value, order)

    def fetch_sub(self, index, value, order=SEQ_CST):
        return self._rmw("fetch_sub", as_index(index, len(self._v)), value, order)

    def fetch_and(self, index, value, order=SEQ_CST):
        return self._rmw("fetch_and", as_index(index, len(self._v)), value, order)

    def fetch_or(self, index, value, order=SEQ_CST):
        return self._rmw("fetch_or", as_index(index, len(self._v)), value, order)

    def fetch_xor(self, index, value, order=SEQ_CST):
        return self._rmw("fetch_xor", as_index(index, len(self._v)), value, order)

    def to_list(self) -> list[int]:
        """Acquire-load every cell in order (one scheduling point each; not one snapshot)."""
        return [self._load(i, 1) for i in range(len(self._v))]


def fence(order=SEQ_CST) -> None:
    """A fence: validated, and a no-op under the model's sequential consistency."""
    as_order(order, "rmw")


def thread_index() -> int:
    """The model thread id inside a model execution (deterministic across replays);
    outside one, the native per-thread index. Not a scheduling point: it reads no shared cell."""
    t = _current()
    if t is not None:
        return t.tid
    from freeorder import _atomics

    return _atomics.thread_index()


def load_backend() -> types.SimpleNamespace:
    """The ``model`` backend object, for ``atomic.register_backend("model", load_backend)``."""
    return types.SimpleNamespace(name="model", AtomicInt=AtomicInt, AtomicIntArray=AtomicIntArray, fence=fence,
                                 thread_index=thread_index)
