"""Run the mutation catalogue (mutants/catalogue.py) in a copy of the tree and write the report.

    python mutants/run.py TREE [--runs 3] [--report mutants/report.md] [--timeout 90] [ID ...]

``TREE`` is a copy of the working tree with the extension built (``nox -s
mutants`` makes one); this script only ever writes files inside it, and
restores each mutated file before the next mutant. For each mutant: check
its ``old`` snippet occurs exactly once, write the mutated file, run its
covering tests (``pytest -x``, slow tests excluded) up to ``--runs`` times,
stopping at the first passing run (runs after a failure start with the failed test). Killed means every run failed; the score
counts killed over non-equivalent mutants. Equivalent mutants run once, to
confirm that they survive. First, each distinct test selection runs on the
unmutated copy and must pass (else the report says so and the score is void).

Results are kept per mutant in ``mutants/report.json`` (beside the report):
a run of some ids updates theirs and the report is rendered from all of them,
each row saying when it was measured.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mutants.catalogue import MUTANTS, Mutant  # noqa: E402


FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+?)(?: - |$)", re.MULTILINE)


def pytest_run(tree: Path, tests: tuple, timeout: float, limit: float = 1800.0) -> tuple[int, float, str]:
    """(exit status, seconds, last lines of output) of one run of ``tests`` in ``tree``.

    A test past ``timeout`` ends the whole run (pytest-timeout's thread method: a mutant that
    livelocks a worker thread would otherwise keep the interpreter from exiting); the run as a
    whole is stopped after ``limit`` seconds."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-m", "not slow", "-p", "no:cacheprovider",
               f"--timeout={timeout:g}", "--timeout-method=thread", *tests]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(tree))
    started = time.monotonic()
    try:
        out = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=limit)
        status, text = out.returncode, out.stdout + out.stderr
    except subprocess.TimeoutExpired as exc:
        status, text = -1, f"the whole run exceeded {exc.timeout:g} s"
    summary = [line for line in text.splitlines() if FAILED.match(line)]
    return status, time.monotonic() - started, "\n".join(summary[:1] + text.strip().splitlines()[-2:])


def apply(tree: Path, mutant: Mutant) -> str:
    """Write the mutated file into ``tree``; returns the original text."""
    path = tree / mutant.file
    original = path.read_text()
    count = original.count(mutant.old)
    if count != 1:
        raise ValueError(f"mutant {mutant.id}: its old snippet occurs {count} times in {mutant.file} "
                         "(the catalogue is stale: update the snippet)")
    path.write_text(original.replace(mutant.old, mutant.new))
    return original


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", type=Path)
    parser.add_argument("ids", nargs="*", help="only these mutants")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=90.0, help="pytest-timeout per test, seconds")
    parser.add_argument("--report", type=Path, default=Path("mutants/report.md"))
    parser.add_argument("--render", action="store_true", help="only rewrite the report from the results file")
    args = parser.parse_args(argv)
    if args.render:
        args.ids = None
        save(args, [], {}, time.monotonic())
        return 0
    tree = args.tree.resolve()
    chosen = [m for m in MUTANTS if not args.ids or m.id in args.ids]
    unknown = set(args.ids) - {m.id for m in MUTANTS}
    if unknown:
        parser.error(f"unknown mutant ids: {', '.join(sorted(unknown))}")
    where = subprocess.run([sys.executable, "-c", "import freeorder; print(freeorder.__file__)"], cwd=tree,
                           env=dict(os.environ, PYTHONPATH=str(tree)), capture_output=True, text=True).stdout.strip()
    if not where.startswith(str(tree)):
        parser.error(f"freeorder imports from {where or 'nowhere'}, not from the copy {tree}")
    started = time.monotonic()
    baseline = {}
    for tests in dict.fromkeys(m.tests for m in chosen):
        status, seconds, tail = pytest_run(tree, tests, args.timeout)
        baseline[tests] = (status, seconds)
        print(f"baseline {' '.join(tests)}: {'passes' if status == 0 else 'FAILS'} ({seconds:.0f} s)", flush=True)
        if status != 0:
            print(tail, flush=True)
    rows = []
    for mutant in chosen:
        original = apply(tree, mutant)
        try:
            runs = 1 if mutant.equivalent else args.runs
            failures, seconds, tail, tests = 0, 0.0, "", mutant.tests
            limit = 3 * baseline[mutant.tests][1] + 300  # a run past it counts as failing (a livelock)
            for _ in range(runs):
                status, took, tail = pytest_run(tree, tests, args.timeout, limit)
                seconds += took
                if status == 0:
                    break
                failures += 1
                # the next runs start with the test that failed (a repeat fails fast), then the rest
                failed = FAILED.search(tail)
                tests = (failed.group(1), *mutant.tests) if failed else mutant.tests
        finally:
            (tree / mutant.file).write_text(original)
        killed = failures == runs
        verdict = f"killed ({failures}/{runs})" if killed else ("survived" if failures == 0 else f"flaky ({failures}/{runs})")
        rows.append((mutant, killed, verdict, seconds, time.strftime("%Y-%m-%d %H:%M")))
        print(f"{mutant.id}: {verdict} in {seconds:.0f} s" + ("" if killed else f"\n    {tail}"), flush=True)
        save(args, rows, baseline, started)
    merged = save(args, rows, baseline, started)
    real = [r for r in merged if not r[0].equivalent]
    killed = sum(1 for r in real if r[1])
    print(f"score: {killed}/{len(real)} non-equivalent mutants killed; report: {args.report}")
    return 0 if all(status == 0 for status, _ in baseline.values()) else 1


