"""NoReclaim: the baseline that never reuses a retired slot.

Every guard operation is as cheap as it can be; retired slots are counted
(and marked retired for the sanitizer) but never freed, so an arena under
NoReclaim eventually runs out. Deferred callbacks never run.
"""

from __future__ import annotations

import threading

from freeorder import atomic
from freeorder.atomic import RELAXED


class NoReclaimGuard:
    __slots__ = ("_retired", "_depth")

    def __init__(self, retired):
        self._retired = retired
        self._depth = 0

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

    def retire(self, arena, ref: int) -> None:
        if arena.sanitize:
            arena.mark_retired(ref)
        self._retired.fetch_add(1, RELAXED)

    def defer(self, fn, arg=None) -> None:
        """Never runs ``fn``: nothing is ever reclaimed."""


class NoReclaim:
    """A reclaimer that never frees: the cost baseline for the other two."""

    name = "none"

    def __init__(self, max_threads: int = 256):
        self._retired = atomic.AtomicInt()
        self._local = threading.local()

    def pin(self) -> NoReclaimGuard:
        try:
            guard = self._local.guard
        except AttributeError:
            guard = self._local.guard = NoReclaimGuard(self._retired)
        guard._depth += 1
        return guard

    def flush(self) -> int:
        return 0

    def unregister(self) -> None:
        """Forget this thread's guard (nothing to hand over)."""
        self._local.__dict__.pop("guard", None)

    def stats(self) -> dict[str, int]:
        retired = self._retired.load()
        return {"retired": retired, "reclaimed": 0, "pending": retired}
