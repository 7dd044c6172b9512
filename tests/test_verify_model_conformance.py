"""The model backend passes the atomics conformance suite (used outside a running model).

Every test of tests/test_atomic_conformance.py runs again here with the
``backend`` fixture bound to ``model``; inside a model the same operations
are scheduling points (tests/test_verify_model.py).
"""

import pytest

import freeorder.verify  # noqa: F401 - registers the model backend
from freeorder import atomic
from test_atomic_conformance import *  # noqa: F403 - the suite, re-collected for this backend


@pytest.fixture
def backend():
    return atomic.load_backend("model")
