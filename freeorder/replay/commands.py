"""The ``replay`` and ``book`` commands of ``freeorder`` (registered by :mod:`freeorder.cli`).

    freeorder replay FILE [--engine E] [--threads N] [--instruments F] [--out F|-]
    freeorder replay --sample
    freeorder replay --generate N FILE [--seed S]
    freeorder book SYMBOL --from FILE [--levels N]

Tables and progress bars are drawn with ``rich``; errors in a file are
:class:`~freeorder.replay.orderfile.InputError`, printed by the command line as
one line with exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator
from decimal import Decimal

from ..book.instrument import Instrument
from ..book.orders import Side
from .orderfile import COLUMNS, InputError
from .sample import sample_files

__all__ = ["register"]

PROGRESS_MIN_BYTES = 1 << 20  # files smaller than this replay without a progress bar (unless --progress)


def console(stderr: bool = False):
    """A rich console; 120 columns when the output is not a terminal (a file or a pipe)."""
    from rich.console import Console

    c = Console(stderr=stderr)
    if not c.is_terminal:
        c = Console(stderr=stderr, width=120)
    return c


@contextlib.contextmanager
def progress_bar(enabled: bool | None, size: int, err):
    """A ``progress(position, size)`` callback drawing a rich bar on stderr, or None.

    ``enabled`` None: a bar only when stderr is a terminal and the file is long."""
    if enabled is None:
        enabled = err.is_terminal and size >= PROGRESS_MIN_BYTES
    if not enabled:
        yield None
        return
    from rich.progress import (BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn,
                               TransferSpeedColumn)

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), console=err) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(position: int, total: int, description: str = "replay") -> None:
            if description not in tasks:
                tasks[description] = bar.add_task(description, total=total)
            bar.update(tasks[description], completed=position)

        yield progress


def _engine_names() -> list[str]:
    from ..engines import ENGINES

    return [name for name in ENGINES if name != "seed"]  # seed has another surface (see engines/seed.py)


def _add_replay_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", default="lockfree", choices=_engine_names(), help="the engine (default: lockfree)")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="worker threads; each symbol belongs to one (default 1); the output is the same for any N")
    p.add_argument("--instruments", metavar="FILE",
                   help="CSV or JSON Lines with symbol, tick_size[, lot_size]; default: inferred from the prices")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help=f"progress bar on stderr (default: on a terminal, for files of {PROGRESS_MIN_BYTES >> 20} MiB "
                        "or more)")


def register(sub) -> None:
    """Add ``replay`` and ``book`` to the ``freeorder`` subparsers ``sub``."""
    p = sub.add_parser(
        "replay", help="replay an order file (CSV or JSON Lines) into an engine",
        description="Replay orders from a CSV file (header row) or JSON Lines (one object per line, the same keys) "
        "into an engine; print a summary (trades, volume, the book at the end) or write the events as JSON Lines. "
        f"Columns: {', '.join(COLUMNS)} (see `pydoc freeorder.replay.orderfile`). Cancel and modify name the "
        "order by owner + client_id. Commands the book refuses are events; a malformed line stops the replay "
        "with one line naming the file, line, field and value (exit status 2).",
        epilog="examples: freeorder replay --sample;  freeorder replay --generate 100000 big.csv;  "
        "freeorder replay big.csv --threads 2 --out events.jsonl",
    )
    p.add_argument("file", nargs="?", metavar="FILE", help="the order file (with --generate: the file to write)")
    p.add_argument("--sample", action="store_true", help="replay the small sample shipped with freeorder")
    p.add_argument("--generate", type=int, metavar="N",
                   help="write N seeded orders to FILE instead (CSV, or JSON Lines if FILE ends in .jsonl)")
    p.add_argument("--seed", type=int, default=1, help="seed for --generate (default 1)")
    p.add_argument("--out", metavar="FILE",
                   help="write the events as JSON Lines to FILE (written whole or not at all), or '-' for stdout")
    _add_replay_options(p)
    p.set_defaults(run=run_replay)

    p = sub.add_parser(
        "book", help="the depth ladder of one symbol after replaying a file",
        description="Replay FILE (as `freeorder replay` does) and draw SYMBOL's depth ladder: asks above, bids "
        "below, quantity and order count per price level.",
        epilog="example: freeorder book AAA --sample",
    )
    p.add_argument("symbol", metavar="SYMBOL")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--from", dest="file", metavar="FILE", help="the order file to replay")
    source.add_argument("--sample", action="store_true", help="the sample shipped with freeorder")
    p.add_argument("--levels", type=int, default=10, metavar="N", help="price levels per side (default 10)")
    _add_replay_options(p)
    p.set_defaults(run=run_book)


class _Replayed:
    """The outcome of :func:`_replay`: the engine (open), the Replay, its instruments and timing."""

    def __init__(self, engine, replay, instruments: dict[str, Instrument], seconds: float, name: str) -> None:
        self.engine, self.replay, self.instruments, self.seconds, self.name = engine, replay, instruments, seconds, name


def _check_counts(args) -> None:
    from ..cli import CommandError

    if args.threads < 1:
        raise CommandError(f"--threads={args.threads}: must be at least 1")
    if getattr(args, "levels", 1) < 1:
        raise CommandError(f"--levels={args.levels}: must be at least 1")


@contextlib.contextmanager
def _replay(args, out=None) -> Iterator[_Replayed]:
    """Replay ``args.file`` (or the sample) into ``args.engine``; each event's JSON text to ``out``."""
    from ..engines import ENGINES
    from .instruments import infer_instruments, load_instruments
    from .orderfile import RowReader
    from .runner import Replay

    err = console(stderr=True)
    with contextlib.ExitStack() as stack:
        path, instruments_path = args.file, args.instruments
        if args.sample:
            path, shipped = stack.enter_context(sample_files())
            instruments_path = instruments_path or shipped
        name = "the sample" if args.sample else path
        size = RowReader(path, COLUMNS).size  # a missing file is reported before anything else
        bar = stack.enter_context(progress_bar(args.progress, size, err))
        if instruments_path is not None:
            instruments = load_instruments(instruments_path)
        else:
            instruments = infer_instruments(path, bar and (lambda at, total: bar(at, total, "scan")))
            shown = ", ".join(f"{i.symbol} tick {i.tick_size} lot {i.lot_size}" for i in list(instruments.values())[:6])
            more = f" and {len(instruments) - 6} more" if len(instruments) > 6 else ""
            err.print(f"note: no --instruments given; inferred from the prices and quantities in {name}: "
                      f"{shown}{more}", highlight=False, markup=False, soft_wrap=True)
        engine = ENGINES[args.engine](list(instruments.values()), record_events=False)
        if hasattr(engine, "close"):
            stack.callback(engine.close)
        replay = Replay(engine, threads=args.threads, events=out is not None)
        t0 = time.perf_counter()
        for text in replay.run(path, bar):
            out.write(text)
            out.write("\n")
        yield _Replayed(engine, replay, instruments, time.perf_counter() - t0, name)


