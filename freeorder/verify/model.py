"""The model checker: a ``model`` atomics backend, a one-thread-at-a-time scheduler, explorers.

``model(body)`` runs ``body`` as model thread 0; threads it starts with
``spawn(fn)`` are model threads 1, 2, ... Each model thread is a real
``threading.Thread`` (so ``threading.local`` and ``threading.get_ident`` work),
but a token passed between them lets exactly one run at a time. Every
operation on a model atomic, ``spawn``, ``JoinHandle.join``,
``yield_point()`` and (under ``memory="c11"``) a SEQ_CST fence is a
*scheduling point*: the thread announces the operation (which cell, read or
write) and waits until the scheduler picks it. A *step* is one announced
operation plus the plain Python code after it, up to the thread's next
scheduling point. The body is re-run from scratch for every explored
execution, so it must build its state inside ``body`` and be deterministic
given the schedule.

Memory models (``memory=``, or env ``FREEORDER_MEMORY``):

- ``"sc"`` (default): sequential consistency. Every operation acts on one
  global memory in the order the scheduler picks; orders are validated as C11
  does but otherwise ignored. Right for logic bugs (ABA, lost updates, a
  missing re-check), blind to a missing RELEASE or ACQUIRE.
- ``"c11"``: the C11 memory model of ``freeorder.verify.c11``. A load may
  read any store happens-before and coherence do not hide from it, and the
  explorer branches on which (a *memory choice*); RELEASE/ACQUIRE pairs,
  read-modify-writes, fences and the SEQ_CST order create the edges C11
  defines, so a too-weak order shows up as a failing execution, as it would
  on ARM or POWER. Payloads of the arena (``NonAtomicList``) are non-atomic
  locations: unordered writes, and using a value read racily, fail as a data
  race (``strict_races=True``: a write after an unordered read too). ``c11``
  documents where the model differs from C11.

Exploration modes:

- ``dfs`` (default): every schedule with at most ``max_preemptions``
  preemptions (a switch away from a thread that could have continued; env
  ``FREEORDER_MAX_PREEMPTIONS``, default 2) and, under ``c11``, at most
  ``max_stale`` stale memory choices (a load reading, or a store placed
  before, a store other than the newest; env ``FREEORDER_MAX_STALE``, default 1),
  depth first, with *sleep sets*: after exploring thread ``t`` at a point,
  sibling branches do not re-run ``t`` until a step dependent on ``t``'s
  pending operation runs (two operations are dependent when they touch the
  same cell and one writes; spawns conflict with spawns, yield_point and
  SEQ_CST fences with everything). Sleep sets prune only schedules
  equivalent to one already explored, but under a preemption bound the
  explored representative may be the one over the bound, so ``sc``'s
  ``"full"`` sleep sets can miss a bug within the bound; ``c11`` uses the
  ``"sound"`` variant, which cannot (``sleep_sets=``, see ``explore.DFS``).
- ``random``: ``iterations`` executions, each thread (and memory) choice uniform (seeded).
- ``pct``: Probabilistic Concurrency Testing (Burckhardt et al. 2010): random
  thread priorities and ``depth - 1`` random priority-change points (seeded).

Spinning: ``yield_point()`` marks the calling thread as waiting: it is not
scheduled again until another thread takes a step (as ``loom::thread::yield_now``).
A thread that reads the same cell more than ``spin_threshold`` times with no
write by anyone in between is treated the same way (spin detection, so spin
loops in code that cannot call ``yield_point`` terminate); if nothing else
can run it continues.

Failures (raised as ``ModelFailure`` with the schedule and how to replay it):
an exception in any thread (a failed ``assert`` included), a data race
(``c11``), a deadlock (no thread can run but some have not finished: joins
that never return, or threads that ``yield_point()`` while nobody else can
run), a livelock (more than ``max_steps`` steps in one execution), and a
thread stuck outside the model (blocked on a real lock or event for
``stall_timeout`` seconds).

The schedule string (``freeorder.verify.schedule``) lists the thread picked at
each point where more than one thread could run, and under ``c11`` the memory
choices (``r1``: a load read the second-newest store it could), run-length
encoded: ``"0x3.1.r1.2x2"``. ``model(body, replay=s)`` or env
``FREEORDER_REPLAY=s`` re-runs exactly that execution (with the same
``memory`` and ``orders``).

Order overrides (tests): ``orders={site: order}`` runs the operation at a
source site (``freeorder.verify.sites``) with another order, so a test can
weaken one ordering of the product and see whether the model catches it.

Limits: plain Python objects shared between threads, other than the arena
payloads, are invisible to the scheduler (a step's plain code runs
atomically with its operation), so share state through atomics; real
blocking primitives (``threading.Lock``) inside model threads stall the model.

Layout (after loom's ``rt/``): ``schedule`` (the codec), ``execution`` (threads
and the scheduler), ``explore`` (DFS, replay, random, PCT), ``c11`` (the
memory model), ``sites`` (call sites, overrides), this module (the API and
the ``model`` atomics backend).
"""

