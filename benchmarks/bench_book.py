"""The order book's own speed on one thread and its scaling on two.

1. ``ratio``: ``ReferenceEngine`` against the minimal book of
   ``baseline_book.py`` on the same pre-generated commands: the limit, cancel and
   market orders of a seeded ``OrderFlow`` (its modifies and IOC orders dropped,
   its self-trade-prevention flag cleared, so both books do the same work).
   Runs alternate engine by engine; the ratio is taken within each round and
   the median and spread (min-max) over rounds are printed. Target >= 0.5x.
2. ``scaling``: two threads, each replaying its own symbol's commands, through
   two ``ReferenceEngine``s and through one engine holding both symbols,
   against one thread replaying one symbol's commands (in a worker thread too).
   A round runs every case once; the ratio ``2 x (1-thread time) / (2-thread
   time)`` is taken within the round; median and spread over rounds. A
   pure-Python control (thread-local work, no sharing) runs in every round
   too: a round whose control scaled >= 1.8x had two free cores, and the
   medians are also given over those rounds only (the benchmark goes on, up to
   ``--max-rounds``, until ``--want-free`` such rounds were seen). The same
   is then measured in a child process with ``FREEORDER_NO_IMMORTAL=1``
   (nothing made immortal by freeorder). Target >= 1.9x.
3. ``check``: what a concurrent-use check would cost ``ReferenceEngine``
   (``CheckedEngine`` below, a non-blocking lock per symbol, against the
   engine), alternated. The issue allowed one if it cost under 5%.

GC policy: every timed section runs with the cyclic GC disabled
(``gc.collect()`` then ``gc.disable()``; re-enabled after), because 3.13t's
collector walks the whole heap. Throughput: one-thread sections (ratio, check)
count commands per CPU second of the running thread (``time.thread_time``),
which a busy machine disturbs less than wall time; the scaling section must
use wall time (two threads in parallel) and is the noisier for it.

Usage::

    python benchmarks/bench_book.py                 # all three, print a table
    python benchmarks/bench_book.py ratio --rounds 9
    python benchmarks/bench_book.py --write-readme  # also write the table into README.md
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from baseline_book import BaselineBook  # noqa: E402

from freeorder.book import Instrument, OrderType, SelfTradePrevention, Side  # noqa: E402
from freeorder.engines import ReferenceEngine  # noqa: E402
from freeorder.engines.workload import OrderFlow  # noqa: E402

README = HERE / "README.md"
BEGIN, END = "<!-- book-table:begin -->", "<!-- book-table:end -->"

LIMIT_K, MARKET_K, CANCEL_K = 0, 1, 2  # small ints: immortal, no refcount traffic between threads
MARKET = OrderType.MARKET
STP_NONE = SelfTradePrevention.NONE


# ---------------------------------------------------------------- workload


def commands(symbol: str, n: int, seed: int) -> list[tuple]:
    """``n`` commands for one symbol: (LIMIT_K, side, qty, price, owner),
    (MARKET_K, side, qty, owner) or (CANCEL_K, order_id)."""
    flow = OrderFlow([symbol], seed)
    out: list[tuple] = []
    issued = 0

    class _Issued:  # what OrderFlow.observe reads from a submit's result
        order_id = 0

    while len(out) < n:
        c = flow.next()
        if c.method == "cancel":
            out.append((CANCEL_K, c.args[0]))
            continue
        if c.method != "submit" or c.kwargs.get("time_in_force") is not None:
            continue  # modify / IOC: the baseline has neither
        issued += 1
        _Issued.order_id = issued
        flow.observe(c, _Issued)
        owner = c.kwargs["owner"]
        if c.kwargs.get("order_type") is MARKET:
            out.append((MARKET_K, c.args[0], c.args[1], owner))
        else:
            out.append((LIMIT_K, c.args[0], c.args[1], c.args[2], owner))
    return out


def drive_baseline(book: BaselineBook, cmds: list[tuple]) -> None:
    limit, market, cancel = book.limit, book.market, book.cancel
    for c in cmds:
        k = c[0]
        if k == LIMIT_K:
            limit(c[1], c[2], c[3])
        elif k == CANCEL_K:
            cancel(c[1])
        else:
            market(c[1], c[2])


def drive_engine(engine, symbol: str, cmds: list[tuple]) -> None:
    submit, cancel = engine.submit, engine.cancel
    market = MARKET
    for c in cmds:
        k = c[0]
        if k == LIMIT_K:
            submit(symbol, c[1], c[2], c[3], owner=c[4])
        elif k == CANCEL_K:
            cancel(symbol, c[1])
        else:
            submit(symbol, c[1], c[2], order_type=market, owner=c[3])


def timed(fn, *args) -> float:
    """CPU seconds this thread spent in ``fn(*args)`` (GC disabled): on a shared,
    busy machine CPU time is steadier than wall time for one-thread ratios."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.thread_time()
        fn(*args)
        return time.thread_time() - t0
    finally:
        gc.enable()


