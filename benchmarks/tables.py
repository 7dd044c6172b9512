"""Markdown tables from the JSON that latency.py, bench_stall.py and profile_calls.py write."""

from __future__ import annotations

import statistics

from freeorder.bench.report import fmt_ns, fmt_ratio  # shared with the engine harness' tables

# each group's lock baseline: the "÷ lock" column divides by it, at the same thread count, per sitting
GROUP_BASELINE = {
    "queue": "Lock+deque (FIFO)",
    "stack": "Lock+deque (LIFO)",
    "sorted map": "Lock+SortedDict",
    "hash map": "Lock+dict",
    "counter": "Lock+int",
}
UNITS = {"queue": "pairs/s", "stack": "pairs/s", "sorted map": "ops/s", "hash map": "ops/s", "counter": "ops/s"}


def fmt_rate(rate) -> str:
    if not rate:
        return "–"
    if rate >= 1e6:
        return f"{rate / 1e6:.2f} M"
    return f"{rate / 1e3:.0f} k"


def _per_sitting_ratio(raw: list[dict], case: str, base: str, threads: int):
    ratios = []
    for s in raw:
        a = s["cases"].get(case, {}).get(str(threads))
        b = s["cases"].get(base, {}).get(str(threads))
        if a and b and a["rate"] and b["rate"] and not a["error"] and not b["error"]:
            ratios.append(a["rate"] / b["rate"])
    return statistics.median(ratios) if ratios else None


def header(result: dict) -> str:
    info = result["interpreter"]
    floor = result.get("timer_floor", {})
    return (
        f"Python {info['python']} ({result['label']}, GIL enabled: {info['gil_enabled']}), {info['cpus']} CPUs, "
        f"measured {result.get('measured_at', '?')}; median of {result['sittings']} interleaved sittings of "
        f"{result['seconds_per_run']} s runs; GC: {info['gc']}. Timer floor (two back-to-back "
        f"perf_counter_ns): p50 {fmt_ns(floor.get('p50'))}, p99.9 {fmt_ns(floor.get('p99.9'))}."
    )