from __future__ import annotations

import os
import random
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from freeorder import atomic
from freeorder.atomic._checks import (
    as_index,
    as_int64,
    as_order,
    cas_orders,
    check_grow,
    check_reserve,
    default_failure,
    wrap64,
)
from freeorder.atomic._orders import SEQ_CST, MemoryOrder

from . import c11
from .execution import (
    _FENCE,
    _GLOBAL,
    _JOIN,
    _READ,
    _SPAWN,
    _WRITE,
    DataRace,
    ModelFailure,
    _Execution,
    _MThread,
    _Outcome,
    _tls,
)
from .explore import DFS, PCT, SLEEP_SETS, RandomChooser, Replay
from .schedule import ModelError, Pick, decode_schedule, encode_schedule
from .sites import Orders, where

ENV_MAX_PREEMPTIONS = "FREEORDER_MAX_PREEMPTIONS"
ENV_MAX_STALE = "FREEORDER_MAX_STALE"
ENV_MEMORY = "FREEORDER_MEMORY"
ENV_REPLAY = "FREEORDER_REPLAY"
DEFAULT_MAX_PREEMPTIONS = 2
DEFAULT_MAX_STALE = 1
DEFAULT_MAX_STEPS = 10_000
MEMORY_MODELS = ("sc", "c11")

_plain_lock = threading.Lock()  # serialises model atomics used outside a running model

__all__ = [
    "DataRace", "ENV_MAX_PREEMPTIONS", "ENV_MAX_STALE", "ENV_MEMORY", "ENV_REPLAY", "JoinHandle", "ModelError",
    "ModelFailure", "NonAtomicList", "Pick", "Report", "current_thread_id", "decode_schedule", "encode_schedule",
    "model", "spawn", "yield_point",
]


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
    memory: str = "sc"
    max_stale: int | None = None  # c11: the stale-choice bound
    sites: dict | None = None  # record_sites: site -> orders the code passed there
    overridden: dict | None = None  # orders: overridden site reached -> orders the code passed there


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
        if t.exe.mem is not None:
            t.exe.mem.joined(t.mem, self._t.mem)
        return self._t.result


