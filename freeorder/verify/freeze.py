"""Freeze test: stop one real thread mid-operation and check that the others still finish.

This is the observable part of lock-freedom (non-blocking progress): a thread
paused at any point — preempted, page-faulted, descheduled — must not stop
the others. ``freeze_test`` builds the structure with ``setup()`` on the
``freeze`` backend (native atomics wrapped so the victim thread's operations
are counted), runs ``victim_op(state)`` on a victim thread and freezes it just
before its ``freeze_at``-th atomic operation (or ``freeze_point()`` call),
then runs each of ``other_ops`` on its own thread (started together on a
barrier) and waits up to ``timeout`` seconds for them. Then it releases the
victim and checks it completes too. Invariant: while frozen, the victim has
performed exactly ``freeze_at - 1`` counted operations.

Only atomics created by ``setup()`` are wrapped. A structure that blocks (a
lock held across the frozen point) is reported, not hung: the victim is
released after the timeout so the blocked threads can finish.
"""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from freeorder import atomic

_guard = threading.Lock()  # one freeze test at a time: the victim state below is global


class _Victim:
    def __init__(self, ident: int, freeze_at: int):
        self.ident = ident
        self.freeze_at = freeze_at
        self.count = 0
        self.frozen = threading.Event()
        self.release = threading.Event()


_victim: _Victim | None = None


def _tick() -> None:
    v = _victim
    if v is not None and threading.get_ident() == v.ident:
        v.count += 1
        if v.count == v.freeze_at:
            v.frozen.set()
            v.release.wait()


def freeze_point() -> None:
    """An explicit hook: counts as one operation of the victim (no-op in other threads)."""
    _tick()


_INT_METHODS = ("load", "store", "swap", "compare_exchange", "compare_exchange_weak",
                "fetch_add", "fetch_sub", "fetch_and", "fetch_or", "fetch_xor")


def _counted(name: str):
    def method(self, *args, **kwargs):
        _tick()
        return getattr(self._inner, name)(*args, **kwargs)

    method.__name__ = name
    return method


class FreezeInt:
    """A native AtomicInt whose every operation is counted for the victim thread."""

    __slots__ = ("_inner",)

    def __init__(self, value=0):
        self._inner = atomic.load_backend("native").AtomicInt(value)

    def __repr__(self) -> str:
        return repr(self._inner)


class FreezeIntArray:
    """A native AtomicIntArray whose every operation is counted for the victim thread."""

    __slots__ = ("_inner",)

    def __init__(self, length, fill=0, *, reserve=None):
        native = atomic.load_backend("native").AtomicIntArray
        self._inner = native(length, fill) if reserve is None else native(length, fill, reserve=reserve)

    def __len__(self) -> int:
        return len(self._inner)

    @property
    def reserved(self) -> int:
        return self._inner.reserved

    def __repr__(self) -> str:
        return repr(self._inner)

    def to_list(self):
        _tick()
        return self._inner.to_list()


for _name in _INT_METHODS:
    setattr(FreezeInt, _name, _counted(_name))
    setattr(FreezeIntArray, _name, _counted(_name))
FreezeIntArray.grow = _counted("grow")  # an atomic fetch-max of the usable length


def _fence(order=atomic.SEQ_CST) -> None:
    _tick()
    atomic.load_backend("native").fence(order)


def load_backend() -> types.SimpleNamespace:
    """The ``freeze`` backend: native atomics, counted per victim thread."""
    # thread_index touches no shared memory (a C thread-local): not a freeze point
    thread_index = atomic.load_backend("native").thread_index
    return types.SimpleNamespace(name="freeze", AtomicInt=FreezeInt, AtomicIntArray=FreezeIntArray, fence=_fence,
                                 thread_index=thread_index)


