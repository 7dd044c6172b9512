"""Command line: ``freeorder COMMAND`` (also ``python -m freeorder COMMAND``).

``demo`` (the default) runs the embedded order flow through the lock-free
engine on 1 and 2 threads beside the reference engine, prints trades, the
book and the invariant check. ``atomics`` prints the interpreter, whether
the GIL is on, the cost of one atomic call and an exact parallel count.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import sysconfig
import threading
import time

from . import __version__, atomic


def _ns_per_call(fn, args: tuple, n: int = 200_000) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn(*args)
        best = min(best, (time.perf_counter_ns() - t0) / n)
    return best


def _parallel_count(threads: int, per_thread: int) -> tuple[int, float]:
    counter = atomic.AtomicInt()
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        add = counter.fetch_add
        barrier.wait()
        for _ in range(per_thread):
            add(1, atomic.RELAXED)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    return counter.load(), time.perf_counter() - t0


def _header() -> None:
    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    print(f"freeorder {__version__} on {platform.python_implementation()} {platform.python_version()}")
    print(f"  executable        {sys.executable}")
    print(f"  free-threaded     {bool(sysconfig.get_config_var('Py_GIL_DISABLED'))}")
    print(f"  GIL enabled       {gil}")
    print(f"  atomics backend   {atomic.backend_name()}")


def atomics_demo() -> int:
    """Interpreter and GIL state, the cost of one atomic call, and an exact count from 1, 2 and 4 threads."""
    _header()
    cell = atomic.AtomicInt()
    cells = atomic.AtomicIntArray(8)
    print("uncontended cost per call (best of 3):")
    for name, fn, args in [
        ("AtomicInt.load", cell.load, ()),
        ("AtomicInt.fetch_add", cell.fetch_add, (1,)),
        ("AtomicInt.compare_exchange", cell.compare_exchange, (0, 0)),
        ("AtomicIntArray.load", cells.load, (3,)),
        ("AtomicIntArray.fetch_add", cells.fetch_add, (3, 1)),
    ]:
        print(f"  {name:28s} {_ns_per_call(fn, args):7.1f} ns")
    per_thread = 200_000
    print(f"fetch_add from N threads, {per_thread:,} each (the count must be exact):")
    base = None
    for threads in (1, 2, 4):
        total, secs = _parallel_count(threads, per_thread)
        ok = "exact" if total == threads * per_thread else f"WRONG ({total})"
        rate = total / secs
        base = base or rate
        print(f"  {threads} thread(s)  {rate / 1e6:6.2f} M ops/s  ({rate / base:4.2f}x)  {ok}")
        if total != threads * per_thread:
            return 1
    return 0


DEMO_SYMBOLS = ("AAA", "BBB")


def _commands(symbols: tuple[str, ...], seed: int, n: int) -> list:
    """The embedded order flow, with order ids as a sequential run assigns them."""
    from .book import Instrument
    from .engines import ReferenceEngine
    from .engines.workload import OrderFlow

    engine = ReferenceEngine([Instrument(s, tick_size=1) for s in DEMO_SYMBOLS], record_events=False)
    flow, commands = OrderFlow(symbols, seed), []
    for command in flow.commands(n):
        try:
            flow.observe(command, command.run(engine))
        except (ValueError, LookupError):
            pass
        commands.append(command)
    return commands


def _replay(engine, commands) -> None:
    for command in commands:
        try:
            command.run(engine)
        except (ValueError, LookupError):
            pass


CHUNK = 500  # commands a demo thread replays between two updates of its progress


def _top(engine, symbol: str) -> str:
    """``SYMBOL bid x qty / ask x qty``, for the live line."""
    quote, price = engine.best(symbol), engine.instrument(symbol).price_decimal
    bid = f"{price(quote.bid)} x {quote.bid_qty}" if quote.bid else "-"
    ask = f"{price(quote.ask)} x {quote.ask_qty}" if quote.ask else "-"
    return f"{symbol} {bid} / {ask}"


def _timed_threads(engine, streams, live=None, label: str = "") -> float:
    """Replay each stream on its own thread; seconds from the common start to the last thread's end.

    With ``live`` (a rich console on a terminal) a transient line shows the
    commands done and each thread's top of book while it runs. Each thread
    publishes its count and its symbol's top after every ``CHUNK`` commands
    (one ``best`` call per chunk, from the thread that owns the symbol: safe
    for every engine); the main thread only reads them.
    """
    barrier = threading.Barrier(len(streams) + 1)
    done = [0] * len(streams)
    tops = [""] * len(streams)
    finish = [0.0] * len(streams)

    def work(i: int, stream) -> None:
        symbol = stream[0].symbol if stream else ""
        barrier.wait()
        for start in range(0, len(stream), CHUNK):
            chunk = stream[start:start + CHUNK]
            _replay(engine, chunk)
            done[i] = start + len(chunk)
            if live is not None:
                tops[i] = _top(engine, symbol)
        finish[i] = time.perf_counter()

    pool = [threading.Thread(target=work, args=(i, s)) for i, s in enumerate(streams)]
    for t in pool:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    if live is not None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[top]}"), console=live, transient=True) as bar:
            task = bar.add_task(label, total=sum(map(len, streams)), top="")
            while any(t.is_alive() for t in pool):
                bar.update(task, completed=sum(done), top="  ".join(filter(None, tops)))
                time.sleep(0.1)
    for t in pool:
        t.join()
    return max(finish) - t0


def _sample_check() -> str:
    """The shipped sample through the lock-free and reference engines: the same events?"""
    from .engines import LockFreeEngine, ReferenceEngine
    from .replay import Replay, load_instruments, sample_files

    with sample_files() as (orders, instruments_file):
        instruments = list(load_instruments(instruments_file).values())
        runs = []
        for engine in (ReferenceEngine(instruments), LockFreeEngine(instruments)):
            replay = Replay(engine, events=True)
            runs.append((list(replay.run(orders)), replay))
    (ref_events, replay), (lf_events, _) = runs
    trades = sum(t.trades for t in replay.totals.values())
    return (f"the shipped sample (`freeorder replay --sample`): {replay.lines} orders, {trades} trades; "
            f"lock-free and reference events identical: {ref_events == lf_events}")


def demo(per_thread: int = 20_000) -> int:
    """Order-book demo: a seeded order flow through the lock-free engine on one and two threads beside
    the reference engine (a live line shows progress and the top of book on a terminal), the books
    compared, trades, the book and the invariant check; then the shipped sample through both engines.
    The cyclic GC is off while timing (stated)."""
    import gc

    if per_thread < 1:
        raise CommandError(f"--orders={per_thread}: must be at least 1")

    from .book import Instrument, Trade, violations
    from .engines import LockFreeEngine, ReferenceEngine

    _header()
    instruments = [Instrument(s, tick_size="0.01") for s in DEMO_SYMBOLS]
    print(f"order flow: seeded random limit/market/IOC orders, cancels and modifies around a moving mid; "
          f"symbols {', '.join(DEMO_SYMBOLS)}; cyclic GC off while timing")
    streams = [_commands((DEMO_SYMBOLS[i],), 100 + i, per_thread) for i in range(2)]
    mixed = _commands(DEMO_SYMBOLS, 7, 2 * per_thread)
    from rich.console import Console

    console = Console()
    live = console if console.is_terminal else None
    gc.collect()
    gc.disable()
    try:
        reference = ReferenceEngine(instruments)
        ref_secs = _timed_threads(reference, [mixed], live, "reference, 1 thread")
        one = LockFreeEngine(instruments)
        one_secs = _timed_threads(one, [mixed], live, "lock-free, 1 thread")
        two = LockFreeEngine(instruments)
        two_secs = _timed_threads(two, streams, live, "lock-free, 2 threads")
    finally:
        gc.enable()
    n = 2 * per_thread
    print(f"  reference engine, 1 thread        {n / ref_secs:>10,.0f} commands/s")
    print(f"  lock-free engine, 1 thread        {n / one_secs:>10,.0f} commands/s  ({ref_secs / one_secs:.2f}x reference)")
    print(f"  lock-free engine, 2 threads       {n / two_secs:>10,.0f} commands/s  ({one_secs / two_secs:.2f}x its 1 thread;"
          f" each thread its own symbol)")
    for symbol in DEMO_SYMBOLS:
        same = one.snapshot(symbol) == reference.snapshot(symbol) and one.events(symbol) == reference.events(symbol)
        print(f"  {symbol}: lock-free and reference books identical after the same flow: {same}")
        if not same:
            return 1
    symbol = DEMO_SYMBOLS[0]
    price = two.instrument(symbol).price_decimal
    trades = [e for e in two.events(symbol) if type(e) is Trade]
    print(f"{symbol} after the 2-thread run: {len(trades):,} trades; the last three:")
    for t in trades[-3:]:
        print(f"  #{t.seq}: {t.taker_owner} {t.taker_side.value}s {t.qty} from {t.maker_owner} at {price(t.price)}"
              f" (maker order {t.maker_id}, taker order {t.taker_id})")
    quote = two.best(symbol)
    print(f"  best bid {price(quote.bid) if quote.bid else '-'} x {quote.bid_qty}, "
          f"best ask {price(quote.ask) if quote.ask else '-'} x {quote.ask_qty}")
    depth = two.depth(symbol, 3)
    for name, levels in (("bids", depth.bids), ("asks", depth.asks)):
        print(f"  {name}: " + ", ".join(f"{price(lv.price)} x {lv.qty} ({lv.count} orders)" for lv in levels))
    problems = [p for s in DEMO_SYMBOLS for p in violations(two.snapshot(s), two.orders(s), two.events(s))]
    print(f"invariants (quantity conserved, no overfill, no crossed book, price-time priority, one state per order): "
          f"{'OK' if not problems else problems[:5]}")
    sample = _sample_check()
    print(sample)
    return 0 if not problems and sample.endswith("True") else 1


def _stress(argv: list[str]) -> int:
    from .stress.__main__ import main as stress_main

    return stress_main(argv)


class CommandError(Exception):
    """A refused command line: printed as one line ``freeorder: error: ...``, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    """The ``freeorder`` parser: one subparser per command, each with ``run(args) -> int``.

    A command is added with ``sub.add_parser(name, help=..., description=...)`` and
    ``set_defaults(run=...)``; its ``--help`` comes from argparse.
    """
    parser = argparse.ArgumentParser(
        prog="freeorder",
        description="Lock-free concurrency on free-threaded CPython 3.13t, and an order book built on it. "
        "Also runs as `python -m freeorder`.",
        epilog="`freeorder COMMAND --help` describes one command; with no command, `demo` runs.",
    )
    parser.add_argument("--version", action="version", version=f"freeorder {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    p = sub.add_parser("demo", help="the order-book demo (the default)", description=demo.__doc__)
    p.add_argument("--orders", type=int, default=20_000, metavar="N",
                   help="commands per thread in the timed runs (default 20000)")
    p.set_defaults(run=lambda args: demo(args.orders))
    sub.add_parser(
        "atomics", help="interpreter, GIL state, cost of one atomic call", description=atomics_demo.__doc__
    ).set_defaults(run=lambda args: atomics_demo())
    from .bench import register as register_bench

    register_bench(sub)  # bench, compare: the engine harness
    from .replay.commands import register as register_replay

    register_replay(sub)  # replay, book
    p = sub.add_parser("stress", help="bounded real-thread runs of a structure or engine, then its invariants",
                       add_help=False, prefix_chars="\0")  # its own parser: `freeorder stress --help`
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(run=lambda args: _stress(args.rest))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a ``CommandError`` is one line on stderr and exit status 2, no traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["demo"])
    from .replay.orderfile import InputError

    try:
        return args.run(args)
    except (CommandError, InputError) as exc:
        print(f"freeorder: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # an --out file is not left half-written (freeorder.replay.output)
        print("freeorder: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `freeorder replay FILE --out - | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
