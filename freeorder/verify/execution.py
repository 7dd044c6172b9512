"""One execution of a model: model threads, the token passed between them, the scheduler.

Each model thread is a real ``threading.Thread``; a token (one lock per
thread) lets exactly one run at a time. Invariant: at most one model thread
runs, and it is ``exe.current``. A thread that reaches a scheduling point
(``point``) announces its pending operation and hands the token to the thread
the chooser picks (an explorer from ``explore``, or a replay); the pick is
recorded in ``choices``. Memory choices of the C11 model (``pick``) are
recorded in the same list, so one schedule string replays both.
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass

from .schedule import ModelError, Pick

# Kinds of pending operation, for the dependence relation of the sleep sets.
# _FENCE: a SEQ_CST fence of the C11 model (it orders against every SEQ_CST operation).
_START, _READ, _WRITE, _GLOBAL, _SPAWN, _JOIN, _FENCE = 0, 1, 2, 3, 4, 5, 6

_tls = threading.local()  # .mthread: the model thread running on this real thread, if any


class ModelFailure(AssertionError):
    """An execution of the model failed; ``schedule`` replays it.

    Attributes: ``kind`` ("exception", "race", "deadlock", "livelock", "stuck"),
    ``thread`` (model thread id or None), ``schedule`` (replay string),
    ``execution`` (1-based index of the failing execution).
    """

    def __init__(self, message: str, kind: str, thread: int | None, schedule: str, execution: int):
        super().__init__(message)
        self.kind = kind
        self.thread = thread
        self.schedule = schedule
        self.execution = execution


class DataRace(AssertionError):
    """Two accesses to a non-atomic location (an arena payload) not ordered by happens-before."""


class _Abort(BaseException):
    """Raised inside model threads to unwind them when an execution ends early."""


def current() -> _MThread | None:
    """The model thread running on this real thread, or None."""
    return getattr(_tls, "mthread", None)


class _MThread:
    __slots__ = (
        "tid", "fn", "args", "kwargs", "lock", "real", "pending", "finished", "join_target",
        "yielded", "stalled", "spinning", "result", "exe", "reads", "read_epoch", "mem",
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
        self.mem = None  # the C11 model's per-thread state (memory="c11"), else None
        self.real = threading.Thread(target=exe._run_thread, args=(self,), daemon=True,
                                     name=f"freeorder-model-{tid}")


@dataclass
class _Outcome:
    kind: str  # ok, pruned, error, exception, race, deadlock, livelock, stuck
    thread: int | None = None
    message: str = ""
    exc: BaseException | None = None


class _Execution:
    """One run of the body under a chooser. Invariant: at most one model thread runs."""

    def __init__(self, chooser, max_steps: int, spin_threshold: int | None, mem=None, max_stale: int = 0,
                 orders=None):
        self.chooser = chooser
        self.max_steps = max_steps
        self.spin_threshold = spin_threshold
        self.mem = mem  # a c11.Memory, or None: sequential consistency
        self.max_stale = max_stale
        self.stale = 0  # memory choices other than the newest so far
        self.stale_notes: list[str] = []
        self.orders = orders  # a sites.Orders (order overrides and site recording), or None
        self.threads: list[_MThread] = []
        self.steps = 0
        self.choices: list = []
        self.current: int | None = None
        self.preemptions = 0
        self.write_epoch = 0
        self.outcome: _Outcome | None = None
        self.aborting = False
        self.done = threading.Lock()
        self.done.acquire()

    # -- thread lifecycle --
    def new_thread(self, fn, args, kwargs, parent: _MThread | None = None) -> _MThread:
        t = _MThread(self, len(self.threads), fn, args, kwargs)
        self.threads.append(t)
        if self.mem is not None:
            t.mem = self.mem.new_thread(t.tid, None if parent is None else parent.mem)
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
                if isinstance(exc, ModelError):
                    self._end(_Outcome("error", t.tid, str(exc), exc))
                else:
                    kind = "race" if isinstance(exc, DataRace) else "exception"
                    self._end(_Outcome(kind, t.tid, "".join(traceback.format_exception(exc)), exc))
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

    def pick(self, kind: str, n: int, describe=None) -> int:
        """A memory choice among ``n`` options (0 = newest) for the running thread.

        Recorded in the schedule when ``n > 1``; choices other than 0 count
        against ``max_stale``. ``describe(k)`` (optional) says what a stale choice
        did, for the failure report.
        """
        if n <= 1:
            return 0
        try:
            k = self.chooser.pick(self, kind, n)
        except ModelError as exc:
            self._end(_Outcome("error", self.current, str(exc), exc))
            raise _Abort from None
        self.choices.append(Pick(kind, k))
        if k:
            self.stale += 1
            if describe is not None:
                self.stale_notes.append(describe(k))
        return k

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