def run_replay(args) -> int:
    from ..cli import CommandError
    from .generate import write_generated
    from .output import atomic_output

    _check_counts(args)
    if args.generate is not None:
        if args.file is None or args.sample:
            raise CommandError("--generate N needs the FILE to write (and no --sample)")
        if args.generate < 0:
            raise CommandError(f"--generate={args.generate}: must not be negative")
        write_generated(args.file, args.generate, args.seed)
        print(f"wrote {args.generate:,} orders to {args.file} (seed {args.seed})")
        return 0
    if (args.file is None) == (not args.sample):
        raise CommandError("give an order FILE or --sample (not both)")
    if args.out == "-":
        with _replay(args, sys.stdout):
            pass
        return 0
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(atomic_output(args.out)) if args.out else None
        done = stack.enter_context(_replay(args, out))
        print_summary(done, console())
    if args.out:
        print(f"events written to {args.out}")
    return 0


def run_book(args) -> int:
    _check_counts(args)
    with _replay(args) as done:
        if args.symbol not in done.instruments:
            raise InputError(args.file or "the sample", None, "symbol", args.symbol,
                             f"not in the file (symbols: {', '.join(done.instruments)})")
        print_ladder(done, args.symbol, args.levels, console())
    return 0


def _price(instrument: Instrument, units: int | None) -> str:
    return "-" if units is None else str(instrument.price_decimal(units))


