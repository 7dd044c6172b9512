"""Argument checks with the native extension's semantics, for backends written in Python.

The native backend does these checks in C; a Python backend (``atomics``,
``model``) calls these so every backend raises the same errors for the same
misuse, which the conformance suite checks.
"""

from __future__ import annotations

import operator

from ._orders import INT64_MAX, INT64_MIN, MemoryOrder

_LOAD_FORBIDDEN = (MemoryOrder.RELEASE, MemoryOrder.ACQ_REL)
_STORE_FORBIDDEN = (MemoryOrder.ACQUIRE, MemoryOrder.ACQ_REL)
_KIND_NAMES = {
    "load": "load",
    "store": "store",
    "rmw": "read-modify-write",
    "failure": "compare_exchange failure",
}


def as_int64(value: object, what: str = "value") -> int:
    """Return ``value`` as an int in the int64 range, or raise TypeError/OverflowError."""
    if isinstance(value, float) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    v = operator.index(value)  # type: ignore[arg-type]  # __index__ checked above
    if not INT64_MIN <= v <= INT64_MAX:
        raise OverflowError(f"{what}={value!r} is outside the int64 range [-2**63, 2**63-1]")
    return v


def as_order(order: object, kind: str, what: str = "order") -> MemoryOrder:
    """Validate a memory order for an operation kind: load, store, rmw or failure."""
    if not isinstance(order, int):
        raise TypeError(
            f"{what} must be a memory order (RELAXED, ACQUIRE, RELEASE, ACQ_REL, SEQ_CST), "
            f"not {type(order).__name__}"
        )
    if not 0 <= order <= 4:
        raise ValueError(f"{what}={order!r} is not a memory order (RELAXED=0 .. SEQ_CST=4)")
    mo = MemoryOrder(order)
    forbidden = _LOAD_FORBIDDEN if kind in ("load", "failure") else _STORE_FORBIDDEN if kind == "store" else ()
    if mo in forbidden:
        raise ValueError(f"{what}={mo.name} is not valid for a {_KIND_NAMES[kind]} (C11 forbids it)")
    return mo


def default_failure(order: MemoryOrder) -> MemoryOrder:
    """The strongest failure order C11 allows for a given success order."""
    if order == MemoryOrder.ACQ_REL:
        return MemoryOrder.ACQUIRE
    if order == MemoryOrder.RELEASE:
        return MemoryOrder.RELAXED
    return order


def cas_orders(order: object, failure: object) -> tuple[MemoryOrder, MemoryOrder]:
    """Validate compare-exchange success and failure orders (failure None: derived)."""
    success = as_order(order, "rmw")
    if failure is None:
        return success, default_failure(success)
    return success, as_order(failure, "failure", "failure")


def as_index(index: object, length: int) -> int:
    """Validate an array index: an int with 0 <= index < length."""
    if isinstance(index, float) or not hasattr(type(index), "__index__"):
        raise TypeError(f"index must be an int, not {type(index).__name__}")
    i = operator.index(index)  # type: ignore[arg-type]  # __index__ checked above
    if not 0 <= i < length:
        raise IndexError(f"index={index!r} out of range for AtomicIntArray of length {length}")
    return i


def wrap64(v: int) -> int:
    """Two's-complement wrap to int64, as C11 atomic arithmetic does."""
    return ((v - INT64_MIN) % 2**64) + INT64_MIN


def check_reserve(length: int, fill: int, reserve: object) -> int:
    """Validate ``reserve=`` of an AtomicIntArray; returns the cells it may grow to."""
    if reserve is None:
        return length
    r = as_int64(reserve, "reserve")
    if r < length:
        raise ValueError(f"reserve={r} must be >= length={length} and fit in the address space")
    if fill != 0:
        raise ValueError(f"fill={fill}: a reserved array starts zero-filled (fill must be 0)")
    return r


def check_grow(length: object, reserved: int) -> int:
    """Validate the argument of ``AtomicIntArray.grow``."""
    n = as_int64(length, "length")
    if not 0 <= n <= reserved:
        raise ValueError(f"length={n} is outside this array's reservation 0..{reserved}")
    return n
