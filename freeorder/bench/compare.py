"""``python -m freeorder compare``: the GIL-against-no-GIL table for this machine.

Finds a free-threaded 3.13t and a GIL 3.13 -- ``--python-nogil``/``--python-gil``,
else ``FREEORDER_PYTHON_NOGIL``/``FREEORDER_PYTHON_GIL``, else the ones
``scripts/bootstrap.sh`` builds into its cache (``$FREEORDER_CACHE``, default
``~/.cache/freeorder``: ``cpython-3.13-nogil/bin/python3.13t`` and
``cpython-3.13-gil/bin/python3.13``) -- makes a temporary venv for each,
installs this freeorder (the source checkout this package runs from) into
it, runs the quick matrix under 3.13t, 3.13t with ``PYTHON_GIL=1`` and the
GIL build, and prints the targets and one verdict line per engine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    if os.environ.get("FREEORDER_CACHE"):
        return Path(os.environ["FREEORDER_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "freeorder"


def find_interpreters(nogil: str | None, gil: str | None) -> dict[str, str]:
    """``{"nogil": path, "gil": path}`` of those found (flag, then environment, then the cache)."""
    cache = cache_dir()
    candidates = {
        "nogil": nogil or os.environ.get("FREEORDER_PYTHON_NOGIL") or str(cache / "cpython-3.13-nogil/bin/python3.13t"),
        "gil": gil or os.environ.get("FREEORDER_PYTHON_GIL") or str(cache / "cpython-3.13-gil/bin/python3.13"),
    }
    found = {}
    for kind, path in candidates.items():
        if Path(path).is_file() and os.access(path, os.X_OK):
            found[kind] = path
        else:
            print(f"{kind}: {path} not found (pass --python-{kind} PATH, or run scripts/bootstrap.sh)",
                  file=sys.stderr)
    return found


def source_dir() -> Path:
    """The checkout this freeorder runs from (pip installs it from there)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file() or not (root / "freeorder").is_dir():
        raise SystemExit(f"compare installs freeorder from its source checkout, and {root} is not one: "
                         "run it from a clone of the repository (pip install -e .)")
    return root


def make_venv(python: str, where: Path, source: Path) -> str:
    """A venv of ``python`` at ``where`` with freeorder installed; returns its interpreter."""
    subprocess.run([python, "-m", "venv", str(where)], check=True)
    venv_python = str(where / "bin" / "python")
    print(f"installing freeorder into a {Path(python).name} venv ({where}) ...", flush=True)
    subprocess.run([venv_python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
                   check=True)
    return venv_python


def compare_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="freeorder compare",
                                description="3.13t against the GIL build on this machine: the quick harness in "
                                            "temporary venvs, one verdict line per engine.")
    p.add_argument("--python-nogil", metavar="PATH", help="a free-threaded python3.13t")
    p.add_argument("--python-gil", metavar="PATH", help="a GIL python3.13")
    p.add_argument("--out", metavar="DIR", help="keep the JSON, report.md and plots here (default: discarded)")
    p.add_argument("--full", action="store_true", help="the full matrix instead of --quick (up to 30 min)")
    p.add_argument("--keep-venvs", action="store_true", help="leave the venvs in the temporary directory")
    return p


def compare_main(argv: list[str]) -> int:
    from . import measure_elsewhere, report, write_report

    args = compare_parser().parse_args(argv)
    found = find_interpreters(args.python_nogil, args.python_gil)
    if not found:
        return 2
    source = source_dir()
    tmp = Path(tempfile.mkdtemp(prefix="freeorder-compare-"))
    results_dir = Path(args.out) if args.out else tmp / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    for stale in results_dir.glob("bench-*.json"):
        stale.unlink()
    try:
        pythons = [make_venv(path, tmp / f"venv-{kind}", source) for kind, path in found.items()]
        measure_elsewhere(pythons, [] if args.full else ["--quick"], results_dir)
        results = report.load(sorted(results_dir.glob("bench-*.json")))
        print()
        print(report.header(results))
        print()
        for workload in ("multi-symbol", "contended"):
            print(report.throughput_table(results, workload))
            print()
        write_report(results_dir, None, plots_wanted=bool(args.out))
        if args.out:
            print(f"results kept in {results_dir}")
    finally:
        if not args.keep_venvs:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0
