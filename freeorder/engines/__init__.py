"""Matching engines: implementations of the :class:`Engine` protocol.

``ReferenceEngine`` is the sequential oracle; concurrent engines must produce
the results it would for some real-time-consistent order of their operations.
"""

from .api import Engine
from .reference import ReferenceEngine

__all__ = ["Engine", "ReferenceEngine"]
