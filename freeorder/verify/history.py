"""Recording concurrent histories from real-thread runs, for the linearizability checker.

An ``Operation`` is one invocation: its ``input`` is ``(op_name, *args)``, its
``output`` the returned value, ``call``/``ret`` the ``time.perf_counter_ns()``
read just before the operation started and just after it returned (``ret`` is
None for an operation that never returned: it is *pending* and may or may not
have taken effect). Invariant: ``call <= ret`` whenever ``ret`` is set, and
``call`` is taken before the operation starts, ``ret`` after it ends, so the
real-time order of the history is never stronger than what happened.

>>> h = History()
>>> token = h.call("t1", "push", (5,))
>>> h.ret(token, None)
>>> h.record("t2", "pop", lambda: 5)
5
>>> [op.input for op in h.operations()]
[('push', 5), ('pop',)]
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Operation:
    """One operation of a history: who, what, the result, and when (ns)."""

    thread: Any
    input: tuple
    output: Any
    call: int
    ret: int | None  # None: pending (never returned)

    @property
    def pending(self) -> bool:
        return self.ret is None

    def __str__(self) -> str:
        name, *args = self.input
        shown = f"{name}({', '.join(map(repr, args))})"
        result = "pending" if self.ret is None else f"-> {self.output!r}"
        span = f"[{self.call}, {'...' if self.ret is None else self.ret}]"
        return f"{self.thread}: {shown} {result} {span}"


class _Pending:
    """What ``History.op`` yields: set ``.result`` inside the block."""

    __slots__ = ("result",)

    def __init__(self):
        self.result = None


class History:
    """A thread-safe recorder: ``call`` returns a token, ``ret(token, result)`` completes it.

    Tokens are the mutable records themselves, so no shared counter is needed;
    ``list.append`` is atomic on free-threaded and GIL builds alike.
    """

    def __init__(self, clock: Callable[[], int] = time.perf_counter_ns):
        self._clock = clock
        self._records: list[list] = []

    def call(self, thread: Any, op_name: str, args: tuple = ()) -> list:
        """Record an invocation now; returns the token to pass to ``ret``."""
        rec = [thread, (op_name, *args), None, self._clock(), None]
        self._records.append(rec)
        return rec

    def ret(self, token: list, result: Any = None) -> None:
        """Record the response of the invocation ``token``."""
        now = self._clock()
        if token[4] is not None:
            raise ValueError(f"operation {token[1]!r} of {token[0]!r} already returned")
        token[2] = result
        token[4] = now

    def record(self, thread: Any, op_name: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Call ``fn(*args)`` as operation ``op_name(*args)``; if it raises, it stays pending."""
        token = self.call(thread, op_name, args)
        result = fn(*args)
        self.ret(token, result)
        return result

    @contextlib.contextmanager
    def op(self, op_name: str, *args: Any, thread: Any = None) -> Iterator[_Pending]:
        """``with h.op("push", 5) as o: o.result = s.push(5)``; an exception leaves it pending.

        ``thread`` defaults to ``threading.get_ident()``.
        """
        token = self.call(threading.get_ident() if thread is None else thread, op_name, args)
        box = _Pending()
        yield box
        self.ret(token, box.result)

    def operations(self) -> list[Operation]:
        """A snapshot of the history, ordered by invocation time."""
        ops = [Operation(r[0], r[1], r[2], r[3], r[4]) for r in list(self._records)]
        ops.sort(key=lambda o: o.call)
        return ops

    def __len__(self) -> int:
        return len(self._records)
