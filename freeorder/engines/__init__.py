"""Matching engines: implementations of the :class:`Engine` protocol.

``ReferenceEngine`` is the sequential oracle; concurrent engines must produce
the results it would for some real-time-consistent order of their operations.
``LockFreeEngine`` is the lock-free one; ``ReplicatedEngine`` the lock-free universal
construction (one replica of the book per thread over a truncated command log).
``SeedEngine`` is a demonstration outside that contract: a lock-free book whose steps are
each atomic but whose commands are not (not linearizable; see ``engines/seed.py``).
"""

from .api import Engine
from .lockfree import LockFreeEngine
from .reference import ReferenceEngine
from .replicated import ReplicatedEngine
from .seed import SeedEngine

ENGINES = {
    "reference": ReferenceEngine,
    "lockfree": LockFreeEngine,
    "replicated": ReplicatedEngine,
    "seed": SeedEngine,
}

__all__ = ["ENGINES", "Engine", "LockFreeEngine", "ReferenceEngine", "ReplicatedEngine", "SeedEngine"]
