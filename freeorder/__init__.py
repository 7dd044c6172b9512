"""freeorder: lock-free concurrency on free-threaded CPython, and an order book built on it.

Layers (imports point down): ``engines`` → ``book`` → ``lockfree`` → ``reclaim`` →
``atomic`` → ``_atomics`` (C). ``verify`` (model checker, linearizability
checker) sits beside them and is imported only by tests, stress and benchmarks.
"""

from . import atomic, book, engines, lockfree, reclaim

__version__ = "0.1.0"

__all__ = ["atomic", "book", "engines", "lockfree", "reclaim", "__version__"]