def save(args, rows, baseline, started: float) -> list:
    """Merge ``rows`` into mutants/report.json and rewrite the report (after every mutant, so an
    interrupted run keeps what it measured); returns the merged rows."""
    results_path = args.report.with_suffix(".json")
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for mutant, killed, verdict, seconds, when in rows:
        results[mutant.id] = {"killed": killed, "verdict": verdict, "seconds": round(seconds), "when": when}
    known = {m.id: m for m in MUTANTS}
    results = {k: v for k, v in results.items() if k in known}
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    merged = [(m, results[m.id]["killed"], results[m.id]["verdict"], results[m.id]["seconds"], results[m.id]["when"])
              for m in MUTANTS if m.id in results]
    write_report(args.report, merged, baseline, time.monotonic() - started, args.runs, args.ids)
    return merged


def write_report(path: Path, rows, baseline, elapsed: float, runs: int, ids) -> None:
    """``rows``: (mutant, killed, verdict, seconds, when measured) for every mutant with a result."""
    real = [r for r in rows if not r[0].equivalent]
    killed = sum(1 for r in real if r[1])
    score = 100.0 * killed / len(real) if real else 0.0
    broken = [tests for tests, (status, _) in baseline.items() if status != 0]
    lines = [
        "# Mutation report",
        "",
        f"`nox -s mutants` (mutants/catalogue.py): **{killed} of {len(real)} non-equivalent mutants killed "
        f"({score:.0f}%)**; killed means the covering tests failed in {runs} runs of {runs}. "
        f"{len(rows) - len(real)} equivalent mutants are listed apart. "
        + (f"Rendered from {path.with_suffix('.json').name} at {time.strftime('%Y-%m-%d %H:%M')}"
           if ids is None else
           f"Last run: `nox -s mutants{' -- ' + ' '.join(ids) if ids else ''}`, {time.strftime('%Y-%m-%d %H:%M')}, "
           f"{elapsed / 60:.0f} min")
        + "; each row says when it was measured.",
        "",
    ]
    if broken:
        lines += ["**The unmutated tree fails these test selections, so the last run's rows are void:** "
                  + "; ".join(" ".join(t) for t in broken), ""]
    lines += ["| mutant | file | kind | planted bug | result | seconds | measured |", "|---|---|---|---|---|---|---|"]
    for mutant, _, verdict, seconds, when in rows:
        if not mutant.equivalent:
            lines.append(f"| {mutant.id} | {mutant.file.removeprefix('freeorder/')} | {mutant.kind} | "
                         f"{mutant.what} | {verdict} | {seconds:.0f} | {when} |")
    lines += ["", "## Equivalent mutants", ""]
    for mutant, _, verdict, _, _ in rows:
        if mutant.equivalent:
            lines.append(f"- **{mutant.id}** ({mutant.what}; {verdict}): {mutant.equivalent}")
    missing = [m.id for m in MUTANTS if m.id not in {r[0].id for r in rows}]
    if missing:
        lines += ["", f"## Not measured yet ({len(missing)} of {len(MUTANTS)})", "", ", ".join(missing)]
    survivors = [r for r in real if not r[1]]
    if survivors:
        lines += ["", "## Survivors", ""]
        lines += [f"- **{m.id}**: {m.what} (tests: `{' '.join(m.tests)}`)" for m, *_ in survivors]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
