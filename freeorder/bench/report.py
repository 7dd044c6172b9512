"""Tables, targets and verdicts from the harness' JSON results (one file per interpreter configuration).

``results`` is ``{label: measure() output}`` with labels ``nogil`` (3.13t),
``nogil-with-gil`` (3.13t, ``PYTHON_GIL=1``) and ``gil`` (the GIL build).
Everything here reads those dicts only, so a report can be rebuilt from
saved files (``python -m freeorder bench --report-only``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

LABELS = {"nogil": "3.13t", "nogil-with-gil": "3.13t PYTHON_GIL=1", "gil": "3.13 GIL build"}
# the seed's §11 table: approach -> (engine, claimed read latency, claimed write latency, its "best for")
SEED_S11 = [
    ("RwLock", "rwlock", "~5 µs", "~10 µs", "Low contention"),
    ("Lock-Free", "lockfree", "~1 µs", "~3 µs", "High contention HFT"),
    ("Sharded", "sharded", "~5 µs", "~10 µs", "Many independent symbols"),
    ("Actor", "actor", "~2 µs", "~5 µs", "Complex workflows"),
    ("RCU", "rcu", "~100 ns", "~100 µs", "Read-heavy workloads"),
    ("Hybrid", "hybrid", "~500 ns", "~5 µs", "Production trading"),
]
# the seed's §9 "expected results": threads -> (RwLock, LockFree) time per iteration in µs
SEED_S9 = {1: (15.2, 18.1), 2: (45.3, 22.4), 4: (125.7, 31.2), 8: (312.4, 48.7), 16: (847.2, 72.3)}


def load(paths) -> dict[str, dict]:
    """``{label: result}`` from JSON files written by ``measure`` (a later file of one label wins)."""
    out = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        out[data["label"]] = data
    return out


# ---------------------------------------------------------------------- lookups and formatting


def run(result: dict | None, workload: str, engine: str, threads: int) -> dict | None:
    if not result:
        return None
    for r in result["runs"]:
        if r["workload"] == workload and r["engine"] == engine and r["threads"] == threads and "skipped" not in r:
            return r
    return None


def engines_of(results: dict) -> list[str]:
    names: list[str] = []
    for result in results.values():
        for r in result["runs"]:
            if r["engine"] not in names:
                names.append(r["engine"])
    return names


def threads_of(result: dict) -> list[int]:
    return sorted({r["threads"] for r in result["runs"]})


def workloads_of(result: dict) -> list[str]:
    out: list[str] = []
    for r in result["runs"]:
        if r["workload"] not in out:
            out.append(r["workload"])
    return out


def best(result: dict | None, workload: str, engine: str) -> tuple[float, int] | None:
    """The highest writer rate of ``engine`` on ``workload`` over thread counts, and its thread count."""
    rates = [(r["rate"], r["threads"]) for r in (result or {}).get("runs", [])
             if r["workload"] == workload and r["engine"] == engine and "skipped" not in r and r.get("rate")]
    return max(rates) if rates else None


def fmt_rate(rate) -> str:
    if not rate:
        return "–"
    return f"{rate / 1e6:.2f} M" if rate >= 1e6 else f"{rate / 1e3:.1f} k"


def fmt_ns(ns) -> str:
    if ns is None:
        return "–"
    if ns < 1_000:
        return f"{ns:.0f} ns"
    if ns < 1_000_000:
        return f"{ns / 1e3:.3g} µs"
    return f"{ns / 1e6:.3g} ms"


def fmt_ratio(x) -> str:
    return "–" if x is None else f"{x:.2f}×"


def gc_cell(gc: dict | None) -> str:
    if not gc:
        return "–"
    if not gc["collections"]:
        return "none"
    return f"{gc['collections']}, max {fmt_ns(gc['pause_max_ns'])}"


def flags(r: dict) -> str:
    notes = []
    if r.get("capped"):
        notes.append("capped")
    if r.get("errors"):
        notes.append("error: " + "; ".join(r["errors"])[:80])
    return " ".join(notes)


# ---------------------------------------------------------------------- headers


def cpu_supply(result: dict) -> float | None:
    """Median, over the untimed runs with 2+ threads and no more threads than CPUs, of the share of
    the CPUs they could use that the threads got (1.0: a CPU per thread; a busy machine gives less)."""
    cpus = result["interpreter"]["cpus"] or 1
    shares = sorted(r["cpu_share"] for r in result["runs"]
                    if "skipped" not in r and 2 <= r["threads"] <= cpus and r.get("cpu_share"))
    return shares[len(shares) // 2] if shares else None


def header(results: dict) -> str:
    lines = []
    for lab, result in results.items():
        supply = cpu_supply(result)
        if supply is not None and supply < 0.75:
            lines.append(f"- **{LABELS.get(lab, lab)}: the machine was busy**: with 2 or more threads (up to one per "
                         f"CPU) each thread got {supply:.0%} of a CPU (median), so wall-clock rates understate "
                         "what the engines do; the CPU shares and per-CPU-second rates are in the full report.")
        info, s = result["interpreter"], result["settings"]
        floor = result.get("timer_floor", {})
        gil_note = f"GIL enabled after imports: {info['gil_enabled_after_imports']}, at end: {result.get('gil_enabled_at_end')}"
        if lab == "nogil" and (info["gil_enabled_after_imports"] or result.get("gil_enabled_at_end")):
            gil_note += " — **the GIL came back on: a C extension without Py_mod_gil was imported**"
        lines.append(
            f"- **{LABELS.get(lab, lab)}**: Python {info['python']} ({info['executable']}), {info['cpus']} CPUs; "
            f"{gil_note}; measured {result['measured_at']} in {result.get('seconds', '?')} s, load average "
            f"{result.get('loadavg_start')} → {result.get('loadavg_end')}; GC: {result['gc_policy_text']}; "
            f"{'quick' if s['quick'] else 'full'} matrix: {s['per_thread']} commands per writer thread, "
            f"median of {s['repeat']} untimed run(s), one timed run, runs capped at {s['cap_seconds']} s; "
            f"timer floor p50 {fmt_ns(floor.get('p50'))}, p99.9 {fmt_ns(floor.get('p99.9'))}.")
    return "\n".join(lines)


# ---------------------------------------------------------------------- targets


@dataclass
class Verdict:
    name: str
    goal: str
    measured: str
    met: bool | None  # None: not measurable from these results
    detail: str = ""

    @property
    def status(self) -> str:
        return "not measured" if self.met is None else "met" if self.met else "missed"


def amdahl_crossing(one: float, two: float, target: float, limit: int = 1024) -> str:
    """The thread count at which ``one`` (1-thread rate) scaled as Amdahl's law fitted to the
    1 -> 2 thread speed-up ``two / one`` passes ``target`` (a core per thread assumed)."""
    if one >= target:
        return "1"
    speedup = two / one
    parallel = 2 * (1 - 1 / speedup) if speedup > 0 else 0.0  # s(2) = 1 / ((1 - p) + p / 2)
    if parallel <= 0:
        return "never (no speed-up from 1 to 2 threads)"
    ceiling = one / (1 - parallel) if parallel < 1 else math.inf
    if ceiling <= target:
        return f"never (Amdahl ceiling {fmt_rate(ceiling)}/s at p = {parallel:.2f})"
    for n in range(2, limit + 1):
        if one / ((1 - parallel) + parallel / n) >= target:
            return f"{n} (Amdahl fit, p = {parallel:.2f})"
    return f"more than {limit}"


def targets(results: dict) -> list[Verdict]:
    nogil, gil = results.get("nogil"), results.get("gil")
    out = []
    # 1. best 3.13t engine at 2 threads >= 0.8x the reference on the GIL build, multi-symbol
    ref = run(gil, "multi-symbol", "reference", 1)
    candidates = [(r["rate"], r["engine"]) for r in (nogil or {}).get("runs", [])
                  if r["workload"] == "multi-symbol" and r["threads"] == 2 and "skipped" not in r]
    if ref and candidates:
        rate, engine = max(candidates)
        one = run(nogil, "multi-symbol", engine, 1)
        ratio = rate / ref["rate"]
        scaling = rate / one["rate"] if one else None
        crossing = amdahl_crossing(one["rate"], rate, ref["rate"]) if one else "–"
        out.append(Verdict(
            "best 3.13t engine, 2 threads, multi-symbol ÷ reference on the GIL build (1 thread)", "≥ 0.8×",
            f"{fmt_ratio(ratio)} ({engine}: {fmt_rate(rate)}/s vs {fmt_rate(ref['rate'])}/s)", ratio >= 0.8,
            f"{engine} on 3.13t, 2 threads ÷ 1 thread: {fmt_ratio(scaling)}; threads at which 3.13t would pass "
            f"the GIL build's reference: {crossing}"))
    else:
        out.append(Verdict("best 3.13t engine, 2 threads, multi-symbol ÷ reference on the GIL build", "≥ 0.8×",
                           "needs the 3.13t and GIL build results (2 and 1 threads)", None))
    # 2. stalled thread: lockfree's others vs rwlock's others
    stalls = {s["engine"]: s for s in (nogil or {}).get("stall", []) if "skipped" not in s}
    lf, rw = stalls.get("lockfree"), stalls.get("rwlock")
    if lf and rw and "stalled" in lf and "stalled" in rw:
        tight = rw["stalled"]["others_latency"]["p99.9"] / max(1, lf["stalled"]["others_latency"]["p99.9"])
        out.append(Verdict("stalled thread, 4 threads: rwlock's others' p99.9 ÷ lockfree's", "≥ 10×",
                           f"{fmt_ratio(tight)} ({fmt_ns(rw['stalled']['others_latency']['p99.9'])} vs "
                           f"{fmt_ns(lf['stalled']['others_latency']['p99.9'])})", tight >= 10))
        thr = lf["stalled"]["others_rate"] / rw["stalled"]["others_rate"]
        out.append(Verdict("stalled thread, 4 threads: lockfree's others' throughput ÷ rwlock's", "≥ 1.0×",
                           f"{fmt_ratio(thr)} ({fmt_rate(lf['stalled']['others_rate'])}/s vs "
                           f"{fmt_rate(rw['stalled']['others_rate'])}/s)", thr >= 1.0))
    else:
        out.append(Verdict("stalled thread: lockfree vs rwlock", "p99.9 ≥ 10× tighter, throughput ≥ 1.0×",
                           "needs the 3.13t stall results of lockfree and rwlock", None))
    # 3. read-heavy: the writer keeps >= 0.9x its rate with one reader
    for engine in ("rcu", "hybrid", "lockfree"):
        alone, paired = run(nogil, "read-heavy", engine, 1), run(nogil, "read-heavy", engine, 2)
        if alone and paired:
            ratio = paired["rate"] / alone["rate"]
            by_cpu = paired["cpu_rate"] / alone["cpu_rate"] if alone.get("cpu_rate") else None
            out.append(Verdict(f"read-heavy, {engine}: writer with 1 reader ÷ writer alone", "≥ 0.9×",
                               f"{fmt_ratio(ratio)} ({fmt_rate(paired['rate'])}/s vs {fmt_rate(alone['rate'])}/s; "
                               f"reader {fmt_rate(paired.get('reader_rate'))}/s)", ratio >= 0.9,
                               f"per CPU-second of the writer: {fmt_ratio(by_cpu)}; the writer's share of a CPU: "
                               f"{alone.get('cpu_share', 0):.0%} alone, {paired.get('cpu_share', 0):.0%} with the reader"))
        else:
            out.append(Verdict(f"read-heavy, {engine}: writer with 1 reader ÷ alone", "≥ 0.9×",
                               "needs 3.13t read-heavy at 1 and 2 threads", None))
    return out


def targets_table(results: dict) -> str:
    lines = ["| target | goal | measured (3.13t) | verdict | beside it |", "|---|---|---|---|---|"]
    for v in targets(results):
        lines.append(f"| {v.name} | {v.goal} | {v.measured} | **{v.status}** | {v.detail} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------- the seed's §11 table, measured


def s11_table(results: dict, lab: str = "nogil") -> str:
    result = results.get(lab)
    if not result:
        return f"(no {LABELS.get(lab, lab)} results)"
    lines = [
        f"{LABELS.get(lab, lab)}. Read and write latency: p50 (p99.9) of the reader's reads (best, depth(5), "
        "snapshot) and of the writer's commands in `read-heavy` with 1 writer + 1 reader; throughput: "
        "commands/s of all threads.",
        "",
        "| approach (engine) | read latency | write latency | contended, 2 thr | contended, 8 thr "
        "| multi-symbol, 2 thr | multi-symbol, 8 thr | the design document claims: read | write | its \"best for\" |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [(a, e, r, w, b) for a, e, r, w, b in SEED_S11]
    known = {e for _, e, *_ in SEED_S11}
    rows += [(e, e, "–", "–", "–") for e in engines_of(results) if e not in known and e != "reference"]
    for approach, engine, claim_read, claim_write, best_for in rows:
        pair = run(result, "read-heavy", engine, 2)
        read = (f"{fmt_ns(pair['reader']['latency']['p50'])} ({fmt_ns(pair['reader']['latency']['p99.9'])})"
                if pair and "reader" in pair and "latency" in pair["reader"] else "–")
        write = (f"{fmt_ns(pair['writer']['latency']['p50'])} ({fmt_ns(pair['writer']['latency']['p99.9'])})"
                 if pair else "–")
        cells = [fmt_rate((run(result, w, engine, t) or {}).get("rate"))
                 for w in ("contended", "multi-symbol") for t in (2, 8)]
        name = approach if approach == engine else f"{approach} (`{engine}`)"
        lines.append(f"| {name} | {read} | {write} | " + " | ".join(cells)
                     + f" | {claim_read} | {claim_write} | {best_for} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------- throughput and latency tables


def throughput_table(results: dict, workload: str, lab: str = "nogil") -> str:
    main = results.get(lab)
    if not main:
        return f"(no {LABELS.get(lab, lab)} results)"
    threads = threads_of(main)
    others = [x for x in results if x != lab]
    unit = "writer commands/s" if workload == "read-heavy" else "commands/s, all threads"
    head = "| engine | " + " | ".join(f"{t} thr" for t in threads) + "".join(
        f" | {LABELS.get(o, o)}, best" for o in others) + (f" | {LABELS.get(lab, lab)} best ÷ GIL build best" if
                                                             "gil" in others else "") + " |"
    lines = [f"`{workload}`, {LABELS.get(lab, lab)} unless named ({unit}; `–`: not run, see notes):", "",
             head, "|---" * (1 + len(threads) + len(others) + ("gil" in others)) + "|"]
    for engine in engines_of(results):
        cells = []
        for t in threads:
            r = run(main, workload, engine, t)
            cell = fmt_rate(r["rate"]) if r else "–"
            if r and workload == "read-heavy" and r.get("reader_rate"):
                cell += f" (reads {fmt_rate(r['reader_rate'])})"
            cells.append(cell + (" †" if r and flags(r) else ""))
        for o in others:
            b = best(results[o], workload, engine)
            cells.append(f"{fmt_rate(b[0])} @{b[1]}" if b else "–")
        if "gil" in others:
            mine, theirs = best(main, workload, engine), best(results["gil"], workload, engine)
            cells.append(fmt_ratio(mine[0] / theirs[0]) if mine and theirs else "–")
        lines.append(f"| {engine} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def seed_s9_table(results: dict, lab: str = "nogil") -> str:
    """Time per batch (every thread adding its 1,000 orders), beside the design document's "expected results"."""
    main = results.get(lab)
    if not main:
        return f"(no {LABELS.get(lab, lab)} results)"
    threads = threads_of(main)
    lines = [f"`seed-s9`, {LABELS.get(lab, lab)}: wall time for N threads to add 1,000 random orders each to one "
             "book (median of the untimed runs; µs).", "",
             "| engine | " + " | ".join(f"{t} thr" for t in threads) + " |", "|---" * (1 + len(threads)) + "|"]
    for engine in engines_of(results):
        cells = []
        for t in threads:
            r = run(main, "seed-s9", engine, t)
            cells.append(f"{r['wall_s'] * 1e6:,.0f}" if r else "–")
        lines.append(f"| {engine} | " + " | ".join(cells) + " |")
    for k, name in ((0, "the design document claims: RwLock"), (1, "the design document claims: LockFree")):
        lines.append(f"| *{name}* | " + " | ".join(str(SEED_S9[t][k]) if t in SEED_S9 else "–" for t in threads)
                     + " |")
    return "\n".join(lines)