def spawn(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> JoinHandle:
    """Start ``fn(*args, **kwargs)`` as a new model thread (like ``loom::thread::spawn``)."""
    t = _current()
    if t is None:
        raise ModelError("spawn() must be called inside verify.model(body)")
    t.exe.point(t, (_SPAWN, None))
    return JoinHandle(t.exe.new_thread(fn, args, kwargs, parent=t))


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


def _env_int(value: int | None, env: str, default: int) -> int:
    if value is not None:
        return value
    text = os.environ.get(env)
    return int(text) if text else default


def _run_one(body, chooser, max_steps, spin_threshold, stall_timeout, mem, max_stale, orders) -> _Execution:
    exe = _Execution(chooser, max_steps, spin_threshold, mem, max_stale, orders)
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
    memory: str | None = None,
    max_preemptions: int | None = None,
    max_stale: int | None = None,
    iterations: int = 1000,
    seed: int | None = None,
    depth: int = 3,
    max_steps: int = DEFAULT_MAX_STEPS,
    max_executions: int | None = None,
    replay: str | None = None,
    spin_threshold: int | None = 2,
    stall_timeout: float = 10.0,
    orders: dict[str, int] | None = None,
    record_sites: bool = False,
    history: int = c11.HISTORY,
    sleep_sets: str | None = None,
    strict_races: bool = False,
) -> Report:
    """Run ``body`` under the model checker; raise ``ModelFailure`` if any execution fails.

    ``mode`` is "dfs" (bounded exhaustive), "random" or "pct" (``iterations``
    executions from ``seed``; ``depth`` is PCT's bug depth). ``memory`` is
    "sc" or "c11" (env FREEORDER_MEMORY; default "sc"); ``max_stale`` bounds
    the stale memory choices per execution under "c11" and ``history`` the
    stores kept per location. ``replay`` (or env FREEORDER_REPLAY) runs
    exactly one recorded schedule. ``orders`` overrides the order of
    operations at the given sites (c11 only) and ``record_sites`` records the
    sites reached (see ``freeorder.verify.sites``). ``sleep_sets`` (dfs) is
    "full", "sound" or "off" (default: "full" for "sc", "sound" for "c11";
    see ``explore.DFS``). ``strict_races`` (c11) also reports a non-atomic write
    after a read it is not ordered with (see ``c11``). Atomics created while
    it runs come from the ``model`` backend. Returns a ``Report``.
    """
    if _current() is not None:
        raise ModelError("verify.model() cannot be nested inside a model thread")
    if mode not in ("dfs", "random", "pct"):
        raise ValueError(f"mode={mode!r}: expected 'dfs', 'random' or 'pct'")
    memory = memory if memory is not None else os.environ.get(ENV_MEMORY) or "sc"
    if memory not in MEMORY_MODELS:
        raise ValueError(f"memory={memory!r}: expected 'sc' or 'c11'")
    if orders and memory != "c11":
        raise ValueError("orders= overrides memory orders, which only memory='c11' distinguishes")
    if type(history) is not int or history < 1:
        raise ValueError(f"history={history!r} must be an int >= 1")
    stale = _env_int(max_stale, ENV_MAX_STALE, DEFAULT_MAX_STALE) if memory == "c11" else 0
    if stale < 0:
        raise ValueError(f"max_stale={stale!r} must be >= 0")
    replay = replay if replay is not None else os.environ.get(ENV_REPLAY) or None
    bound = _env_int(max_preemptions, ENV_MAX_PREEMPTIONS, DEFAULT_MAX_PREEMPTIONS) \
        if mode == "dfs" and replay is None else None
    if seed is None and mode != "dfs":
        seed = random.randrange(2**32)
    rng = random.Random(seed)
    hooks = Orders(orders, record_sites) if orders or record_sites else None
    started = time.perf_counter()
    executions = pruned = max_seen = 0
    sleep = sleep_sets if sleep_sets is not None else "full" if memory == "sc" else "sound"
    if sleep not in SLEEP_SETS:
        raise ValueError(f"sleep_sets={sleep!r}: expected one of {', '.join(map(repr, SLEEP_SETS))}")
    dfs = DFS(bound, sleep) if bound is not None else None
    pct_length = 50
    complete = True
    with atomic.use_backend("model"):
        while True:
            if replay is not None:
                chooser = Replay(decode_schedule(replay))
            elif dfs is not None:
                dfs.start()
                chooser = dfs
            elif mode == "random":
                chooser = RandomChooser(rng)
            else:
                chooser = PCT(rng, depth, pct_length)
            mem = c11.Memory(history, strict_races) if memory == "c11" else None
            exe = _run_one(body, chooser, max_steps, spin_threshold, stall_timeout, mem, stale, hooks)
            executions += 1
            max_seen = max(max_seen, exe.steps)
            pct_length = max(pct_length, exe.steps)
            out = exe.outcome
            if out.kind == "pruned":
                pruned += 1
            elif out.kind == "error":
                raise out.exc
            elif out.kind != "ok":
                raise _failure(out, exe, executions, mode if replay is None else "replay", seed, memory, hooks)
            if replay is not None:
                if chooser.i < len(chooser.choices):
                    raise ModelError(f"the execution ended after {chooser.i} of the schedule's {len(chooser.choices)} "
                                     "choices: it is not a schedule of this test (or not of this memory model)")
                break
            if dfs is not None:
                if not dfs.advance(stale):
                    break
            elif executions >= iterations:
                break
            if max_executions is not None and executions >= max_executions:
                complete = dfs is None
                break
    return Report(mode if replay is None else "replay", executions, pruned, bound, seed, max_seen,
                  time.perf_counter() - started, complete, memory, stale if memory == "c11" else None,
                  None if hooks is None or hooks.record is None else hooks.record,
                  None if hooks is None else hooks.hit)


