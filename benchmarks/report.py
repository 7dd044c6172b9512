"""Render benchmarks/results/atomics-*.json (pyperf) as the table in benchmarks/README.md.

Usage: python benchmarks/report_atomics.py [--print]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
from pathlib import Path

import pyperf

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE / "README.md"
CONFIGS = [
    ("nogil", "3.13t"),
    ("nogil-with-gil", "3.13t PYTHON_GIL=1"),
    ("gil", "3.13 (GIL build)"),
]
BEGIN, END = "<!-- atomics-table:begin -->", "<!-- atomics-table:end -->"
TARGETS = [
    ("AtomicInt.load vs ft_utils get", "uncontended AtomicInt.load", "uncontended ft_utils AtomicInt64.get"),
    ("AtomicInt.fetch_add vs ft_utils incr", "uncontended AtomicInt.fetch_add", "uncontended ft_utils AtomicInt64.incr"),
]
TARGET_RATIO = 1.2


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load() -> dict[str, dict[str, tuple[float, float]]]:
    """config -> benchmark name -> (mean seconds, stdev seconds)."""
    data: dict[str, dict[str, tuple[float, float]]] = {}
    for config, _ in CONFIGS:
        path = RESULTS / f"atomics-{config}.json"
        if not path.exists():
            continue
        suite = pyperf.BenchmarkSuite.load(str(path))
        data[config] = {
            b.get_name(): (b.mean(), b.stdev() if b.get_nvalue() > 1 else 0.0) for b in suite.get_benchmarks()
        }
    return data


def fmt_cell(name: str, value: tuple[float, float] | None) -> str:
    if value is None:
        return "–"
    mean, stdev = value
    if name.startswith("uncontended"):
        return f"{mean * 1e9:.1f} ns ± {stdev * 1e9:.1f}"
    return f"{1 / mean / 1e6:.2f} M/s"


def render(data) -> str:
    configs = [(c, label) for c, label in CONFIGS if c in data]
    names: list[str] = []
    for c, _ in configs:
        names += [n for n in data[c] if n not in names]
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {cpu_model()}, {os.cpu_count()} cores, "
        f"{platform.system()} {platform.release()}; pyperf means (uncontended: time per call; "
        "contended: operations per second summed over all threads).",
        "",
        "| benchmark | " + " | ".join(label for _, label in configs) + " |",
        "|---|" + "---|" * len(configs),
    ]
    for name in names:
        cells = [fmt_cell(name, data[c].get(name)) for c, _ in configs]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", f"Target: uncontended ratio to ft_utils ≤ {TARGET_RATIO}× on the same interpreter.", ""]
    lines.append("| ratio | " + " | ".join(label for _, label in configs) + " |")
    lines.append("|---|" + "---|" * len(configs))
    for label, ours, theirs in TARGETS:
        cells = []
        for c, _ in configs:
            a, b = data[c].get(ours), data[c].get(theirs)
            if a is None or b is None:
                cells.append("–")
            else:
                r = a[0] / b[0]
                cells.append(f"{r:.2f}× {'(met)' if r <= TARGET_RATIO else '(missed)'}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true", help="print the table instead of writing README.md")
    args = parser.parse_args()
    data = load()
    if not data:
        raise SystemExit(f"no results in {RESULTS}; run `nox -t bench` first")
    table = render(data)
    if args.print:
        print(table)
        return
    text = README.read_text()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{README} lacks the markers {BEGIN} … {END}")
    README.write_text(pattern.sub(lambda _: f"{BEGIN}\n{table}\n{END}", text))
    print(f"wrote the atomics table to {README}")


if __name__ == "__main__":
    main()