def latency_table(results: dict, lab: str = "nogil", threads=(2, 8)) -> str:
    main = results.get(lab)
    if not main:
        return f"(no {LABELS.get(lab, lab)} results)"
    lines = [f"{LABELS.get(lab, lab)}, per command (writers; read-heavy: the writer and, below it, the reader), "
             "timed runs; GC: collections during the timed run and the longest pause.", "",
             "| workload | engine | threads | p50 | p99 | p99.9 | max | GC pauses | notes |",
             "|---|---|---|---|---|---|---|---|---|"]
    for workload in workloads_of(main):
        for engine in engines_of(results):
            for t in threads:
                r = run(main, workload, engine, t)
                if not r or "latency" not in r["writer"]:
                    continue
                parts = [("", r["writer"]["latency"])]
                if "reader" in r and "latency" in r["reader"]:
                    parts.append((" (reader)", r["reader"]["latency"]))
                for suffix, lat in parts:
                    lines.append(f"| {workload} | {engine}{suffix} | {t} | {fmt_ns(lat['p50'])} | {fmt_ns(lat['p99'])} "
                                 f"| {fmt_ns(lat['p99.9'])} | {fmt_ns(lat['max'])} | {gc_cell(r['gc'])} | {flags(r)} |")
    return "\n".join(lines)


