"""Issue 9's targets: each a ratio of two numbers measured in the same run, median of the sittings.

They replace the first targets (MSQueue >= 1.0x Lock+deque, pin+unpin <= 2x a
load), which measurement showed out of reach for algorithms written in
Python (see benchmarks/README.md, "Targets"). A target whose inputs are
missing (a case not run, not available on this checkout) is reported as
"not measured", never as met.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass
class Verdict:
    label: str
    sense: str  # ">=" or "<="
    target: float
    ratio: float | None  # median of the per-sitting ratios
    ratios: list[float]
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.ratio is None:
            return None
        return self.ratio >= self.target if self.sense == ">=" else self.ratio <= self.target

    @property
    def status(self) -> str:
        return {True: "met", False: "missed", None: "not measured"}[self.met]


def _rate(sitting: dict, case: str, threads: int):
    run = sitting["cases"].get(case, {}).get(str(threads))
    if not run or run.get("error"):
        return None
    return run["rate"] or None


def _micro(sitting: dict, name: str):
    value = sitting["micro"].get(name)
    return value if isinstance(value, (int, float)) and value > 0 else None


def _verdict(label, sense, target, pairs, note="") -> Verdict:
    """``pairs``: per sitting (numerator, denominator); sittings missing either side are skipped."""
    ratios = [a / b for a, b in pairs if a is not None and b is not None]
    ratio = statistics.median(ratios) if ratios else None
    return Verdict(label, sense, target, ratio, ratios, note)


# -- the targets -------------------------------------------------------------------------------

THROUGHPUT_TARGETS = [
    # (label, ours, baseline, threads, target)
    ("MSQueue (default) pairs/s ÷ Lock+deque (FIFO), 2 threads", "MSQueue", "Lock+deque (FIFO)", 2, 0.4),
    ("TreiberStack (default) pairs/s ÷ Lock+deque (LIFO), 2 threads", "TreiberStack", "Lock+deque (LIFO)", 2, 0.4),
    ("SkipListMap ops/s ÷ Lock+SortedDict, 2 threads", "SkipListMap", "Lock+SortedDict", 2, 0.3),
    ("OrderIndex ops/s ÷ Lock+dict, 2 threads", "OrderIndex", "Lock+dict", 2, 0.5),
]

MICRO_TARGETS = [
    # (label, micro-op, target) — time of the op ÷ time of AtomicInt.load, same sitting
    ("pin+unpin (epoch) ÷ AtomicInt.load", "pin+unpin (epoch)", 8.0),
    ("hazard pin+protect+unpin ÷ AtomicInt.load", "hazard pin+protect+unpin", 8.0),
    ("arena alloc+free ÷ AtomicInt.load", "arena alloc+free", 20.0),
]

STALL_TARGETS = [
    # (structure, its lock baseline)
    ("MSQueue", "Lock+deque (FIFO)"),
    ("TreiberStack", "Lock+deque (LIFO)"),
]


def latency_verdicts(result: dict) -> list[Verdict]:
    sittings = result.get("raw", [])
    out = []
    for label, ours, base, threads, target in THROUGHPUT_TARGETS:
        pairs = [(_rate(s, ours, threads), _rate(s, base, threads)) for s in sittings]
        out.append(_verdict(label, ">=", target, pairs))
    # one thread: time per MSQueue pair ÷ time per Lock+deque pair = inverse rate ratio
    pairs = [(_rate(s, "Lock+deque (FIFO)", 1), _rate(s, "MSQueue", 1)) for s in sittings]
    out.append(_verdict("MSQueue pair time ÷ Lock+deque (FIFO) pair time, 1 thread", "<=", 4.0, pairs))
    for label, name, target in MICRO_TARGETS:
        pairs = [(_micro(s, name), _micro(s, "AtomicInt.load")) for s in sittings]
        out.append(_verdict(label, "<=", target, pairs, note="the load measured in the same sitting"))
    return out


def stall_verdicts(result: dict) -> list[Verdict]:
    sittings = result.get("raw", [])
    out = []
    for ours, base in STALL_TARGETS:
        def others(s, case, stalled):
            run = s.get(case, {}).get("stalled" if stalled else "unstalled")
            return run["others_rate"] if run and not run.get("error") else None

        pairs = [(others(s, ours, True), others(s, base, True)) for s in sittings]
        out.append(_verdict(f"stall: {ours} others ÷ {base} others (both stalled)", ">=", 1.0, pairs))
        pairs = [(others(s, ours, True), others(s, ours, False)) for s in sittings]
        out.append(_verdict(f"stall: {ours} others stalled ÷ unstalled", ">=", 0.9, pairs))
    return out


def evaluate(latency: dict | None = None, stall: dict | None = None) -> list[Verdict]:
    """Every target that the given results can decide (the others: not measured)."""
    out = []
    if latency is not None:
        out += latency_verdicts(latency)
    if stall is not None:
        out += stall_verdicts(stall)
    return out
