"""Memory reclamation: when may a slot that left a lock-free structure be reused?

Three reclaimers share one guard protocol, so every structure runs with each:

- ``pin()`` pins this thread and returns its guard: ``with r.pin() as g:``,
  or on hot paths ``g = r.pin()`` … ``finally: g.unpin()`` (cheaper on 3.13t);
- ``guard.protect(hazard, array, index)`` loads a shared reference and keeps
  its slot from being freed while the guard is held (``hazard`` names the
  hazard cell; the epoch collector ignores it);
- ``guard.retire(arena, ref)`` hands over an unlinked slot; the reclaimer
  calls ``arena.free(ref)`` once no thread can still reach it;
- ``flush()`` reclaims what it can now; ``stats()`` counts retired/reclaimed;
  ``unregister()`` gives back this thread's record early (thread exit does it too).

``EpochCollector`` (crossbeam-epoch), ``HazardRegistry`` (Michael's hazard
pointers) and ``NoReclaim`` (never frees). ``make_reclaimer("epoch"|"hazard"|"none")``
builds one by name. The sanitizer (``FREEORDER_SANITIZE=1``) checks them.
"""

from __future__ import annotations

from .epoch import EpochCollector, EpochGuard
from .hazard import HazardGuard, HazardRegistry
from .none import NoReclaim
from .registry import TooManyThreads
from .sanitizer import DoubleRetire, SanitizerError, UseAfterReclaim

RECLAIMERS = {"epoch": EpochCollector, "hazard": HazardRegistry, "none": NoReclaim}


def make_reclaimer(name: str, **options):
    """A new reclaimer by name: epoch, hazard or none."""
    try:
        cls = RECLAIMERS[name]
    except KeyError:
        raise ValueError(f"reclaimer={name!r} is not one of {', '.join(RECLAIMERS)}") from None
    return cls(**options)


__all__ = [
    "RECLAIMERS",
    "DoubleRetire",
    "EpochCollector",
    "EpochGuard",
    "HazardGuard",
    "HazardRegistry",
    "NoReclaim",
    "SanitizerError",
    "TooManyThreads",
    "UseAfterReclaim",
    "make_reclaimer",
]