@dataclass
class FreezeReport:
    """What happened. ``ok``: the victim froze, every other op finished meanwhile, then the victim."""

    frozen: bool
    freeze_at: int
    others_completed: list[bool]  # finished while the victim was frozen
    others_completed_after_release: list[bool]
    victim_completed: bool
    timeout: float
    errors: list[str] = field(default_factory=list)
    victim_result: Any = None
    other_results: list[Any] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        """Some other operation could not finish while the victim was frozen."""
        return self.frozen and not all(self.others_completed)

    @property
    def ok(self) -> bool:
        return self.frozen and all(self.others_completed) and self.victim_completed and not self.errors

    def explain(self) -> str:
        if not self.frozen:
            return (f"the victim never reached its operation {self.freeze_at} "
                    "(it finished first, or did not use atomics from setup())")
        lines = []
        if self.ok:
            lines.append(f"non-blocking: with the victim frozen before its operation {self.freeze_at}, "
                         f"all {len(self.others_completed)} other operations completed; then the victim did")
        if self.blocking:
            stuck = [i for i, done in enumerate(self.others_completed) if not done]
            lines.append(f"blocking: other operations {stuck} did not complete within {self.timeout} s "
                         f"while the victim was frozen before its operation {self.freeze_at}")
        if not self.victim_completed:
            lines.append(f"the victim did not complete within {self.timeout} s after release")
        lines += [f"error: {e}" for e in self.errors]
        return "\n".join(lines)


def freeze_test(
    setup: Callable[[], Any],
    victim_op: Callable[[Any], Any],
    other_ops: Sequence[Callable[[Any], Any]],
    *,
    freeze_at: int = 1,
    timeout: float = 2.0,
) -> FreezeReport:
    """Run the freeze experiment described in the module docstring; returns a ``FreezeReport``."""
    global _victim
    if freeze_at < 1:
        raise ValueError(f"freeze_at={freeze_at!r} must be >= 1")
    if not _guard.acquire(blocking=False):
        raise RuntimeError("freeze_test is already running in another thread")
    try:
        with atomic.use_backend("freeze"):
            state = setup()
        errors: list[str] = []
        victim_out: list[Any] = []
        ready = threading.Event()
        holder: list[_Victim] = []

        def victim_main():
            global _victim
            v = _Victim(threading.get_ident(), freeze_at)
            holder.append(v)
            _victim = v
            ready.set()
            try:
                victim_out.append(victim_op(state))
            except BaseException as exc:  # noqa: BLE001 - reported
                errors.append(f"victim: {exc!r}")
            finally:
                v.frozen.set()  # wake the controller if the victim never froze

        victim = threading.Thread(target=victim_main, daemon=True, name="freeze-victim")
        victim.start()
        ready.wait(timeout)
        v = holder[0]
        v.frozen.wait(timeout)
        frozen = victim.is_alive() and v.count == freeze_at
        n = len(other_ops)
        done = [threading.Event() for _ in range(n)]
        results: list[Any] = [None] * n
        barrier = threading.Barrier(n) if n else None

        def other_main(i):
            try:
                barrier.wait(timeout)
                results[i] = other_ops[i](state)
            except BaseException as exc:  # noqa: BLE001 - reported
                errors.append(f"other op {i}: {exc!r}")
            finally:
                done[i].set()  # finished, normally or not (errors are reported separately)

        others = [threading.Thread(target=other_main, args=(i,), daemon=True, name=f"freeze-other-{i}")
                  for i in range(n)]
        completed = [False] * n
        if frozen:
            for t in others:
                t.start()
            deadline = time.monotonic() + timeout
            for i in range(n):
                completed[i] = done[i].wait(max(0.0, deadline - time.monotonic()))
        v.release.set()
        victim.join(timeout)
        if not frozen:
            for t in others:
                t.start()
        for t in others:
            t.join(timeout)
        return FreezeReport(
            frozen=frozen,
            freeze_at=freeze_at,
            others_completed=completed,
            others_completed_after_release=[e.is_set() for e in done],
            victim_completed=not victim.is_alive() and not any(e.startswith("victim") for e in errors),
            timeout=timeout,
            errors=errors,
            victim_result=victim_out[0] if victim_out else None,
            other_results=results,
        )
    finally:
        _victim = None
        _guard.release()
