"""PNG plots of the harness' results (matplotlib: ``pip install 'freeorder[plots]'``).

- ``throughput.png``: throughput against threads per engine, one panel per
  workload (3.13t; the GIL build's reference on one thread as a dotted line);
- ``latency-cdf.png``: per engine, the share of commands done within a latency,
  ``contended`` at 2 threads (3.13t, timed runs);
- ``gil-vs-nogil.png``: per engine, the best throughput over thread counts on
  each interpreter configuration, independent symbols and one contended symbol.

matplotlib is imported only here, after every measurement (some of its C
extensions could turn the GIL back on when imported on 3.13t).
"""

from __future__ import annotations

from pathlib import Path

from .histogram import from_buckets, highest_in_bucket
from .report import LABELS, best, engines_of, run, threads_of, workloads_of

PIP_LINE = "pip install 'freeorder[plots]'   (or: pip install matplotlib)"


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def throughput(results: dict, path: Path) -> None:
    plt = _pyplot()
    main = results.get("nogil") or next(iter(results.values()))
    workloads = workloads_of(main)
    cols = 3
    rows = -(-len(workloads) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(12, 3.6 * rows), squeeze=False)
    threads = threads_of(main)
    ref = run(results.get("gil"), "multi-symbol", "reference", 1)
    for ax, workload in zip(axes.flat, workloads):
        for engine in engines_of(results):
            points = [(t, r["rate"]) for t in threads if (r := run(main, workload, engine, t))]
            if points:
                ax.plot(*zip(*points), marker="o", label=engine)
        if workload == "multi-symbol" and ref:
            ax.axhline(ref["rate"], linestyle=":", color="black", label="reference, GIL build, 1 thr")
        ax.set_title(workload + (" (writer)" if workload == "read-heavy" else ""))
        ax.set_xscale("log", base=2)
        ax.set_xticks(threads, [str(t) for t in threads])
        ax.set_yscale("log")
        ax.set_xlabel("threads")
        ax.set_ylabel("commands/s")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(workloads):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower right", fontsize="small")
    fig.suptitle(f"Throughput against threads ({LABELS.get(main['label'], main['label'])})")
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def latency_cdf(results: dict, path: Path, workload: str = "contended", threads: int = 2) -> None:
    plt = _pyplot()
    main = results.get("nogil") or next(iter(results.values()))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for engine in engines_of(results):
        r = run(main, workload, engine, threads)
        if not r or "buckets" not in r["writer"]:
            continue
        h = from_buckets(r["writer"]["buckets"], r["writer"]["latency"]["max"])
        xs, ys, seen = [], [], 0
        for index, count in enumerate(h.counts):
            if count:
                seen += count
                xs.append(highest_in_bucket(index) / 1e3)
                ys.append(seen / h.count)
        ax.plot(xs, ys, drawstyle="steps-post", label=engine)
    ax.set_xscale("log")
    ax.set_xlabel("latency per command (µs)")
    ax.set_ylabel("share of commands done within it")
    ax.set_title(f"Latency CDF: {workload}, {threads} threads ({LABELS.get(main['label'], main['label'])})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def gil_vs_nogil(results: dict, path: Path) -> None:
    plt = _pyplot()
    labels = [lab for lab in LABELS if lab in results]
    engines = engines_of(results)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    width = 0.8 / max(1, len(labels))
    for ax, workload in zip(axes, ("multi-symbol", "contended")):
        for k, lab in enumerate(labels):
            values = [(best(results[lab], workload, e) or (0, 0))[0] for e in engines]
            ax.bar([i + k * width for i in range(len(engines))], values, width, label=LABELS[lab])
        ax.set_xticks([i + width * (len(labels) - 1) / 2 for i in range(len(engines))], engines, rotation=30)
        ax.set_ylabel("commands/s, best thread count")
        ax.set_title(workload)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize="small")
    fig.suptitle("GIL against no GIL: best throughput per engine")
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def write_all(results: dict, directory: Path) -> list[Path]:
    """The three PNGs into ``directory``; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / "throughput.png", directory / "latency-cdf.png", directory / "gil-vs-nogil.png"]
    throughput(results, paths[0])
    latency_cdf(results, paths[1])
    gil_vs_nogil(results, paths[2])
    return paths
