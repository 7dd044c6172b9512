"""The test matrix: 3.13t (no GIL), 3.13t with PYTHON_GIL=1, and a GIL 3.13.

The interpreters are the ones scripts/bootstrap.sh builds (override with
FREEORDER_PYTHON_NOGIL / FREEORDER_PYTHON_GIL). Run all: ``nox``; one: ``nox -s nogil``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

nox.options.download_python = "never"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

CACHE = Path(
    os.environ.get("FREEORDER_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "freeorder"
)
PYTHON_NOGIL = os.environ.get("FREEORDER_PYTHON_NOGIL") or str(CACHE / "cpython-3.13-nogil/bin/python3.13t")
PYTHON_GIL = os.environ.get("FREEORDER_PYTHON_GIL") or str(CACHE / "cpython-3.13-gil/bin/python3.13")

# Tests that are safe to run many copies of at once under pytest-run-parallel.
PARALLEL_SAFE = ["tests/test_atomic_conformance.py", "tests/test_atomic_facade.py"]


def _install(session: nox.Session, extras: str) -> None:
    session.install("-e", f".[{extras}]")
    # hypothesis' newest release is sdist-only (needs cargo) on 3.13t: take a wheel.
    session.install("--only-binary=:all:", "hypothesis")


def _run_tests(session: nox.Session, gil: str, slow: bool = True) -> None:
    env = {"PYTHON_GIL": gil}
    session.run("python", "-c", "import sys, freeorder; print('GIL enabled:', sys._is_gil_enabled())", env=env)
    session.run("pytest", *(session.posargs or ([] if slow else ["-m", "not slow"])), env=env)
    if not session.posargs:
        session.run("pytest", "--parallel-threads=4", *PARALLEL_SAFE, env=env)


for _path in (PYTHON_NOGIL, PYTHON_GIL):
    if not Path(_path).exists():
        print(f"noxfile: interpreter {_path} not found; run scripts/bootstrap.sh first")


@nox.session(name="nogil", python=PYTHON_NOGIL)
def nogil(session: nox.Session) -> None:
    """Free-threaded 3.13t with the GIL disabled (the product's target)."""
    _install(session, "test")
    _run_tests(session, "0")


@nox.session(name="nogil-with-gil", python=PYTHON_NOGIL)
def nogil_with_gil(session: nox.Session) -> None:
    """The same 3.13t interpreter with PYTHON_GIL=1."""
    _install(session, "test")
    _run_tests(session, "1", slow=False)  # the slow model-checking bounds run in the nogil session


@nox.session(name="gil", python=PYTHON_GIL)
def gil(session: nox.Session) -> None:
    """A GIL build of the same CPython 3.13 source, with the `atomics` cross-check backend."""
    _install(session, "test,atomics")
    _run_tests(session, "1", slow=False)


BENCH_CONFIGS = [
    ("nogil", PYTHON_NOGIL, "0"),
    ("nogil-with-gil", PYTHON_NOGIL, "1"),
    ("gil", PYTHON_GIL, "1"),
]


PYPERF_BENCHMARKS = ["atomics", "structures", "engines", "skiplist"]
PYPERF_ARGS = ["--processes", "1", "--values", "3", "--warmups", "1", "--min-time", "0.05"]
PYPERF_QUICK_ARGS = ["--processes", "1", "--values", "1", "--warmups", "0", "--min-time", "0.01"]


def _bench(session: nox.Session, config: str, gil: str) -> None:
    """pyperf tables, then latency.py, bench_stall.py and (3.13t) profile_calls.py and reclaim memory.

    ``nox -t bench -- --quick``: short runs everywhere (a smoke pass); other
    posargs are passed to the pyperf benchmarks.
    """
    session.install("-e", ".[bench]")  # pyperf
    # the peers cereggii and ft-utils (comparison only), from wheels; where none fits this
    # interpreter the benchmarks say "not installed" instead of failing the session
    session.run("python", "-m", "pip", "install", "--only-binary=:all:", "cereggii>=1.0", "ft-utils>=0.2",
                success_codes=[0, 1])
    quick = "--quick" in session.posargs
    posargs = [a for a in session.posargs if a != "--quick"]
    mode = ["--quick"] if quick else []
    results = Path("benchmarks/results")
    results.mkdir(parents=True, exist_ok=True)
    args = posargs or (PYPERF_QUICK_ARGS if quick else PYPERF_ARGS)
    env = {"PYTHON_GIL": gil}
    for name in PYPERF_BENCHMARKS:
        out = results / f"{name}-{config}.json"
        out.unlink(missing_ok=True)
        session.run("python", f"benchmarks/bench_{name}.py", "--inherit-environ=PYTHON_GIL", "-o", str(out), *args, env=env)
    session.run("python", "benchmarks/latency.py", *mode, "--json", str(results / f"latency-{config}.json"), env=env)
    session.run("python", "benchmarks/bench_stall.py", *mode, "--json", str(results / f"stall-{config}.json"), env=env)
    if config == "nogil":
        session.run("python", "benchmarks/profile_calls.py", "--label", "after", env=env)
        session.run("python", "benchmarks/bench_reclaim_memory.py", "--seconds", "10" if quick else "60",
                    "--json", str(results / "reclaim-memory-nogil.json"), env=env)


for _config, _python, _gil in BENCH_CONFIGS:

    def _session(session: nox.Session, _config=_config, _gil=_gil) -> None:
        _bench(session, _config, _gil)

    _session.__doc__ = f"Benchmarks on {_config}; writes benchmarks/results/*-{_config}.json."
    nox.session(name=f"bench-{_config}", python=_python, tags=["bench"])(_session)


@nox.session(name="bench-report", python=False, tags=["bench"])
def bench_report(session: nox.Session) -> None:
    """Render the benchmark results into benchmarks/README.md (runs last with -t bench)."""
    session.run(sys.executable, "benchmarks/report.py")


# ---- the engine harness (`freeorder bench`): nox -t harness (also in nox -t bench) -----------------

HARNESS_RESULTS = "benchmarks/results/harness"


def _harness(session: nox.Session, gil: str) -> None:
    """The full matrix on this interpreter (``nox -t harness -- --quick``: the quick one)."""
    session.install("-e", ".")
    # ft-utils' RWLock as a second rwlock engine ("rwlock-ft"), from a wheel where one fits
    session.run("python", "-m", "pip", "install", "--only-binary=:all:", "ft-utils", success_codes=[0, 1])
    session.run("python", "-m", "freeorder", "bench", "--measure-only", "--out", HARNESS_RESULTS, *session.posargs,
                env={"PYTHON_GIL": gil})


for _config, _python, _gil in BENCH_CONFIGS:

    def _harness_session(session: nox.Session, _gil=_gil) -> None:
        _harness(session, _gil)

    _harness_session.__doc__ = f"The engine harness on {_config}: {HARNESS_RESULTS}/bench-{_config}.json."
    nox.session(name=f"harness-{_config}", python=_python, tags=["bench", "harness"])(_harness_session)


@nox.session(name="harness-report", python=PYTHON_NOGIL, tags=["bench", "harness"])
def harness_report(session: nox.Session) -> None:
    """Tables, targets and plots of the harness' results into benchmarks/README.md (runs last)."""
    session.install("-e", ".[plots]")
    session.run("python", "-m", "freeorder", "bench", "--report-only", "--out", HARNESS_RESULTS,
                "--readme", "benchmarks/README.md")


@nox.session(name="lint", python=PYTHON_NOGIL)
def lint(session: nox.Session) -> None:
    """ruff check (the rule set and its reasons are in pyproject.toml; no reformatting) and mypy on the
    public API (the modules listed under [tool.mypy] there, with the _atomics stub)."""
    session.install("-e", ".")
    session.install("ruff>=0.6")
    session.install("--only-binary=:all:", "mypy>=1.11")  # mypy 2 needs ast-serialize, which has no 3.13t wheel
    session.run("ruff", "check", ".")
    session.run("mypy")


# ---- on demand: not in nox.options.sessions, not in .ci/run ---------------------------------------

TOOLS = ["pytest>=8", "pytest-timeout>=2.3", "sortedcontainers>=2.4", "setuptools>=74"]


def copy_tree(session: nox.Session, dest: Path, python: str, env: dict | None = None) -> Path:
    """The working tree's files (tracked and untracked, not ignored) copied to a fresh ``dest``, with
    the ``_atomics`` extension built there by ``python`` (``env``: compiler flags): sessions that
    change code or build flags work on the copy, never on the tree others are editing."""
    import shutil
    import subprocess

    if dest.exists():
        shutil.rmtree(dest)
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in listed:
        if name and Path(name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(name, dest / name)
    with session.chdir(dest):
        session.run(python, "setup.py", "-q", "build_ext", "--inplace", external=True, silent=True,
                    env={"PYTHONDONTWRITEBYTECODE": "1", **(env or {})})
    return dest


def _tool_venv(session: nox.Session, python: str, where: Path) -> str:
    """A venv of ``python`` at ``where`` with the test tools (freeorder itself is not installed:
    tests import it from the copy they run in). Returns its python."""
    if not (where / "bin/python").exists():
        session.run(python, "-m", "venv", str(where), external=True)
    vpy = str(where / "bin/python")
    session.run(vpy, "-m", "pip", "install", "-q", *TOOLS, external=True)
    session.run(vpy, "-m", "pip", "install", "-q", "--only-binary=:all:", "hypothesis", external=True)
    return vpy


TSAN_TESTS = ["tests/test_atomic_conformance.py", "tests/test_atomic_facade.py", "tests/test_atomic_threads.py",
              "tests/test_reclaim.py", "tests/test_stack_queue.py", "tests/test_seqlock.py",
              "tests/test_skiplist.py", "tests/test_order_index.py"]


@nox.session(name="tsan", python=False)
def tsan(session: nox.Session) -> None:
    """ThreadSanitizer over the C extension (on demand: ``nox -s tsan``).

    A 3.13t configured --with-thread-sanitizer (``scripts/bootstrap.sh --tsan``: built once into the
    cache, ~10 minutes on 2 cores), ``_atomics`` compiled with -fsanitize=thread in a copy of the
    tree, and the atomics, arena, reclaimer and structure tests run there under it. Suppressions:
    tsan-suppressions.txt (CPython internals only, each with its reason). Reports go to
    .nox/tsan/report.*, summarised at the end; the session fails if there is any.
    ``nox -s tsan -- tests/test_atomic_threads.py`` runs only the tests given.
    """
    session.run("bash", "scripts/bootstrap.sh", "--tsan", external=True, silent=True)
    work = Path(".nox/tsan").resolve()
    vpy = _tool_venv(session, str(CACHE / "cpython-3.13-nogil-tsan/bin/python3.13t"), work / "venv")
    tree = copy_tree(session, work / "tree", vpy, {"CFLAGS": "-fsanitize=thread -g", "LDFLAGS": "-fsanitize=thread"})
    for old in work.glob("report.*"):
        old.unlink()
    options = (f"suppressions={Path('tsan-suppressions.txt').resolve()} log_path={work / 'report'} "
               "halt_on_error=0 second_deadlock_stack=1")
    with session.chdir(tree):
        session.run(vpy, "-c", "import freeorder._atomics as m, sys; assert m.__file__.startswith(sys.argv[1]), m.__file__",
                    str(tree), external=True)
        # runs pytest, then summarises the reports; fails on a failed test or any report
        # ThreadSanitizer slows everything 5-15x: ten times the usual test and join time limits
        session.run(vpy, "scripts/tsan_report.py", str(work), "--", vpy, "-m", "pytest", "-q", "-m", "not slow",
                    "-p", "no:cacheprovider", "--timeout=1200", *(session.posargs or TSAN_TESTS), external=True,
                    env={"TSAN_OPTIONS": options, "PYTHONDONTWRITEBYTECODE": "1", "FREEORDER_TIME_SCALE": "10"})


@nox.session(name="mutants", python=PYTHON_NOGIL)
def mutants(session: nox.Session) -> None:
    """The mutation catalogue (on demand: ``nox -s mutants``; ``-- ID ...`` for some of them).

    Copies the working tree to .nox/mutants/tree, then mutants/run.py applies each mutant of
    mutants/catalogue.py there in turn, runs its covering tests up to 3 times (killed: failed all 3)
    and writes mutants/report.md with the score over the non-equivalent mutants.
    """
    session.install(*TOOLS)
    session.install("--only-binary=:all:", "hypothesis")
    tree = copy_tree(session, Path(".nox/mutants/tree").resolve(), "python")
    session.run("python", "mutants/run.py", str(tree), *session.posargs)


nox.options.sessions = ["lint", "nogil", "nogil-with-gil", "gil"]
