import pytest

import freeorder.verify  # noqa: F401 - registers the "model" backend
from freeorder import atomic


def _backend_params():
    params = []
    for name in ("native", "atomics", "model"):
        try:
            atomic.load_backend(name)
            marks = ()
        except atomic.BackendUnavailable as exc:
            marks = pytest.mark.skip(reason=str(exc))
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@pytest.fixture(params=_backend_params())
def backend(request):
    """Each atomics backend that loads on this interpreter (others are skipped with the reason)."""
    return atomic.load_backend(request.param)


SLOW_TIMEOUT = 600  # seconds; the default (120 s) is pytest-timeout's ``timeout`` in pyproject.toml


def pytest_collection_modifyitems(config, items):
    """Tests marked slow get ``SLOW_TIMEOUT`` unless they set their own ``timeout`` mark."""
    for item in items:
        if item.get_closest_marker("slow") is not None and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))
