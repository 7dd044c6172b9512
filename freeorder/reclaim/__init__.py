"""Memory reclamation: when may a slot that left a lock-free structure be reused?

Three reclaimers implement one protocol (``Reclaimer`` and ``Guard`` below),
so every structure runs with each:

- ``pin()`` pins this thread and returns its guard: ``with r.pin() as g:``,
  or on hot paths ``g = r.pin()`` … ``finally: g.unpin()`` (cheaper on 3.13t);
- ``guard.protect(hazard, array, index)`` loads a shared reference and keeps
  its slot from being freed while the guard is held (``hazard`` names the
  hazard cell; the epoch collector ignores it);
- ``guard.retire(free, ref, key)`` hands over an unlinked slot: the reclaimer
  calls ``free(ref)`` once no thread can still reach it. The three values are
  opaque to the reclaimer (crossbeam-epoch's ``defer_destroy``): ``free`` is
  the arena's ``free``, ``key`` the slot identity a hazard scan compares --
  ``key_of(ref)``, the reference with its tag bit clear, which is also what
  ``protect`` publishes. That tag bit (bit 0) is the one thing reclaimers
  assume about references, as hazard-pointer libraries assume pointer tags
  live in alignment bits; the arena defines everything else;
- ``help()`` frees what it can now (an allocator out of free slots calls it
  before growing); ``flush()`` likewise, for tests; ``stats()`` counts
  retired/reclaimed; ``unregister()`` gives back this thread's record early
  (thread exit does it too).

``EpochCollector`` (crossbeam-epoch), ``HazardRegistry`` (Michael's hazard
pointers) and ``NoReclaim`` (never frees). ``make_reclaimer("epoch"|"hazard"|"none")``
builds one by name. The sanitizer (``FREEORDER_SANITIZE=1``) checks them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

TAG_BIT = 1


def key_of(ref: int) -> int:
    """The identity of the slot incarnation ``ref`` names: ``ref`` with its tag bit clear."""
    return ref & ~TAG_BIT


class Guard(Protocol):
    """One thread's view of a reclaimer while pinned."""

    def unpin(self) -> None: ...

    def protect(self, hazard: int, array, index: int) -> int: ...

    def retire(self, free: Callable[[int], None], ref: int, key: int) -> None: ...

    def __enter__(self) -> "Guard": ...

    def __exit__(self, exc_type, exc, tb) -> None: ...


class Reclaimer(Protocol):
    """Decides when a retired slot may be freed."""

    name: str

    def pin(self) -> Guard: ...

    def help(self) -> int: ...

    def flush(self) -> int: ...

    def unregister(self) -> None: ...

    def stats(self) -> dict[str, int]: ...


from .epoch import EpochCollector, EpochGuard  # noqa: E402  (key_of above is imported by hazard)
from .hazard import HazardGuard, HazardRegistry  # noqa: E402
from .none import NoReclaim  # noqa: E402
from .registry import TooManyThreads  # noqa: E402
from .sanitizer import DoubleRetire, SanitizerError, UseAfterReclaim  # noqa: E402

RECLAIMERS = {"epoch": EpochCollector, "hazard": HazardRegistry, "none": NoReclaim}


def make_reclaimer(name: str, **options) -> Reclaimer:
    """A new reclaimer by name: epoch, hazard or none."""
    try:
        cls = RECLAIMERS[name]
    except KeyError:
        raise ValueError(f"reclaimer={name!r} is not one of {', '.join(RECLAIMERS)}") from None
    return cls(**options)


__all__ = [
    "RECLAIMERS",
    "TAG_BIT",
    "DoubleRetire",
    "EpochCollector",
    "EpochGuard",
    "Guard",
    "HazardGuard",
    "HazardRegistry",
    "NoReclaim",
    "Reclaimer",
    "SanitizerError",
    "TooManyThreads",
    "UseAfterReclaim",
    "key_of",
    "make_reclaimer",
]
