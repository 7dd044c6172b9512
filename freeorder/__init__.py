"""freeorder: lock-free concurrency on free-threaded CPython, and an order book built on it.

Layers (imports point down): engines → book → lockfree → reclaim → atomic → _atomics (C).
"""

from . import atomic

__version__ = "0.1.0"

__all__ = ["atomic", "__version__"]
