"""The ``atomics`` backend: the PyPI ``atomics`` package (cffi), for cross-checking.

It runs only on GIL builds (cffi refuses free-threaded 3.13). The package has
no memory-order arguments, so every operation runs SEQ_CST, which is at least
as strong as any order asked for; orders are still validated, so misuse fails
the same way on every backend. It costs microseconds per call: a cross-check,
not a production backend.
"""

from __future__ import annotations

import sysconfig
import types

from ._checks import as_index, as_int64, as_order, cas_orders, check_grow, check_reserve, wrap64
from ._orders import SEQ_CST
from ._registry import BackendUnavailable


def _cell(atomics, value: int):
    cell = atomics.atomic(width=8, atype=atomics.INT)
    cell.store(value)
    return cell


def _exchange(cell, expected: int, desired: int) -> int:
    """Strong compare-exchange returning the witnessed value."""
    result = cell.cmpxchg_strong(expected=expected, desired=desired)
    return expected if result.success else result.expected


def _make_types(atomics):
    class AtomicInt:
        """AtomicInt over one ``atomics`` int64 cell."""

        __slots__ = ("_c",)

        def __init__(self, value: int = 0):
            self._c = _cell(atomics, as_int64(value))

        def __repr__(self) -> str:
            return f"AtomicInt({self._c.load()})"

        def load(self, order=SEQ_CST):
            as_order(order, "load")
            return self._c.load()

        def store(self, value, order=SEQ_CST):
            v = as_int64(value)
            as_order(order, "store")
            self._c.store(v)

        def swap(self, value, order=SEQ_CST):
            v = as_int64(value)
            as_order(order, "rmw")
            return self._c.exchange(v)

        def compare_exchange(self, expected, desired, order=SEQ_CST, failure=None, weak=False):
            e, d = as_int64(expected, "expected"), as_int64(desired, "desired")
            cas_orders(order, failure)
            return _exchange(self._c, e, d)

        def compare_exchange_weak(self, expected, desired, order=SEQ_CST, failure=None):
            return self.compare_exchange(expected, desired, order, failure, True)

        def _rmw(self, name, value, order):
            v = as_int64(value)
            as_order(order, "rmw")
            return wrap64(getattr(self._c, name)(v))

        def fetch_add(self, value, order=SEQ_CST):
            return self._rmw("fetch_add", value, order)

        def fetch_sub(self, value, order=SEQ_CST):
            return self._rmw("fetch_sub", value, order)

        def fetch_and(self, value, order=SEQ_CST):
            return self._rmw("bin_fetch_and", value, order)

        def fetch_or(self, value, order=SEQ_CST):
            return self._rmw("bin_fetch_or", value, order)

        def fetch_xor(self, value, order=SEQ_CST):
            return self._rmw("bin_fetch_xor", value, order)

    class AtomicIntArray:
        """AtomicIntArray over a list of ``atomics`` int64 cells."""

        __slots__ = ("_cells", "reserved")

        def __init__(self, length, fill=0, *, reserve=None):
            n = as_int64(length, "length")
            if n < 0:
                raise ValueError(f"length={length!r} must be >= 0 and fit in memory")
            f = as_int64(fill, "fill")
            self.reserved = check_reserve(n, f, reserve)
            self._cells = [AtomicInt(f) for _ in range(n)]

        def grow(self, length):
            n = check_grow(length, self.reserved)
            cells = self._cells
            if len(cells) < n:  # the GIL (this backend runs only on GIL builds) makes this one step
                cells.extend(AtomicInt(0) for _ in range(n - len(cells)))
            return len(cells)

        def __len__(self) -> int:
            return len(self._cells)

        def __repr__(self) -> str:
            return f"AtomicIntArray(length={len(self._cells)})"

        def _at(self, index):
            return self._cells[as_index(index, len(self._cells))]

        def load(self, index, order=SEQ_CST):
            return self._at(index).load(order)

        def store(self, index, value, order=SEQ_CST):
            self._at(index).store(value, order)

        def swap(self, index, value, order=SEQ_CST):
            return self._at(index).swap(value, order)

        def compare_exchange(self, index, expected, desired, order=SEQ_CST, failure=None, weak=False):
            return self._at(index).compare_exchange(expected, desired, order, failure, weak)

        def compare_exchange_weak(self, index, expected, desired, order=SEQ_CST, failure=None):
            return self._at(index).compare_exchange(expected, desired, order, failure, True)

        def fetch_add(self, index, value, order=SEQ_CST):
            return self._at(index).fetch_add(value, order)

        def fetch_sub(self, index, value, order=SEQ_CST):
            return self._at(index).fetch_sub(value, order)

        def fetch_and(self, index, value, order=SEQ_CST):
            return self._at(index).fetch_and(value, order)

        def fetch_or(self, index, value, order=SEQ_CST):
            return self._at(index).fetch_or(value, order)

        def fetch_xor(self, index, value, order=SEQ_CST):
            return self._at(index).fetch_xor(value, order)

        def to_list(self):
            return [c.load() for c in self._cells]

    return AtomicInt, AtomicIntArray


def load() -> types.SimpleNamespace:
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        raise BackendUnavailable(
            "the 'atomics' backend needs a GIL build of CPython (its cffi refuses free-threaded 3.13)"
        )
    try:
        import atomics
    except ImportError as exc:
        raise BackendUnavailable(
            f"the 'atomics' backend needs the PyPI package: pip install 'freeorder[atomics]' ({exc})"
        ) from exc
    atomic_int, atomic_int_array = _make_types(atomics)
    def fence(order=SEQ_CST):
        as_order(order, "rmw")
        _cell(atomics, 0).fetch_add(0)  # a SEQ_CST read-modify-write orders like a full fence

    from freeorder import _atomics  # the thread index is not a memory operation: the native one serves

    return types.SimpleNamespace(
        name="atomics", AtomicInt=atomic_int, AtomicIntArray=atomic_int_array, fence=fence,
        thread_index=_atomics.thread_index,
    )
