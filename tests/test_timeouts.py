"""Every test runs under pytest-timeout: 120 s by default, 600 s for tests marked slow,
so a livelock fails with a traceback instead of hanging the run."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.thread_unsafe(reason="runs pytest in a subprocess")

INNER = textwrap.dedent(
    """
    import pytest

    def spin_forever():
        while True:
            pass

    def test_livelock():
        spin_forever()

    @pytest.mark.slow
    def test_slow_gets_the_long_limit(request):
        assert request.node.get_closest_marker("timeout").args == (600,)

    @pytest.mark.slow
    @pytest.mark.timeout(7)
    def test_an_explicit_limit_wins(request):
        assert request.node.get_closest_marker("timeout").args == (7,)
    """
)


def test_the_default_limit_is_120_seconds(request):
    assert request.config.getini("timeout") == "120"


def test_a_livelock_fails_with_a_traceback_and_slow_tests_get_600_seconds(tmp_path):
    (tmp_path / "test_inner.py").write_text(INNER)
    # the project's pytest configuration and conftest hook, a 2 s default so the livelock ends quickly
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path),
         "-p", "tests.conftest", "-p", "no:cacheprovider", "-o", "timeout=2", "-q", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=100,
    )
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert "1 failed, 2 passed" in text, text
    assert "Timeout" in text and "spin_forever" in text, text  # where it was stuck
