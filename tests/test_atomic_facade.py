"""freeorder.atomic: backend selection, the seam, and the no-GIL promise."""

import os
import subprocess
import sys
import sysconfig

import pytest

from freeorder import atomic

FREE_THREADED_BUILD = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def run_python(code, **env):
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_default_backend_is_native():
    assert atomic.backend_name() in ("native", os.environ.get(atomic.ENV_VAR, "native"))
    assert "native" in atomic.available_backends()


@pytest.mark.skipif(not FREE_THREADED_BUILD, reason="needs a free-threaded build")
def test_importing_freeorder_keeps_the_gil_disabled():
    result = run_python(
        "import sys, freeorder; freeorder.atomic.AtomicInt(1).fetch_add(1); "
        "print(sys._is_gil_enabled())",
        PYTHON_GIL="",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert "GIL" not in result.stderr  # no "enabling the GIL" RuntimeWarning


def test_backend_chosen_by_environment_variable():
    result = run_python(
        "from freeorder import atomic; print(atomic.backend_name())", FREEORDER_ATOMIC_BACKEND="native"
    )
    assert result.stdout.strip() == "native", result.stderr


def test_unknown_backend_gives_a_clear_error():
    result = run_python(
        "from freeorder import atomic; atomic.AtomicInt()", FREEORDER_ATOMIC_BACKEND="nonesuch"
    )
    assert result.returncode != 0
    assert "FREEORDER_ATOMIC_BACKEND=nonesuch" in result.stderr
    assert "unknown atomics backend 'nonesuch'" in result.stderr


@pytest.mark.skipif(not FREE_THREADED_BUILD, reason="the atomics package loads on GIL builds")
def test_atomics_backend_on_free_threaded_build_is_refused_clearly():
    with pytest.raises(atomic.BackendUnavailable, match="GIL build"):
        atomic.load_backend("atomics")


@pytest.mark.thread_unsafe(reason="switches the process-wide backend")
def test_use_backend_swaps_the_factory_and_restores_it():
    made = []

    class Recording:
        name = "recording"

        @staticmethod
        def AtomicInt(value):
            made.append(("int", value))
            return atomic.load_backend("native").AtomicInt(value)

        @staticmethod
        def AtomicIntArray(length, fill):
            made.append(("array", length, fill))
            return atomic.load_backend("native").AtomicIntArray(length, fill)

        @staticmethod
        def fence(order):
            made.append(("fence", order))

    atomic.register_backend("recording", lambda: Recording)
    before = atomic.backend_name()
    with atomic.use_backend("recording"):
        assert atomic.backend_name() == "recording"
        atomic.AtomicInt(3)
        atomic.AtomicIntArray(2, 1)
        atomic.fence()
    assert atomic.backend_name() == before
    atomic.AtomicInt(4)
    assert made == [("int", 3), ("array", 2, 1), ("fence", atomic.SEQ_CST)]


def test_memory_order_values_match_the_extension():
    from freeorder import _atomics

    for order in atomic.MemoryOrder:
        assert getattr(_atomics, order.name) == order.value
    assert _atomics.INT64_MAX == atomic.INT64_MAX
    assert _atomics.INT64_MIN == atomic.INT64_MIN
