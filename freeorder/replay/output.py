"""Writing a file so that it is whole or absent: a temporary file beside it, renamed on success."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import TextIO

from .orderfile import InputError

__all__ = ["atomic_output"]


@contextlib.contextmanager
def atomic_output(path) -> Iterator[TextIO]:
    """A text file to write ``path`` through: a temporary file in the same directory,
    renamed to ``path`` when the block ends normally (``os.replace`` is atomic on one
    file system) and removed when it raises, so no half-written ``path`` is ever left.
    A directory that cannot be written raises InputError naming ``path``."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise InputError(path, None, None, None, f"cannot write here: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            yield f
        umask = os.umask(0)
        os.umask(umask)
        try:
            os.chmod(temporary, 0o666 & ~umask)  # mkstemp's 0600 would outlive the rename
            os.replace(temporary, path)
        except OSError as exc:
            raise InputError(path, None, None, None, f"cannot write: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
