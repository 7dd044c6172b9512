"""The engine harness: ``python -m freeorder bench`` and ``python -m freeorder compare``.

``bench`` measures every engine (``freeorder.engines.ENGINES`` but the seed
demonstration) on five workloads (``freeorder.bench.workloads``) at 1, 2,
4, 8 and 16 threads, then the stalled-thread scenario
(``freeorder.bench.stall``), on this interpreter, and writes
``<out>/bench-<config>.json`` (config: ``nogil``, ``nogil-with-gil`` or
``gil``). It then reports over every ``bench-*.json`` in ``<out>`` -- so
running it under several interpreters into one directory compares them --
as Markdown (``<out>/report.md``, optionally between markers in a README),
PNG plots (with matplotlib) and the targets' verdicts. ``--python PATH``
(repeatable) runs the measurements under other interpreters instead, in
subprocesses (freeorder must be importable there; a free-threaded one runs
twice, with the GIL off and with ``PYTHON_GIL=1``).

``compare`` finds the interpreters ``scripts/bootstrap.sh`` builds (or takes
``--python-nogil``/``--python-gil``), makes a temporary venv for each,
installs this freeorder into it, runs the quick matrix and prints the
GIL-against-no-GIL table with one verdict line per engine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_OUT = "freeorder-bench"


def _csv(kind):
    def parse(text: str) -> list:
        try:
            return [kind(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__}s, got {text!r}") from None

    return parse


def bench_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="freeorder bench",
                                description="Engines x workloads x threads on this interpreter: JSON, Markdown, plots.")
    p.add_argument("--quick", action="store_true", help="threads 1,2,8, short runs, one sitting (about a minute)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"results directory (default: ./{DEFAULT_OUT})")
    p.add_argument("--workloads", type=_csv(str), help="comma-separated subset of the workloads")
    p.add_argument("--engines", type=_csv(str), help="comma-separated subset of the engines")
    p.add_argument("--threads", type=_csv(int), help="comma-separated thread counts")
    p.add_argument("--per-thread", type=int, help="commands per writer thread")
    p.add_argument("--repeat", type=int, help="untimed runs per combination (their median is reported)")
    p.add_argument("--cap", type=float, help="seconds after which a run stops")
    p.add_argument("--gc", choices=["raised", "interpreter", "off"], default="raised",
                   help="GC during runs: enabled with a raised threshold (default), the interpreter's, or off")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-stall", action="store_true", help="skip the stalled-thread scenario")
    p.add_argument("--python", action="append", metavar="PATH",
                   help="measure under this interpreter instead (repeatable; freeorder must be installed there)")
    p.add_argument("--measure-only", action="store_true", help="write the JSON, no report")
    p.add_argument("--report-only", action="store_true", help="report on the JSON already in --out")
    p.add_argument("--readme", help="also write the report between <!-- harness:begin/end --> in this file")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--profile", metavar="WORKLOAD:ENGINE",
                   help="profile one thread of ENGINE on WORKLOAD (cProfile) and print the top costs")
    return p


def settings_from(args):
    from .harness import FULL, QUICK, Settings

    base = QUICK if args.quick else FULL
    fields = dict(base.__dict__)
    for name, value in (("workloads", args.workloads), ("engines", args.engines), ("threads", args.threads),
                        ("per_thread", args.per_thread), ("repeat", args.repeat), ("cap_seconds", args.cap)):
        if value is not None:
            fields[name] = value
    fields.update(gc=args.gc, seed=args.seed, stall=not args.no_stall)
    if args.per_thread is not None:
        fields["stall_per_thread"] = args.per_thread
    settings = Settings(**fields)
    from .harness import available_engines
    from .workloads import WORKLOADS

    for name, chosen, known in (("workload", settings.workloads, WORKLOADS),
                                ("engine", settings.engines or [], available_engines())):
        unknown = [x for x in chosen if x not in known]
        if unknown:
            raise SystemExit(f"--{name}s: unknown {name} {', '.join(unknown)}; known: {', '.join(known)}")
    if any(t < 1 for t in settings.threads):
        raise SystemExit(f"--threads={settings.threads}: thread counts must be >= 1")
    return settings


def forwarded(args) -> list[str]:
    """The measurement options to pass on to a child interpreter."""
    out = ["--quick"] if args.quick else []
    for flag, value in (("--workloads", args.workloads), ("--engines", args.engines), ("--threads", args.threads)):
        if value:
            out += [flag, ",".join(map(str, value))]
    for flag, value in (("--per-thread", args.per_thread), ("--repeat", args.repeat), ("--cap", args.cap)):
        if value is not None:
            out += [flag, str(value)]
    out += ["--gc", args.gc, "--seed", str(args.seed)] + (["--no-stall"] if args.no_stall else [])
    return out


class _Progress:
    """A rich progress bar on stderr (a plain line per step if rich is missing)."""

    def __init__(self, total: int, title: str) -> None:
        self.total, self.done, self.title = total, 0, title
        try:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), transient=False)
        except ImportError:
            self._bar = None

    def __enter__(self):
        if self._bar is not None:
            self._bar.__enter__()
            self._task = self._bar.add_task(self.title, total=self.total)
        return self

    def __call__(self, description: str) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=f"{self.title}: {description}")
        else:
            print(f"[{self.done}/{self.total}] {description}", file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def measure_here(args, out: Path) -> Path:
    import json

    from .harness import label, measure, steps

    settings = settings_from(args)
    with _Progress(steps(settings), f"bench {label()}") as progress:
        result = measure(settings, progress)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench-{result['label']}.json"
    path.write_text(json.dumps(result, separators=(",", ":")))
    gil = result["interpreter"]["gil_enabled_after_imports"] or result["gil_enabled_at_end"]
    print(f"wrote {path} (GIL enabled: {gil}; {result['seconds']} s)")
    if result["label"] == "nogil" and gil:
        print("WARNING: the GIL came back on during the run: a C extension without Py_mod_gil was imported",
              file=sys.stderr)
    return path


def configs_of(python: str) -> list[tuple[str, dict]]:
    """``[(label, environment)]`` to run ``python`` under: both GIL modes for a free-threaded build."""
    probe = subprocess.run([python, "-c", "import sysconfig; print(bool(sysconfig.get_config_var('Py_GIL_DISABLED')))"],
                           capture_output=True, text=True, check=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    if probe.stdout.strip() == "True":
        return [("nogil", env | {"PYTHON_GIL": "0"}), ("nogil-with-gil", env | {"PYTHON_GIL": "1"})]
    return [("gil", env)]


def measure_elsewhere(pythons: list[str], extra: list[str], out: Path) -> list[Path]:
    """Run the measurements under each interpreter (a subprocess each); returns the JSON paths."""
    paths = []
    for python in pythons:
        for lab, env in configs_of(python):
            print(f"== {lab}: {python}", flush=True)
            subprocess.run([python, "-m", "freeorder", "bench", "--measure-only", "--out", str(out), *extra],
                           env=env, check=True)
            paths.append(out / f"bench-{lab}.json")
    return paths


def write_report(out: Path, readme: str | None, plots_wanted: bool) -> dict:
    """report.md (and plots, and the README section) from every bench-*.json in ``out``; prints the
    targets and the verdicts."""
    from . import plots, report as rep

    files = sorted(out.glob("bench-*.json"))
    if not files:
        raise SystemExit(f"no bench-*.json in {out}: measure first")
    results = rep.load(files)
    text = rep.markdown(results)  # report.md: everything; a README gets the summary and a link to it
    images: list[Path] = []
    if plots_wanted:
        if plots.available():
            images = plots.write_all(results, out)
        else:
            print(f"plots skipped: matplotlib is not installed; {plots.PIP_LINE}")
    (out / "report.md").write_text(text + "".join(f"\n![{p.stem}]({p.name})\n" for p in images))
    if readme:
        path = Path(readme)
        rel = [os.path.relpath(p, path.parent) for p in images]
        details = os.path.relpath(out / "report.md", path.parent)
        body = (rep.markdown(results, full=False) + "".join(f"\n![{Path(r).stem}]({r})\n" for r in rel)
                + f"\nLatency percentiles of every run, GC pauses and CPU shares: [{details}]({details}).\n")
        path.write_text(rep.replace_between_markers(path.read_text(), body))
        print(f"updated {path}")
    print(rep.targets_table(results))
    print()
    print("\n".join(rep.verdict_lines(results)))
    print(f"\nfull report: {out / 'report.md'}")
    return results


def profile(spec: str, args) -> int:
    """cProfile one thread running ``ENGINE`` on ``WORKLOAD``; prints the top 20 functions by own time.

    One thread only: since 3.12 cProfile hooks every thread (``sys.monitoring``), and one
    profiler driven by several threads at once is not safe on 3.13t.
    """
    import cProfile
    import pstats

    from . import runner
    from .harness import close, make_engine
    from .workloads import prepare

    workload, _, engine_name = spec.partition(":")
    if not engine_name:
        raise SystemExit(f"--profile={spec!r}: expected WORKLOAD:ENGINE")
    settings = settings_from(args)
    prepared = prepare(workload, 1, settings.per_thread, settings.seed)
    engine = make_engine(engine_name, prepared.instruments)
    profiler = cProfile.Profile()
    try:
        runner.execute(engine, prepared, timed=False, cap_seconds=settings.cap_seconds, gc=settings.gc,
                       setup=lambda i: profiler.enable())
    finally:
        profiler.disable()
        close(engine)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    return 0


def bench_main(argv: list[str]) -> int:
    args = bench_parser().parse_args(argv)
    out = Path(args.out)
    if args.profile:
        return profile(args.profile, args)
    if not args.report_only:
        if args.python:
            measure_elsewhere(args.python, forwarded(args), out)
        else:
            measure_here(args, out)
    if not args.measure_only:
        write_report(out, args.readme, not args.no_plots)
    return 0


def register(sub) -> None:
    """Add ``bench`` and ``compare`` to the ``freeorder`` command's subparsers; each parses its
    own options (``freeorder bench --help``)."""
    for name, text in (("bench", "engines x workloads x threads here: JSON, tables, plots, targets"),
                       ("compare", "3.13t against the GIL build in temporary venvs: one verdict per engine")):
        parser = sub.add_parser(name, help=text, add_help=False, prefix_chars="\0")
        parser.add_argument("rest", nargs=argparse.REMAINDER)
        parser.set_defaults(run=lambda args, name=name: main([name, *args.rest]))


def main(argv: list[str]) -> int:
    """``argv[0]`` is ``bench`` or ``compare``."""
    started = time.perf_counter()
    if argv[0] == "compare":
        from .compare import compare_main

        code = compare_main(argv[1:])
    else:
        code = bench_main(argv[1:])
    print(f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return code