def summary(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


# ---------------------------------------------------------------- 1. ratio


def alternate(cases: dict, rounds: int) -> dict[str, list[float]]:
    """``cases``: name -> (make, drive); time ``drive(make())`` (not the making, nor
    the teardown) once per case per round, the order rotating between rounds."""
    names = list(cases)
    for make, drive in cases.values():  # warm-up
        drive(make())
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            make, drive = cases[name]
            subject = make()
            times[name].append(timed(drive, subject))
            del subject
    return times


def bench_ratio(n: int, rounds: int) -> dict:
    cmds = commands("AAA", n, 1)
    cases = {
        "baseline": (BaselineBook, lambda book: drive_baseline(book, cmds)),
        "reference record_events=False": (
            lambda: ReferenceEngine([Instrument("AAA")], record_events=False),
            lambda engine: drive_engine(engine, "AAA", cmds),
        ),
        "reference record_events=True": (
            lambda: ReferenceEngine([Instrument("AAA")]),
            lambda engine: drive_engine(engine, "AAA", cmds),
        ),
    }
    times = alternate(cases, rounds)
    names = list(cases)
    out = {"n": n, "rounds": rounds, "rate": {}, "ratio": {}}
    for name in names:
        out["rate"][name] = statistics.median(n / t for t in times[name])
    for name in names[1:]:
        out["ratio"][name] = summary([b / t for b, t in zip(times["baseline"], times[name])])
    return out


# ---------------------------------------------------------------- 2. scaling


FREE_CORES_CONTROL = 1.8


class Workers:
    """Two long-lived worker threads (so their allocator heaps stay warm between
    runs, as a server's threads would); ``run(bodies)`` runs body i on worker i,
    released together, and returns the wall time from the first start to the
    last finish (each worker stamps its own)."""

    def __init__(self, count: int = 2) -> None:
        import queue

        self.inboxes = [queue.SimpleQueue() for _ in range(count)]
        self.outbox: queue.SimpleQueue = queue.SimpleQueue()
        self.cpu: list[list[float]] = []  # per run: CPU seconds of each thread
        self.threads = [threading.Thread(target=self._serve, args=(box,), daemon=True) for box in self.inboxes]
        for t in self.threads:
            t.start()

    def _serve(self, inbox) -> None:
        while (job := inbox.get()) is not None:
            barrier, body = job
            barrier.wait()
            start, cpu = time.perf_counter(), time.thread_time()
            body()
            self.outbox.put((start, time.perf_counter(), time.thread_time() - cpu))

    def run(self, bodies) -> float:
        barrier = threading.Barrier(len(bodies))
        gc.collect()
        gc.disable()
        try:
            for box, body in zip(self.inboxes, bodies):
                box.put((barrier, body))
            stamps = [self.outbox.get() for _ in bodies]
            wall = max(end for _, end, _ in stamps) - min(start for start, _, _ in stamps)
            self.cpu.append([cpu for _, _, cpu in stamps])
            return wall
        finally:
            gc.enable()

    def close(self) -> None:
        for box in self.inboxes:
            box.put(None)
        for t in self.threads:
            t.join()


def control_body(n: int):
    """Pure-Python thread-local work of roughly an order's weight: no shared objects."""

    def body():
        d = {}
        acc = 0
        for i in range(n):
            t = (i, i + 1, i + 2)
            d[i & 1023] = t
            acc += t[1]
        return acc

    return body


def keeping_body(n: int):
    """Thread-local work that, like the book, allocates records and keeps them
    (memory grows as it runs): what the machine gives allocation-heavy code."""

    def body():
        kept = []
        append = kept.append
        for i in range(n):
            append([i, i + 1, None, (i, i)])
        return len(kept)

    return body


def bench_scaling(n: int, rounds: int, want_free: int = 0, max_rounds: int = 0) -> dict:
    """``rounds`` rounds, then more (up to ``max_rounds``) until ``want_free`` of
    them had two free cores (see FREE_CORES_CONTROL)."""
    streams = {s: commands(s, n, seed) for s, seed in (("AAA", 11), ("BBB", 12))}
    workers = Workers(2)
    run_threads = workers.run

    def engine_body(engine, symbol):
        return lambda: drive_engine(engine, symbol, streams[symbol])

    def one():
        e = ReferenceEngine([Instrument("AAA")], record_events=False)
        return run_threads([engine_body(e, "AAA")])

    def two_engines():
        a = ReferenceEngine([Instrument("AAA")], record_events=False)
        b = ReferenceEngine([Instrument("BBB")], record_events=False)
        return run_threads([engine_body(a, "AAA"), engine_body(b, "BBB")])

    def one_engine():
        e = ReferenceEngine([Instrument("AAA"), Instrument("BBB")], record_events=False)
        return run_threads([engine_body(e, "AAA"), engine_body(e, "BBB")])

    cn = 4 * n

    def control1():
        return run_threads([control_body(cn)])

    def control2():
        return run_threads([control_body(cn), control_body(cn)])

    kn = 5 * n

    def keeping1():
        return run_threads([keeping_body(kn)])

    def keeping2():
        return run_threads([keeping_body(kn), keeping_body(kn)])

    cases = [("1", one), ("2 engines", two_engines), ("1 engine", one_engine), ("c1", control1), ("c2", control2),
             ("k1", keeping1), ("k2", keeping2)]  # fmt: skip
    for _, fn in cases:
        fn()
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    cpus: dict[str, list[list[float]]] = {name: [] for name, _ in cases}
    r = 0
    while r < rounds or (
        r < max_rounds and sum(2 * a / b >= FREE_CORES_CONTROL for a, b in zip(times["c1"], times["c2"])) < want_free
    ):
        order = cases if r % 2 == 0 else cases[::-1]
        for name, fn in order:
            times[name].append(fn())
            cpus[name].append(workers.cpu[-1])
        r += 1
    rounds = r
    workers.close()
    per_round = {
        "two engines": [2 * a / b for a, b in zip(times["1"], times["2 engines"])],
        "one engine, two symbols": [2 * a / b for a, b in zip(times["1"], times["1 engine"])],
        "control (thread-local pure Python)": [2 * a / b for a, b in zip(times["c1"], times["c2"])],
        "control that keeps what it allocates": [2 * a / b for a, b in zip(times["k1"], times["k2"])],
    }
    ratios = {name: summary(values) for name, values in per_round.items()}
    # CPU time: 2 x (one thread's CPU) / (each of the two threads' CPU) for the same work, per
    # round: the scaling if each thread had had a core, whatever else ran on the
    # machine; and how much the two threads actually overlapped (1: all along).
    def cpu_ratio(one, two):
        return [2 * a[0] / ((b[0] + b[1]) / 2) for a, b in zip(cpus[one], cpus[two])]

    def overlap(two):
        return [max(0.0, (c[0] + c[1] - w) / min(c)) for c, w in zip(cpus[two], times[two])]

    cpu_ratios = {
        "two engines": summary(cpu_ratio("1", "2 engines")),
        "one engine, two symbols": summary(cpu_ratio("1", "1 engine")),
        "control (thread-local pure Python)": summary(cpu_ratio("c1", "c2")),
        "control that keeps what it allocates": summary(cpu_ratio("k1", "k2")),
    }
    overlaps = {"two engines": summary(overlap("2 engines")), "one engine, two symbols": summary(overlap("1 engine"))}
    # Rounds in which this machine had two free cores: the control, run in the
    # same round, scaled >= FREE_CORES_CONTROL.
    free = [i for i, c in enumerate(per_round["control (thread-local pure Python)"]) if c >= FREE_CORES_CONTROL]
    ratios_free = {name: summary([values[i] for i in free]) for name, values in per_round.items()} if free else {}
    return {
        "n": n,
        "rounds": rounds,
        "free_rounds": len(free),
        "cpu_ratios": cpu_ratios,
        "overlaps": overlaps,
        "ratios_free": ratios_free,
        "per_round": per_round,
        "rate_1": statistics.median(n / t for t in times["1"]),
        "rate_2e": statistics.median(2 * n / t for t in times["2 engines"]),
        "rate_1e": statistics.median(2 * n / t for t in times["1 engine"]),
        "ratios": ratios,
    }


# ---------------------------------------------------------------- 3. check cost


class ConcurrentUse(RuntimeError):
    pass


class CheckedEngine(ReferenceEngine):
    """``ReferenceEngine`` plus the cheapest reliable concurrent-use check found: a
    ``threading.Lock`` per symbol taken without waiting by submit and cancel (a
    call that finds it taken raises). Measured, not shipped: see ``check``."""

    __slots__ = ("_guards",)

    def __init__(self, instruments=(), *, record_events=True):
        self._guards = {}
        super().__init__(instruments, record_events=record_events)

    def add_instrument(self, instrument):
        super().add_instrument(instrument)
        lock = threading.Lock()
        self._guards[instrument.symbol] = (self._books[instrument.symbol], lock.acquire, lock.release)

    def submit(self, symbol, side, quantity, price=None, *, order_type=OrderType.LIMIT, time_in_force=None,
               post_only=False, owner="", client_id=None, stp=STP_NONE):  # fmt: skip
        book, enter, leave = self._guards[symbol]
        if not enter(False):
            raise ConcurrentUse(symbol)
        try:
            return book._submit(side, quantity, price, order_type, time_in_force, post_only, owner, client_id, stp)
        finally:
            leave()

    def cancel(self, symbol, order_id):
        book, enter, leave = self._guards[symbol]
        if not enter(False):
            raise ConcurrentUse(symbol)
        try:
            return book._cancel(order_id)
        finally:
            leave()


def bench_check(n: int, rounds: int) -> dict:
    """The check's cost two ways: on the workload (relative, noisy on a shared
    machine), and in ns on a call that does almost nothing else (cancel of a
    finished order), set against the workload's mean CPU time per command."""
    cmds = commands("AAA", n, 1)

    def case(cls):
        return (lambda: cls([Instrument("AAA")], record_events=False), lambda engine: drive_engine(engine, "AAA", cmds))

    times = alternate({"checked": case(CheckedEngine), "unchecked": case(ReferenceEngine)}, rounds)

    def filled_order_engine(cls):
        engine = cls([Instrument("AAA")], record_events=False)
        engine.submit("AAA", Side.SELL, 1, 100)
        engine.submit("AAA", Side.BUY, 1, 100)  # order 1 is now filled: cancel(1) answers at once
        return engine

    def cancels(engine, k=20_000):
        cancel = engine.cancel
        for _ in range(k):
            cancel("AAA", 1)
            cancel("AAA", 1)
            cancel("AAA", 1)
            cancel("AAA", 1)
            cancel("AAA", 1)
        return 5 * k

    calls = alternate({"checked": (lambda: filled_order_engine(CheckedEngine), cancels),
                       "unchecked": (lambda: filled_order_engine(ReferenceEngine), cancels)}, rounds)  # fmt: skip
    ns = [(c - u) / 100_000 * 1e9 for c, u in zip(calls["checked"], calls["unchecked"])]
    per_command = statistics.median(times["unchecked"]) / n * 1e9
    return {
        "n": n,
        "rounds": rounds,
        "cost": summary([c / u - 1 for c, u in zip(times["checked"], times["unchecked"])]),
        "ns": summary(ns),
        "per_command_ns": per_command,
    }


# ---------------------------------------------------------------- report


def fmt_ratio(s: tuple[float, float, float]) -> str:
    return f"{s[0]:.2f}× ({s[1]:.2f}–{s[2]:.2f})"


def environment() -> str:
    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"Python {platform.python_version()} ({'GIL' if gil else 'free-threaded, GIL disabled'}),"
        f" {cpu}, {os.cpu_count()} cores, {datetime.date.today().isoformat()};"
        " GC disabled in timed sections; one-thread rates per CPU second, scaling by wall time"
    )


