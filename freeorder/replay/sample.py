"""The sample shipped with freeorder: a small order file and its instruments (tick 0.01, lot 1).

``data/sample.csv`` is ``freeorder replay --generate 200 --seed 13 sample.csv``
(tests/test_cli.py checks it still is); ``freeorder replay --sample`` replays it.
"""

from __future__ import annotations

import contextlib
import importlib.resources
from collections.abc import Iterator

__all__ = ["SAMPLE_LINES", "SAMPLE_SEED", "sample_files", "sample_path"]

SAMPLE_LINES, SAMPLE_SEED = 200, 13


@contextlib.contextmanager
def sample_files() -> Iterator[tuple[str, str]]:
    """Paths of the sample order file and its instruments file (real files while the block runs)."""
    root = importlib.resources.files("freeorder.replay") / "data"
    with importlib.resources.as_file(root / "sample.csv") as orders, \
            importlib.resources.as_file(root / "sample-instruments.csv") as instruments:
        yield str(orders), str(instruments)


@contextlib.contextmanager
def sample_path() -> Iterator[str]:
    """The path of the sample order file."""
    with sample_files() as (orders, _instruments):
        yield orders
