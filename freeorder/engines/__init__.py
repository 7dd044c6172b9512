"""Matching engines: implementations of the :class:`Engine` protocol.

``ReferenceEngine`` is the sequential oracle; concurrent engines must produce
the results it would for some real-time-consistent order of their operations.
``LockFreeEngine`` is the lock-free one; ``ReplicatedEngine`` the lock-free universal
construction (one replica of the book per thread over a truncated command log).
``SeedEngine`` is a demonstration outside that contract: a lock-free book whose steps are
each atomic but whose commands are not (not linearizable; see ``engines/seed.py``).

The engines with locks, beside them for comparison (``python -m freeorder bench``):
``RWLockEngine`` (one reader-writer lock over all books), ``ShardedEngine`` (a lock per
symbol), ``ActorEngine`` (worker threads own the books; messages and futures; close it),
``RcuEngine`` (serialised writers publish immutable versions, every read lock-free, old
order states freed after an epoch grace period) and ``HybridEngine`` (serialised writes,
lock-free best/depth from a published view).
"""

from .actor import ActorEngine
from .api import Engine
from .hybrid import HybridEngine
from .lockfree import LockFreeEngine
from .rcu import RcuEngine
from .reference import ReferenceEngine
from .replicated import ReplicatedEngine
from .rwlock import RWLockEngine
from .seed import SeedEngine
from .sharded import ShardedEngine

ENGINES = {
    "reference": ReferenceEngine,
    "lockfree": LockFreeEngine,
    "replicated": ReplicatedEngine,
    "seed": SeedEngine,
    "rwlock": RWLockEngine,
    "sharded": ShardedEngine,
    "actor": ActorEngine,
    "rcu": RcuEngine,
    "hybrid": HybridEngine,
}

__all__ = ["ENGINES", "Engine", "LockFreeEngine", "ReferenceEngine", "ReplicatedEngine", "SeedEngine",
           "ActorEngine", "HybridEngine", "RWLockEngine", "RcuEngine", "ShardedEngine"]