def _failure(out: _Outcome, exe: _Execution, n: int, mode: str, seed: int | None, memory: str,
             hooks: Orders | None) -> ModelFailure:
    schedule = encode_schedule(exe.choices)
    where_ = f" in thread {out.thread}" if out.thread is not None else ""
    how = f"mode={mode}" + (f", seed={seed}" if seed is not None and mode in ("random", "pct") else "")
    mem = ""
    args = ""
    if memory == "c11":
        how += f", memory=c11, {exe.stale} stale choices"
        args = 'memory="c11", '
        if hooks is not None and hooks.overrides:
            args += "orders=<the same overrides>, "
        if exe.stale_notes:
            mem = "stale memory choices:\n" + "".join(f"  {note}\n" for note in exe.stale_notes)
    msg = (
        f"model check failed: {out.kind}{where_} (execution {n}, {how}, {exe.steps} steps, "
        f"{exe.preemptions} preemptions)\n"
        f"{out.message.rstrip()}\n"
        f"{mem}"
        f'schedule: "{schedule}"\n'
        f'replay it: verify.model(body, {args}replay="{schedule}")  or  {ENV_REPLAY}="{schedule}" pytest ...'
    )
    err = ModelFailure(msg, out.kind, out.thread, schedule, n)
    if out.exc is not None:
        err.__cause__ = out.exc
    return err


# ---- the model atomics backend --------------------------------------------------------


_RMW_FUNCS = {
    "fetch_add": lambda a, b: wrap64(a + b),
    "fetch_sub": lambda a, b: wrap64(a - b),
    "fetch_and": lambda a, b: a & b,
    "fetch_or": lambda a, b: a | b,
    "fetch_xor": lambda a, b: a ^ b,
    "swap": lambda a, b: b,
}


def _valid_orders(kind: str) -> dict:
    valid = {}
    for mo in MemoryOrder:
        try:
            valid[int(mo)] = as_order(mo, kind)
        except ValueError:
            pass
    return valid


_VALID = {kind: _valid_orders(kind) for kind in ("load", "store", "rmw")}


def _order(order, kind: str):
    """``as_order`` with a table lookup first (an enum call costs microseconds on 3.13t)."""
    if type(order) is int or type(order) is MemoryOrder:
        mo = _VALID[kind].get(order)
        if mo is not None:
            return mo
    return as_order(order, kind)


def _born():
    """(memory, thread, clock) of an object made inside a c11 execution, else None."""
    t = _current()
    if t is None or t.mem is None:
        return None
    return (t.exe.mem, t.tid, t.mem.vc[t.tid])