def latency_table(result: dict) -> str:
    """One row per case and thread count: throughput (untimed runs), ÷ lock, latency percentiles (timed runs)."""
    lines = [
        header(result),
        "",
        "| group | structure | threads | throughput | ÷ lock | p50 | p99 | p99.9 | max | notes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, case in result["cases"].items():
        group = case["group"]
        if case["unavailable"] and not case["threads"]:
            lines.append(f"| {group} | {name} | – | – | – | – | – | – | – | {case['unavailable']} |")
            continue
        base = GROUP_BASELINE.get(group)
        for threads, run in case["threads"].items():
            ratio = None if name == base else _per_sitting_ratio(result["raw"], name, base, int(threads))
            lat = run["latency"]
            notes = "; ".join(sorted(set(run["errors"])))[:120]
            lines.append(
                f"| {group} | {name} | {threads} | {fmt_rate(run['rate'])} {UNITS[group]} | {fmt_ratio(ratio)} "
                f"| {fmt_ns(lat['p50'])} | {fmt_ns(lat['p99'])} | {fmt_ns(lat['p99.9'])} | {fmt_ns(lat['max'])} "
                f"| {notes} |"
            )
    micro = result.get("micro", {})
    if micro:
        load = micro.get("AtomicInt.load")
        lines += ["", "| micro-operation (1 thread) | ns per call | ÷ AtomicInt.load |", "|---|---|---|"]
        for name, ns in micro.items():
            ratio = ns / load if ns and load else None
            lines.append(f"| {name} | {fmt_ns(ns)} | {fmt_ratio(ratio)} |")
    return "\n".join(lines)


def stall_table(result: dict) -> str:
    """Per structure and pause method: the other threads' throughput and p99.9 without and with the staller."""
    pause = result["pause"]
    lines = [
        f"Python {result['interpreter']['python']} ({result['label']}), {result['threads']} threads, "
        f"one pauses {pause['requested_ms']} ms ({pause['method']}; measured {fmt_ns(pause['measured_ns_median'])} "
        f"median) every {result['every']} of its operations (the targets), and again busy-waiting 1 ms; "
        f"median of {result['sittings']} sittings of {result['seconds_per_run']} s runs; "
        f"GC: {result['interpreter']['gc']}.",
        "",
        "| structure | pause | pause inside | others' throughput, no stall | others, stalled | stalled ÷ no stall "
        "| ÷ lock's others (stalled) | others' p99.9, no stall | others' p99.9, stalled "
        "| staller (stalled run): pauses, time paused, pairs/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    schedules = {"stalled": pause["method"], "stalled, busy-wait": "busy-wait"}
    for name, case in result["cases"].items():
        if case.get("unavailable"):
            lines.append(f"| {name} | – | – | – | – | – | – | – | – | {case['unavailable']} |")
            continue
        unstalled = case["unstalled"]
        for label, schedule in schedules.items():
            run = case.get(label)
            if not run:
                continue
            lines.append(
                f"| {name} | {schedule} | {case['where']} | {fmt_rate(unstalled['others_rate'])} pairs/s "
                f"| {fmt_rate(run['others_rate'])} pairs/s | {fmt_ratio(run.get('own_ratio'))} "
                f"| {fmt_ratio(run.get('lock_ratio'))} | {fmt_ns(unstalled['others_p99.9'])} "
                f"| {fmt_ns(run['others_p99.9'])} | {staller_cell(run)} |"
            )
    return "\n".join(lines)


def staller_cell(run: dict) -> str:
    """'212 pauses, 71% paused, 3 k pairs/s'."""
    paused = run.get("paused_fraction")
    share = "–" if paused is None else f"{paused:.0%}"
    return f"{run.get('pauses') or 0:.0f} pauses, {share} paused, {fmt_rate(run.get('staller_rate'))} pairs/s"


def verdict_table(verdicts, heading: str = "target") -> str:
    lines = [f"| {heading} | target | measured (median) | per sitting | verdict |", "|---|---|---|---|---|"]
    for v in verdicts:
        per = ", ".join(f"{r:.2f}" for r in v.ratios) or "–"
        lines.append(f"| {v.label} | {v.sense} {v.target} | {fmt_ratio(v.ratio)} | {per} | **{v.status}** |")
    return "\n".join(lines)


def calls_table(before: dict | None, after: dict | None) -> str:
    """Per operation: atomic calls, Python-level calls, other C calls and ns, before and after."""
    def cells(data, op):
        ops = (data or {}).get("ops", {})
        row = ops.get(op)
        if not row:
            return ["–"] * 4
        if row.get("error"):
            return ["n/a"] * 3 + [row["error"][:40]]
        load = ops.get("AtomicInt.load", {}).get("ns")
        scale = f" ({row['ns'] / load:.0f}× load)" if load and op != "AtomicInt.load" else ""
        return [f"{row['atomic_calls']:.1f}", f"{row['python_calls']:.1f}", f"{row['other_c_calls']:.1f}",
                fmt_ns(row["ns"]) + scale]

    ops = list((before or {}).get("ops", {}))
    ops += [op for op in (after or {}).get("ops", {}) if op not in ops]
    lines = [
        "| operation | atomic calls before | Python calls before | other C calls before | ns before "
        "| atomic calls after | Python calls after | other C calls after | ns after |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for op in ops:
        lines.append(f"| {op} | " + " | ".join(cells(before, op) + cells(after, op)) + " |")
    return "\n".join(lines)


def calls_provenance(label: str, data: dict | None) -> str:
    if not data:
        return f"{label}: not measured yet."
    return (f"{label}: commit {data.get('commit', '?')}, Python {data['interpreter']['python']} "
            f"(GIL enabled: {data['interpreter']['gil_enabled']}), measured {data.get('measured_at', '?')}.")