def _qty(instrument: Instrument, units: int) -> str:
    return str(instrument.quantity_decimal(units))


def print_summary(done: _Replayed, out) -> None:
    """Per symbol: lines, trades, volume, refusals, last price and the book's top; then the last trades."""
    from rich.table import Table

    rate = done.replay.lines / done.seconds if done.seconds > 0 else 0.0
    out.print(f"replay of {done.name}: {done.replay.lines:,} lines into the {done.engine.__class__.__name__} "
              f"({done.replay.threads} thread{'s' if done.replay.threads > 1 else ''}) in {done.seconds:.2f} s, "
              f"{rate:,.0f} lines/s", highlight=False, markup=False)
    table = Table()
    for header in ("symbol", "lines", "new", "cancel", "modify", "trades", "volume", "rejected", "refused",
                   "last", "bid", "ask"):
        table.add_column(header, justify="left" if header == "symbol" else "right")
    trades = []
    for symbol, totals in sorted(done.replay.totals.items()):
        instrument = done.instruments[symbol]
        quote = done.engine.best(symbol)
        last = totals.last_trades[-1].price if totals.last_trades else None
        table.add_row(symbol, f"{totals.lines:,}", f"{totals.new:,}", f"{totals.cancel:,}", f"{totals.modify:,}",
                      f"{totals.trades:,}", _qty(instrument, totals.volume), f"{totals.rejected:,}",
                      f"{totals.refused:,}", _price(instrument, last),
                      f"{_qty(instrument, quote.bid_qty)} @ {_price(instrument, quote.bid)}" if quote.bid else "-",
                      f"{_qty(instrument, quote.ask_qty)} @ {_price(instrument, quote.ask)}" if quote.ask else "-")
        trades += [(instrument, t) for t in totals.last_trades]
    out.print(table)
    if not trades:
        out.print("no trades")
        return
    out.print("the last trades of each symbol:")
    table = Table()
    for header in ("symbol", "seq", "buyer", "seller", "quantity", "price", "aggressor"):
        table.add_column(header, justify="right" if header in ("seq", "quantity", "price") else "left")
    for instrument, t in trades:
        buyer, seller = (t.taker_owner, t.maker_owner) if t.taker_side is Side.BUY else (t.maker_owner, t.taker_owner)
        table.add_row(t.symbol, str(t.seq), buyer, seller, _qty(instrument, t.qty), _price(instrument, t.price),
                      t.taker_side.value)
    out.print(table)


def print_ladder(done: _Replayed, symbol: str, levels: int, out) -> None:
    """The depth ladder: the best ``levels`` asks (highest at the top) above the best bids."""
    from rich.table import Table

    instrument = done.instruments[symbol]
    depth = done.engine.depth(symbol, levels)
    totals = done.replay.totals.get(symbol)
    caption = []
    if depth.bids and depth.asks:
        bid, ask = instrument.price_decimal(depth.bids[0].price), instrument.price_decimal(depth.asks[0].price)
        caption.append(f"spread {ask - bid}, mid {(bid + ask) / Decimal(2)}")
    if totals is not None and totals.last_trades:
        t = totals.last_trades[-1]
        caption.append(f"last trade {_qty(instrument, t.qty)} @ {_price(instrument, t.price)}")
    out.print(f"{symbol} after {done.name} ({done.engine.__class__.__name__}): the best {levels} levels a side",
              highlight=False, markup=False)
    table = Table(caption="; ".join(caption) or None)
    for header in ("bid orders", "bid qty", "price", "ask qty", "ask orders"):
        table.add_column(header, justify="left" if header.startswith("ask") else "right")
    for level in reversed(depth.asks):
        table.add_row("", "", _price(instrument, level.price), f"[red]{_qty(instrument, level.qty)}[/]",
                      str(level.count))
    if depth.asks and depth.bids:
        table.add_section()
    for level in depth.bids:
        table.add_row(str(level.count), f"[green]{_qty(instrument, level.qty)}[/]", _price(instrument, level.price),
                      "", "")
    if not depth.asks and not depth.bids:
        table.add_row("", "", "(empty book)", "", "")
    out.print(table)
