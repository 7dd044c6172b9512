"""Backend registry: which implementation of AtomicInt/AtomicIntArray is live.

A backend is any object with ``name``, ``AtomicInt``, ``AtomicIntArray`` and
``fence``. Backends register a loader by name; the loader raises
``BackendUnavailable`` with a reason when it cannot run on this interpreter.
The live backend is chosen once from ``FREEORDER_ATOMIC_BACKEND`` (default
``native``) and can be switched with ``use_backend`` (e.g. by the model
checker); objects keep the backend they were created with.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

ENV_VAR = "FREEORDER_ATOMIC_BACKEND"
DEFAULT = "native"


class BackendUnavailable(ImportError):
    """The requested atomics backend cannot load on the running interpreter."""


_loaders: dict[str, Callable[[], Any]] = {}
_loaded: dict[str, Any] = {}
_current: Any = None


def register_backend(name: str, loader: Callable[[], Any]) -> None:
    """Make ``loader()`` (returning a backend object) selectable as ``name``."""
    _loaders[name] = loader
    _loaded.pop(name, None)


def load_backend(name: str) -> Any:
    """Return the backend called ``name``, loading it on first use."""
    if name in _loaded:
        return _loaded[name]
    try:
        loader = _loaders[name]
    except KeyError:
        raise BackendUnavailable(
            f"unknown atomics backend {name!r}; known: {', '.join(sorted(_loaders))}"
        ) from None
    backend = loader()
    _loaded[name] = backend
    return backend


def available_backends() -> list[str]:
    """Names of the registered backends that load on this interpreter."""
    names = []
    for name in sorted(_loaders):
        try:
            load_backend(name)
        except BackendUnavailable:
            continue
        names.append(name)
    return names


def current_backend() -> Any:
    """The live backend (chosen from the environment on first use)."""
    global _current
    if _current is None:
        name = os.environ.get(ENV_VAR, DEFAULT) or DEFAULT
        try:
            _current = load_backend(name)
        except BackendUnavailable as exc:
            raise BackendUnavailable(f"{ENV_VAR}={name}: {exc}") from exc
    return _current


def set_backend(name: str) -> Any:
    """Make ``name`` the live backend for atomics created from now on; returns it."""
    global _current
    _current = load_backend(name)
    return _current


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[Any]:
    """Within the block, new atomics come from backend ``name``.

    Switch only while no other thread is creating atomics: the choice is global.
    """
    global _current
    previous = current_backend()
    _current = load_backend(name)
    try:
        yield _current
    finally:
        _current = previous