class _Cells:
    """Storage shared by the two model types: a list of ints, index-addressed.

    ``_v`` holds each cell's value (under c11: the value of its mo-newest
    store); under c11 each cell also has a ``c11.Loc`` per execution, made on
    first use (``_locs``, for the execution whose memory is ``_mem``).
    """

    __slots__ = ("_v", "_mem", "_locs", "_made")

    def _key(self, i: int):
        return (id(self), i)

    def _loc(self, i: int, mem: c11.Memory) -> c11.Loc:
        if self._mem is not mem:
            self._mem, self._locs = mem, {}
        loc = self._locs.get(i)
        if loc is None:
            made = self._made
            tid, stamp = (made[1], made[2]) if made is not None and made[0] is mem else (-1, 0)
            loc = self._locs[i] = c11.Loc(self._v[i], tid, stamp)
        return loc

    def _enter(self, i: int, kind: int):
        """The running model thread, after its scheduling point for this access; None outside a model."""
        t = getattr(_tls, "mthread", None)
        if t is not None:
            t.exe.point(t, (kind, self._key(i)))
        return t

    def _load(self, i, order, op="load"):
        mo = _order(order, "load")
        t = self._enter(i, _READ)
        if t is None:
            with _plain_lock:
                return self._v[i]
        exe = t.exe
        if exe.orders is not None:
            mo = exe.orders.apply(op, mo)
        mem = exe.mem
        if mem is None:
            value = self._v[i]
        else:
            loc = self._loc(i, mem)
            options = mem.readable(t.mem, loc, mo)
            msgs = loc.msgs

            def describe(k):
                return (f"thread {t.tid} {op} at {where()} read {msgs[options[-1 - k]].value} "
                        f"(newest it could read: {msgs[options[-1]].value})")

            k = exe.pick("r", len(options), describe)
            value = mem.load(t.mem, loc, options[-1 - k], mo)
        exe.after_op(t, self._key(i), False)
        return value

    def _store(self, i, value, order, op="store"):
        x = as_int64(value)
        mo = _order(order, "store")
        t = self._enter(i, _WRITE)
        if t is None:
            with _plain_lock:
                self._v[i] = x
            return
        exe = t.exe
        if exe.orders is not None:
            mo = exe.orders.apply(op, mo)
        mem = exe.mem
        if mem is None:
            self._v[i] = x
        else:
            loc = self._loc(i, mem)
            places = mem.places(t.mem, loc, mo)

            def describe(k):
                return f"thread {t.tid} {op} of {x} at {where()} went {k} store(s) before the newest"

            k = exe.pick("w", len(places), describe)
            mem.store(t.mem, loc, places[-1 - k], x, mo)
            self._v[i] = loc.msgs[-1].value
        exe.after_op(t, self._key(i), True)

    def _rmw(self, name, i, value, order):
        x = as_int64(value)
        mo = _order(order, "rmw")
        f = _RMW_FUNCS[name]
        t = self._enter(i, _WRITE)
        if t is None:
            with _plain_lock:
                old = self._v[i]
                self._v[i] = f(old, x)
                return old
        exe = t.exe
        if exe.orders is not None:
            mo = exe.orders.apply(name, mo)
        if exe.mem is None:
            old = self._v[i]
            self._v[i] = f(old, x)
        else:
            loc = self._loc(i, exe.mem)
            old, _ = exe.mem.rmw(t.mem, loc, lambda o: f(o, x), mo)
            self._v[i] = loc.msgs[-1].value
        exe.after_op(t, self._key(i), True)
        return old

    def _cas(self, i, expected, desired, order, failure, weak, op="compare_exchange"):
        e, d = as_int64(expected, "expected"), as_int64(desired, "desired")
        if failure is None:
            success = _order(order, "rmw")
            fail = default_failure(success)
        else:
            success, fail = cas_orders(order, failure)
        bool(weak)
        t = self._enter(i, _WRITE)
        if t is None:
            with _plain_lock:
                old = self._v[i]
                if old == e:
                    self._v[i] = d
                return old
        exe = t.exe
        if exe.orders is not None:
            success, fail = exe.orders.apply_cas(op, success, fail)
        if exe.mem is None:
            old = self._v[i]
            wrote = old == e
            if wrote:
                self._v[i] = d
        else:
            loc = self._loc(i, exe.mem)
            old, wrote = exe.mem.rmw(t.mem, loc, lambda o: d if o == e else None, success, fail)
            self._v[i] = loc.msgs[-1].value
        exe.after_op(t, self._key(i), wrote)
        return old


