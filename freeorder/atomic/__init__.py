"""freeorder.atomic: the one import path for atomics in freeorder.

``AtomicInt(value=0)`` is one int64 cell; ``AtomicIntArray(length, fill=0)`` a
fixed array of them. Both offer ``load``, ``store``, ``swap``,
``compare_exchange`` (strong, or ``weak=True``; it returns the value it
witnessed, so success is ``result == expected``), ``compare_exchange_weak`` and
``fetch_add/sub/and/or/xor``, each with an ``order=`` (a ``MemoryOrder``;
SEQ_CST by default) validated as C11 does. ``AtomicIntArray(n, reserve=m)``
reserves address space for ``m`` cells and ``grow(k)`` raises its length
without moving a cell. ``thread_index()`` is this thread's small index (C
thread-local storage; given back at thread exit): the key per-thread records
are looked up by.

Backends, chosen by ``FREEORDER_ATOMIC_BACKEND``:
  - ``native`` (default): the C extension, no GIL needed, no Python lock;
  - ``atomics``: the PyPI ``atomics`` package (cffi; GIL builds only), a cross-check;
  - ``model``: registered by ``freeorder.verify``, each operation a scheduling point.

Create atomics through this module (``atomic.AtomicInt(...)``), not by
importing a backend: that is the seam the model checker swaps.

>>> from freeorder import atomic
>>> counter = atomic.AtomicInt(5)
>>> counter.fetch_add(1)
5
>>> counter.compare_exchange(6, 10) == 6   # succeeded
True
>>> counter.load(order=atomic.ACQUIRE)
10
"""

from __future__ import annotations

from . import _native, _pypi
from ._orders import (
    ACQ_REL,
    ACQUIRE,
    INT64_MAX,
    INT64_MIN,
    RELAXED,
    RELEASE,
    SEQ_CST,
    MemoryOrder,
)
from ._registry import (
    ENV_VAR,
    BackendUnavailable,
    available_backends,
    current_backend,
    load_backend,
    register_backend,
    set_backend,
    use_backend,
)

register_backend("native", _native.load)
register_backend("atomics", _pypi.load)


def AtomicInt(value: int = 0):
    """A new int64 atomic cell from the live backend."""
    return current_backend().AtomicInt(value)


def AtomicIntArray(length: int, fill: int = 0, *, reserve: int | None = None):
    """A new array of ``length`` int64 atomic cells from the live backend (``reserve``: see ``grow``)."""
    if reserve is None:
        return current_backend().AtomicIntArray(length, fill)
    return current_backend().AtomicIntArray(length, fill, reserve=reserve)


def fence(order: MemoryOrder = SEQ_CST) -> None:
    """A C11 ``atomic_thread_fence``."""
    current_backend().fence(order)


def thread_index() -> int:
    """This thread's small index from the live backend: the same on every call from one
    thread, different from every other live thread's, given back when the thread exits.
    Hot paths bind ``current_backend().thread_index`` once instead of calling this."""
    return current_backend().thread_index()


def backend_name() -> str:
    """Name of the live backend."""
    return current_backend().name


__all__ = [
    "ACQUIRE",
    "ACQ_REL",
    "ENV_VAR",
    "INT64_MAX",
    "INT64_MIN",
    "RELAXED",
    "RELEASE",
    "SEQ_CST",
    "AtomicInt",
    "AtomicIntArray",
    "BackendUnavailable",
    "MemoryOrder",
    "available_backends",
    "backend_name",
    "current_backend",
    "fence",
    "load_backend",
    "register_backend",
    "set_backend",
    "thread_index",
    "use_backend",
]