def stall_table(results: dict, lab: str = "nogil") -> str:
    main = results.get(lab)
    if not main or not main.get("stall"):
        return f"(no {LABELS.get(lab, lab)} stall results)"
    lines = [f"{LABELS.get(lab, lab)}: 4 threads on one symbol; thread 0 pauses 1 ms every 100 of its commands "
             "inside the command; the other three threads' numbers.", "",
             "| engine | pause at | others' throughput, no stall | stalled | stalled ÷ no stall "
             "| others' p99.9, no stall | stalled | staller: pauses, time paused | GC pauses (stalled) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in main["stall"]:
        if "skipped" in s:
            lines.append(f"| {s['engine']} | – | – | – | – | – | – | {s['skipped']} | – |")
            continue
        un, st = s["unstalled"], s["stalled"]
        lines.append(
            f"| {s['engine']} | `{s['where']}` | {fmt_rate(un['others_rate'])}/s | {fmt_rate(st['others_rate'])}/s "
            f"| {fmt_ratio(st['others_rate'] / un['others_rate'] if un['others_rate'] else None)} "
            f"| {fmt_ns(un['others_latency']['p99.9'])} | {fmt_ns(st['others_latency']['p99.9'])} "
            f"| {st['pauses']}, {st['paused_ms']:.0f} ms | {gc_cell(st.get('gc'))} |")
    return "\n".join(lines)


def details_table(results: dict) -> str:
    """Every run of every configuration (the full record behind the summaries)."""
    lines = ["| config | workload | engine | threads | throughput | per CPU-second | CPU share | p50 | p99 | p99.9 "
             "| max | GC pauses | refused | notes |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for lab, result in results.items():
        for r in result["runs"]:
            if "skipped" in r:
                lines.append(f"| {lab} | {r['workload']} | {r['engine']} | {r['threads']} | – | – | – | – | – | – "
                             f"| – | – | – | {r['skipped']} |")
                continue
            lat = r["writer"].get("latency", {})
            gc_all = gc_cell(r["gc"]) + (f"; untimed runs: {gc_cell(r['gc_untimed'])}" if r.get("gc_untimed") else "")
            lines.append(
                f"| {lab} | {r['workload']} | {r['engine']} | {r['threads']} | {fmt_rate(r['rate'])}/s "
                f"| {fmt_rate(r.get('cpu_rate'))}/s | {r.get('cpu_share', 0):.0%} | {fmt_ns(lat.get('p50'))} | {fmt_ns(lat.get('p99'))} | {fmt_ns(lat.get('p99.9'))} "
                f"| {fmt_ns(lat.get('max'))} | {gc_all} | {r['writer']['refused']} | {flags(r)} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------- verdicts (compare)


def verdict_lines(results: dict) -> list[str]:
    """One line per engine: 3.13t against the GIL build, independent symbols and one contended symbol."""
    nogil, gil = results.get("nogil"), results.get("gil")
    if not nogil or not gil:
        return ["(verdicts need both the 3.13t and the GIL build's results)"]
    lines = []
    width = max(len(e) for e in engines_of(results))
    for engine in engines_of(results):
        parts, ratios = [], {}
        for workload, what in (("multi-symbol", "independent symbols"), ("contended", "one contended symbol")):
            mine, theirs = best(nogil, workload, engine), best(gil, workload, engine)
            if mine and theirs:
                ratios[workload] = mine[0] / theirs[0]
                parts.append(f"{what} {ratios[workload]:.2f}× ({fmt_rate(mine[0])}/s @{mine[1]} thr vs "
                             f"{fmt_rate(theirs[0])}/s @{theirs[1]})")
        if not ratios:
            continue
        key = ratios.get("multi-symbol", next(iter(ratios.values())))
        word = "3.13t faster" if key >= 1.1 else "GIL build faster" if key <= 0.9 else "about even"
        lines.append(f"{engine + ':':<{width + 1}} {word:<16} (3.13t ÷ GIL build, each at its best thread count) "
                     + "; ".join(parts))
    return lines


def markdown(results: dict, full: bool = True) -> str:
    """The report: settings, targets, the §11 table, throughput, the seed's §9, stall, verdicts;
    ``full`` adds the latency table and every run's record."""
    sections = [
        "### Runs\n\n" + header(results),
        "### Targets\n\n" + targets_table(results),
        "### The design document's §11 comparison, measured\n\n" + s11_table(results),
    ]
    if "gil" in results:
        sections.append(s11_table(results, "gil"))
    first = next(iter(results.values()))
    for workload in workloads_of(first):
        if workload == "seed-s9":
            sections.append("### The design document's §9 benchmark\n\n" + seed_s9_table(results))
        else:
            sections.append(f"### Throughput: `{workload}`\n\n" + throughput_table(results, workload))
    sections.append("### Stalled thread\n\n" + stall_table(results))
    sections.append("### Verdicts, 3.13t against the GIL build\n\n```\n" + "\n".join(verdict_lines(results)) + "\n```")
    if full:
        sections.append("### Latency at 2 and 8 threads\n\n" + latency_table(results))
        sections.append("### Every run\n\n" + details_table(results))
    return "\n\n".join(sections) + "\n"


def replace_between_markers(text: str, body: str, name: str = "harness") -> str:
    """``text`` with what lies between ``<!-- name:begin -->`` and ``<!-- name:end -->`` replaced."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin not in text or end not in text:
        raise ValueError(f"the markers {begin} ... {end} are missing")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{body}\n{end}{tail}"
