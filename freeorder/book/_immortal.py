"""Immortal enum members, so two threads can share them without contending.

Why: on free-threaded CPython 3.13 an object's reference count is split into a
local count, written plainly by the thread that created the object, and a
shared count that every other thread changes with an atomic add. Putting
``Side.BUY`` into an event, comparing against a module constant, passing it as
an argument: each is an incref and a decref. Two threads doing that to one
object write to one cache line, and it bounces between the cores: a loop that
reads ``Side.BUY`` ran 12.8 M/s on one thread and 2.8 M/s *in total* on two.
An immortal object's count is never written, so reading it scales.

CPython 3.13t already makes module-level functions, code objects, classes,
modules, interned strings and code constants immortal (when the first thread
starts), but not instances, and an enum member is an instance. The book's hot
paths put members of ``Side``, ``OrderType``, ``TimeInForce``,
``SelfTradePrevention``, ``OrderStatus``, ``CancelReason`` and
``RejectReason`` into every event, result and order, so those members are
made immortal when their modules are imported.

How: 3.13 has no public call for it, so :func:`immortalize` does what the
interpreter's own ``_Py_SetImmortalUntracked`` does (local count set to the
immortal marker ``UINT32_MAX``, shared count to 0, owner thread to none),
through ``ctypes``, on the header layout of the 3.13 free-threaded build,
which it checks first (``ob_type`` must sit where that layout puts it). The
collector skips immortal objects and untracks them at its next run. The
members lived for the whole process anyway; nothing else changes: identity,
equality, hashing, pickling and ``repr`` are as before.

It is done only on CPython 3.13 built with ``--disable-gil`` (elsewhere the
members are left alone: a GIL build has no shared count to contend on) and
only when ``FREEORDER_NO_IMMORTAL`` is unset or ``0`` (set it to ``1`` to
measure the difference, as ``benchmarks/bench_book.py`` does).
"""

from __future__ import annotations

import os
import sys
import sysconfig

__all__ = ["immortalize", "is_immortal", "ENABLED"]

_IMMORTAL_LOCAL = 0xFFFFFFFF  # _Py_IMMORTAL_REFCNT_LOCAL (UINT32_MAX)
# struct _object of the 3.13 free-threaded build:
#   uintptr_t ob_tid; uint16_t _padding; PyMutex ob_mutex; uint8_t ob_gc_bits;
#   uint32_t ob_ref_local; Py_ssize_t ob_ref_shared; PyTypeObject *ob_type;
_OFF_TID, _OFF_REF_LOCAL, _OFF_REF_SHARED, _OFF_TYPE = 0, 12, 16, 24


def _supported() -> bool:
    if os.environ.get("FREEORDER_NO_IMMORTAL", "0") not in ("", "0"):
        return False
    if sys.implementation.name != "cpython" or sys.version_info[:2] != (3, 13):
        return False
    if not sysconfig.get_config_var("Py_GIL_DISABLED"):
        return False
    try:
        import ctypes  # noqa: F401
    except ImportError:
        return False
    return True


ENABLED = _supported()


def is_immortal(obj: object) -> bool:
    """Whether ``obj``'s reference count is never written (3.13t layout; False elsewhere)."""
    if not ENABLED:
        return False
    import ctypes

    return ctypes.c_uint32.from_address(id(obj) + _OFF_REF_LOCAL).value == _IMMORTAL_LOCAL


def immortalize(objects) -> int:
    """Make each of ``objects`` immortal (see the module docstring); how many were changed.

    Call it only on objects that live for the whole process. Only the thread
    that owns an object writes its local count, without atomics, so an object
    owned by another thread is left alone while other threads run (writing its
    count could lose an update of the owner's); the other threads' atomic
    updates of the shared count cannot hurt an object made immortal.
    """
    if not ENABLED:
        return 0
    import ctypes
    import threading

    probe = object()  # owned by this thread: its ob_tid is our thread id
    me = ctypes.c_size_t.from_address(id(probe) + _OFF_TID).value
    alone = threading.active_count() == 1
    changed = 0
    for obj in objects:
        address = id(obj)
        if ctypes.c_void_p.from_address(address + _OFF_TYPE).value != id(type(obj)):
            return changed  # not the layout we know: leave everything alone
        local = ctypes.c_uint32.from_address(address + _OFF_REF_LOCAL)
        if local.value == _IMMORTAL_LOCAL:
            continue
        tid = ctypes.c_size_t.from_address(address + _OFF_TID)
        if tid.value not in (0, me) and not alone:
            continue
        local.value = _IMMORTAL_LOCAL
        ctypes.c_ssize_t.from_address(address + _OFF_REF_SHARED).value = 0
        tid.value = 0
        changed += 1
    return changed
