"""Matching engines: implementations of the :class:`Engine` protocol.

``ReferenceEngine`` is the sequential oracle; concurrent engines must produce
the results it would for some real-time-consistent order of their operations.
``LockFreeEngine`` is the lock-free one.
"""

from .api import Engine
from .lockfree import LockFreeEngine
from .reference import ReferenceEngine

ENGINES = {"reference": ReferenceEngine, "lockfree": LockFreeEngine}

__all__ = ["ENGINES", "Engine", "LockFreeEngine", "ReferenceEngine"]