def render(results: dict) -> str:
    lines = [f"Measured by `bench_book.py`: {environment()}.", ""]
    if "ratio" in results:
        r = results["ratio"]
        lines += [
            f"One thread, {r['n']:,} commands (limit/cancel/market from `OrderFlow`), median of {r['rounds']} alternated rounds:",
            "",
            "| book | commands/s | vs baseline (min–max) | target |",
            "|---|---|---|---|",
            f"| baseline (`baseline_book.py`) | {r['rate']['baseline']:,.0f} | 1.00× | |",
        ]
        for name, s in r["ratio"].items():
            target = ">= 0.5×: " + ("met" if s[0] >= 0.5 else "missed")
            lines.append(f"| `ReferenceEngine` {name.removeprefix('reference ')} | {r['rate'][name]:,.0f} | {fmt_ratio(s)} | {target} |")
        lines.append("")
    if "scaling" in results:
        s = results["scaling"]
        lines += [
            f"Two threads, each on its own symbol ({s['n']:,} commands each), against one thread;"
            f" median of {s['rounds']} alternated rounds (min–max). One thread: {s['rate_1']:,.0f} commands/s;"
            f" two engines: {s['rate_2e']:,.0f}; one engine: {s['rate_1e']:,.0f}.",
            "",
            f"| 2 threads / 1 thread | wall time, all {s['rounds']} rounds: median (min–max) | wall time, the"
            f" {s['free_rounds']} rounds with two free cores (control >= {FREE_CORES_CONTROL}×) | CPU time, all"
            " rounds | target |",
            "|---|---|---|---|---|",
        ]
        cpu = s.get("cpu_ratios", {})
        free = s["ratios_free"]
        for name, v in s["ratios"].items():
            f = free.get(name)
            target = ""
            if not name.startswith("control"):
                verdicts = [("met" if v[0] >= 1.9 else "missed") + " on all rounds"]
                if f:
                    verdicts.insert(0, ("met" if f[0] >= 1.9 else "missed") + " with two free cores")
                target = ">= 1.9×: " + ", ".join(verdicts)
            c = cpu.get(name)
            lines.append(f"| {name} | {fmt_ratio(v)} | {fmt_ratio(f) if f else 'none'} | {fmt_ratio(c) if c else ''} | {target} |")
        if "scaling_mortal" in results:
            m = results["scaling_mortal"]
            mfree = m.get("ratios_free") or {}
            mcpu = m.get("cpu_ratios", {})
            for name, v in m["ratios"].items():
                label = f"{name}, nothing made immortal (`FREEORDER_NO_IMMORTAL=1`, own run)"
                if name.startswith("control"):
                    label = f"{name}, in that run ({m.get('free_rounds', 0)} rounds with two free cores)"
                f = mfree.get(name)
                c = mcpu.get(name)
                lines.append(f"| {label} | {fmt_ratio(v)} | {fmt_ratio(f) if f else 'none'} | {fmt_ratio(c) if c else ''} | |")
        if s.get("overlaps"):
            o = s["overlaps"]
            lines += [
                "",
                "CPU time: 2 × one thread's CPU seconds / the mean CPU seconds of each of the two threads for the same"
                " work, per round —"
                " what the two threads would give with a core each, whatever else ran on the machine; it counts"
                " only while they ran at the same time: they overlapped for a median "
                + ", ".join(f"{v[0]:.0%} ({name})" for name, v in o.items())
                + " of the shorter thread's run.",
            ]
        lines.append("")
    if results.get("check"):
        c = results["check"]
        med, lo, hi = c["cost"]
        ns, ns_lo, ns_hi = c["ns"]
        share = ns / c["per_command_ns"]
        lines += [
            "A concurrent-use check (`CheckedEngine` in `bench_book.py`: a non-blocking lock per symbol, taken and"
            f" released by every submit and cancel) costs {ns:.0f} ns a call (min–max {ns_lo:.0f}–{ns_hi:.0f};"
            f" cancels of a finished order, median of {c['rounds']} alternated rounds), {share * 100:.1f}% of the"
            f" {c['per_command_ns']:,.0f} ns CPU time of an average command here; on the workload itself"
            f" {med * 100:+.1f}% (min–max {lo * 100:+.1f}% … {hi * 100:+.1f}%). Allowed: under 5%, so"
            f" {'it could ship' if max(share, med) < 0.05 else '`ReferenceEngine` documents that it is single-threaded instead of checking'}.",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def write_readme(text: str) -> None:
    content = README.read_text()
    if BEGIN not in content or END not in content:
        raise SystemExit(f"{README}: markers {BEGIN} / {END} not found")
    head, rest = content.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{BEGIN}\n{text}{END}{tail}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", metavar="part", help="ratio, scaling, check (default: all)")
    parser.add_argument("--n", type=int, default=50_000, help="commands per run (ratio, check)")
    parser.add_argument("--thread-n", type=int, default=60_000, help="commands per thread (scaling)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default: 7 ratio/check, 8 scaling)")
    parser.add_argument("--want-free", type=int, default=8, help="scaling: go on until this many rounds had two free cores")
    parser.add_argument("--max-rounds", type=int, default=40, help="scaling: but no more rounds than this")
    parser.add_argument("--no-mortal", action="store_true", help="skip the scaling run with nothing made immortal")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    parser.add_argument("--from-json", metavar="FILE", nargs="+",
                        help="render results saved with --json (measure nothing); parts of later files win")  # fmt: skip
    parser.add_argument("--write-readme", action="store_true", help=f"write the table between the markers in {README.name}")
    args = parser.parse_args(argv)
    if args.from_json:
        import json

        results = {}
        for name in args.from_json:
            results.update(json.loads(Path(name).read_text().strip().splitlines()[-1]))
        text = render(results)
        print(text)
        if args.write_readme:
            write_readme(text)
        return
    parts = args.parts or ["ratio", "scaling", "check"]
    for part in parts:
        if part not in ("ratio", "scaling", "check"):
            parser.error(f"unknown part {part!r}: choose from ratio, scaling, check")
    results: dict = {}
    if "ratio" in parts:
        results["ratio"] = bench_ratio(args.n, args.rounds or 7)
    if "scaling" in parts:
        results["scaling"] = bench_scaling(args.thread_n, args.rounds or 8, args.want_free, args.max_rounds)
        if not args.no_mortal and os.environ.get("FREEORDER_NO_IMMORTAL") != "1":
            env = dict(os.environ, FREEORDER_NO_IMMORTAL="1")
            cmd = [sys.executable, __file__, "scaling", "--json", "--thread-n", str(args.thread_n),
                   "--want-free", str(args.want_free), "--max-rounds", str(args.max_rounds)]  # fmt: skip
            if args.rounds:
                cmd += ["--rounds", str(args.rounds)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            import json

            results["scaling_mortal"] = json.loads(out.strip().splitlines()[-1])["scaling"]
    if "check" in parts:
        results["check"] = bench_check(args.n, args.rounds or 7)
    if args.json:
        import json

        print(json.dumps(results))
        return
    text = render(results)
    print(text)
    if args.write_readme:
        write_readme(text)


if __name__ == "__main__":
    main()
