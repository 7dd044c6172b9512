"""Per-thread handles: how a structure's operations reach this thread's state with one lookup.

A structure keeps one handle per thread index (``freeorder.atomic.thread_index``:
C thread-local storage, one call), made by that thread on first use, so its
reference count is that thread's own on 3.13t. A handle stays valid for any
later thread that is given the same index (it holds only the index's slot
cache and counters, never a reclaimer record). ``structure.handle()`` returns
it for callers that keep it and skip the lookup entirely (as cereggii's
``ThreadHandle`` does); the plain methods look it up per call.
"""

from __future__ import annotations

from freeorder import atomic


def thread_owned(*values):
    """Copies of int constants made by the calling thread (small ints come back as they are).

    On 3.13t each use of an object increments its reference count: plainly for
    the thread that made it, with an atomic add on one shared cache line for
    every other thread. Module constants are made by the importing thread, so
    two threads using them on every step bounce that line between cores; a
    copy each handle makes for itself does not.
    """
    return tuple(v + 0 if type(v) is int else v for v in values)


class Missing:
    """The "no default given" sentinel of ``pop``/``dequeue``/``peek``: a class, because
    3.13t defers classes' reference counts (threads passing it do not contend; an
    ``object()`` instance would)."""


class PerThreadHandles:
    """Mixin: ``handle(on_step=None)`` and the per-thread handle table.

    Subclasses set ``_handle_class`` (called as ``_handle_class(self, on_step)``)
    and call ``_init_handles()`` in ``__init__``.
    """

    _handle_class: type

    def _init_handles(self) -> None:
        self._handles: list = []   # thread index -> that thread's handle
        self._thread_index = atomic.current_backend().thread_index

    def handle(self, on_step=None):
        """This thread's handle: the structure's operations with no per-call lookup.

        ``on_step``: a callable given the name of each named step the handle's
        operations pass (the structure's docstring lists them); returns a new
        handle seen by no other caller, for tests and the stalled-thread benchmark.
        """
        if on_step is not None:
            return self._handle_class(self, on_step)
        index = self._thread_index()
        handles = self._handles
        if len(handles) <= index:
            handles.extend([None] * (index + 1 - len(handles)))
        handle = handles[index]
        if handle is None:
            handle = handles[index] = self._handle_class(self, None)
        return handle

    @property
    def cas_retries(self) -> int:
        """Compare-exchanges that lost a race, summed over threads (exact at rest)."""
        return sum(h.retries() for h in list(self._handles) if h is not None)
