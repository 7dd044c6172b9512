"""Sanitizer mode: catch use-after-reclaim, double retire and leaked slots.

Enabled by ``FREEORDER_SANITIZE=1`` (or ``Arena(..., sanitize=True)``). Each
arena slot then carries a state (FREE, LIVE, RETIRED); a freed slot's payload
is replaced by ``POISON`` and its int fields by ``POISON_VALUE``; every
dereference through ``Arena.check`` compares the reference's version with the
slot's. A violation raises ``SanitizerError`` in the offending thread and is
also recorded, so a test sees it even if a thread swallowed the exception;
``report()`` lists every arena's violations and leaks and runs at exit.
"""

from __future__ import annotations

import atexit
import os
import sys
import weakref

ENV_VAR = "FREEORDER_SANITIZE"

FREE, LIVE, RETIRED = 0, 1, 2
STATE_NAMES = {FREE: "free", LIVE: "live", RETIRED: "retired"}
POISON_VALUE = -0x5A5A5A5A5A5A5A5A


class _Poison:
    """Payload of a reclaimed slot: any use of it is a use-after-reclaim."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<POISON: reclaimed arena slot>"


POISON = _Poison()


class SanitizerError(RuntimeError):
    """A reclamation bug found by the sanitizer."""


class UseAfterReclaim(SanitizerError):
    """A reference was dereferenced after its slot was reclaimed (or reused)."""


class DoubleRetire(SanitizerError):
    """A slot was retired twice, or retired while not live."""


def enabled_by_environment() -> bool:
    return os.environ.get(ENV_VAR, "") not in ("", "0", "false", "no")


_arenas: "weakref.WeakSet" = weakref.WeakSet()


def track(arena) -> None:
    """Include ``arena`` in the exit report."""
    _arenas.add(arena)


def report(stream=None) -> int:
    """Write every sanitized arena's violations to ``stream``; return their count."""
    stream = stream or sys.stderr
    total = 0
    for arena in list(_arenas):
        for line in arena.violations:
            print(f"freeorder sanitizer: {arena.name}: {line}", file=stream)
            total += 1
    return total


@atexit.register
def _report_at_exit() -> None:
    if _arenas:
        report()
