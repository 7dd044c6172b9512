"""NoReclaim: the baseline that never reuses a retired slot.

Every guard operation is as cheap as it can be; retired slots are counted
but never freed, so an arena under NoReclaim grows until its
``max_capacity``. Deferred callbacks never run.
"""

from __future__ import annotations

from freeorder import atomic


class NoReclaimGuard:
    __slots__ = ("_depth", "retired")

    def __init__(self):
        self._depth = 0
        self.retired = 0

    def pin(self) -> "NoReclaimGuard":
        self._depth += 1
        return self

    def __enter__(self) -> "NoReclaimGuard":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._depth -= 1

    def unpin(self) -> None:
        self._depth -= 1

    @property
    def pinned(self) -> bool:
        return self._depth > 0

    def protect(self, hazard: int, array, index: int) -> int:
        return array.load(index)

    def retire(self, free, ref: int, key: int) -> None:
        """Count the slot; never free it."""
        self.retired += 1

    def defer(self, fn, arg=None) -> None:
        """Never runs ``fn``: nothing is ever reclaimed."""


class NoReclaim:
    """A reclaimer that never frees: the cost baseline for the other two."""

    name = "none"

    def __init__(self, max_threads: int = 256):
        self._thread_index = atomic.current_backend().thread_index
        self._by_thread: list = []
        self.pin = self._make_pin()   # pin(): this thread's guard, pinned (see _make_pin)

    def local(self) -> NoReclaimGuard:
        index = self._thread_index()
        by_thread = self._by_thread
        if len(by_thread) <= index:
            by_thread.extend([None] * (index + 1 - len(by_thread)))
        guard = by_thread[index]
        if guard is None:
            guard = by_thread[index] = NoReclaimGuard()
        return guard

    def _make_pin(self):
        """``pin`` as a closure (no attribute lookups on the shared reclaimer; see EpochCollector)."""
        by_thread, thread_index, local = self._by_thread, self._thread_index, self.local

        def pin() -> NoReclaimGuard:
            """This thread's guard, pinned."""
            try:
                guard = by_thread[thread_index()]
                guard._depth += 1                  # AttributeError: no guard for this thread yet
            except (IndexError, AttributeError):
                guard = local()
                guard._depth += 1
            return guard

        return pin

    def help(self) -> int:
        return 0

    def flush(self) -> int:
        return 0

    def unregister(self) -> None:
        """Nothing to hand over (this thread's guard stays, with its count)."""

    def stats(self) -> dict[str, int]:
        retired = sum(g.retired for g in list(self._by_thread) if g is not None)
        return {"retired": retired, "reclaimed": 0, "pending": retired}