class AtomicInt(_Cells):
    """A model int64 cell: the native ``AtomicInt`` API; each operation is a scheduling point."""

    __slots__ = ()

    def __init__(self, value=0):
        self._v = [as_int64(value)]
        self._mem = self._locs = None
        self._made = _born()

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
        return self._cas(0, expected, desired, order, failure, True, "compare_exchange_weak")

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
        self._mem = self._locs = None
        self._made = _born()

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
        return self._cas(as_index(index, len(self._v)), expected, desired, order, failure, True,
                         "compare_exchange_weak")

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
        return [self._load(i, 1, "to_list") for i in range(len(self._v))]


def fence(order=SEQ_CST) -> None:
    """A fence: validated; under c11 it acts as C11 defines (a SEQ_CST fence is a scheduling point),
    under sc it is a no-op."""
    mo = _order(order, "rmw")
    t = _current()
    if t is None:
        return
    exe = t.exe
    if exe.orders is not None:
        mo = exe.orders.apply("fence", mo)
    if exe.mem is None:
        return
    if mo == SEQ_CST:
        exe.point(t, (_FENCE, None))
    exe.mem.fence(t.mem, mo)


class NonAtomicList(list):
    """A Python list whose items are non-atomic locations of the c11 model (the arena payloads).

    The arena makes its payload list with the backend's ``NonAtomicList``
    when the backend has one (only the model backend does, so native runs
    keep a plain list and pay nothing). Under ``memory="c11"`` every
    ``lst[i]`` read and ``lst[i] = x`` write is checked against the item's
    last write: two writes not ordered by happens-before raise ``DataRace``;
    a read not ordered after the last write returns a ``c11.Racy`` value
    (using it raises ``DataRace``). Under c11 each item access is a scheduling
    point (so a read can be scheduled after a racing write, as a delayed load
    would see it); under ``memory="sc"`` and outside a model it is a plain list.
    """

    __slots__ = ("_mem", "_cells", "_site")

    def __init__(self, items=()):
        super().__init__(items)
        self._mem = None
        self._cells: dict = {}  # index -> c11.Plain, for the execution whose memory is _mem
        self._site = where() if _current() is not None else "?"

    def _racy_where(self, i: int) -> str:
        return f"item {i} of the non-atomic list made at {self._site}"

    def _cell(self, i: int, mem: c11.Memory) -> c11.Plain:
        if self._mem is not mem:
            self._mem, self._cells = mem, {}
        cell = self._cells.get(i)
        if cell is None:
            cell = self._cells[i] = c11.Plain()
        return cell

    def __getitem__(self, i):
        t = getattr(_tls, "mthread", None)
        if t is None or t.mem is None or type(i) is not int:
            return list.__getitem__(self, i)
        i = i if i >= 0 else i + len(self)
        exe = t.exe
        exe.point(t, (_READ, (id(self), i)))
        value = list.__getitem__(self, i)
        return exe.mem.plain_read(t.mem, self._cell(i, exe.mem), value, lambda: self._racy_where(i), exe.steps)

    def __setitem__(self, i, value):
        t = getattr(_tls, "mthread", None)
        if t is not None and t.mem is not None and type(i) is int:
            i = i if i >= 0 else i + len(self)
            exe = t.exe
            exe.point(t, (_WRITE, (id(self), i)))
            exe.mem.plain_write(t.mem, self._cell(i, exe.mem), lambda: self._racy_where(i), exe.steps)
            exe.after_op(t, None, True)
        list.__setitem__(self, i, value)


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
                                 thread_index=thread_index, NonAtomicList=NonAtomicList)

