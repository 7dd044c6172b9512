"""The native backend: the C11 extension ``freeorder._atomics``."""

from __future__ import annotations

import types

from ._registry import BackendUnavailable


def load() -> types.SimpleNamespace:
    try:
        from freeorder import _atomics
    except ImportError as exc:  # not built: an install without the C compiler step
        raise BackendUnavailable(
            f"the native extension freeorder._atomics is not built ({exc}); "
            "reinstall with `pip install -e .`"
        ) from exc
    return types.SimpleNamespace(
        name="native",
        AtomicInt=_atomics.AtomicInt,
        AtomicIntArray=_atomics.AtomicIntArray,
        fence=_atomics.fence,
        thread_index=_atomics.thread_index,
    )
