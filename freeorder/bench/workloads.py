"""The harness' workloads: per-thread command lists, deterministic by seed, built before the clock starts.

A workload at ``threads`` threads gives the instruments to register and, per
thread, a *role* and its *program*: a list of ``(method, symbol, args,
kwargs)`` calls (``bind`` turns it into bound calls for one engine). Order
ids in cancels and modifies are the ids a private reference run of the
thread's own flow gave its submits: exact where a thread has its symbol to
itself, and on a shared symbol they name whatever order got that id there
(a live one, a finished one answered ``ORDER_NOT_LIVE``, or none yet,
refused ``UnknownOrder``), as cancels race fills on a real venue. Refused
calls are counted, not raised.

- ``multi-symbol``: each thread its own symbol, ``OrderFlow`` (limits around a
  moving mid, 25% cancels, 5% modifies, market and IOC orders); nothing shared.
- ``contended``: every thread on one symbol, each its own ``OrderFlow``.
- ``read-heavy``: one writer (an ``OrderFlow`` on one symbol) and ``threads - 1``
  readers cycling best, depth(5) and snapshot on that symbol until the writer
  is done (at 1 thread, the writer alone: the baseline of the target).
- ``seed-s9``: the seed's §9 benchmark: each thread adds 1,000 random limit
  orders (side, price within 10 ticks of 10,000, quantity 1-100) to one book.
- ``mix``: four symbols shared by all threads, a venue's message mix
  (``MixFlow``): 45% new orders (of them a tenth IOC and a twentieth market),
  35% cancels, 12% modifies, 8% best-quote reads.

Engines that are not thread-safe on one symbol (``reference``) run only where
each symbol has one thread (``supports``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ..book.instrument import Instrument
from ..book.orders import OrderType, Side, TimeInForce
from ..engines.reference import ReferenceEngine
from ..engines.workload import Command, OrderFlow

SEED_S9_ORDERS = 1000  # per thread, as the seed's §9
READS = (("best", ()), ("depth", (5,)), ("snapshot", ()))
MIX_SYMBOLS = ("MX0", "MX1", "MX2", "MX3")
SINGLE_THREAD_ENGINES = {"reference"}  # one thread per symbol at a time


@dataclass
class Prepared:
    """A workload instance: instruments, and per thread its role ("writer"/"reader") and program."""

    workload: str
    threads: int
    instruments: list[Instrument]
    programs: list[list[tuple]]
    roles: list[str]
    note: str = ""
    extra: dict = field(default_factory=dict)


class MixFlow(OrderFlow):
    """``OrderFlow`` with a venue's message mix (see the module docstring) and best-quote reads."""

    def next(self) -> Command:
        rng = self.rng
        symbol = rng.choice(self.symbols)
        mid = self.mid[symbol] = max(self.spread + 1, self.mid[symbol] + rng.choice((-1, 0, 0, 1)))
        roll = rng.random()
        ids = self.ids[symbol]
        if roll < 0.08:
            return Command("best", symbol, ())
        if roll < 0.43 and ids:
            return Command("cancel", symbol, (rng.choice(ids[-32:]),))
        if roll < 0.55 and ids:
            target = rng.choice(ids[-32:])
            if rng.random() < 0.5:
                return Command("modify", symbol, (target,), {"quantity": rng.randint(1, 10)})
            return Command("modify", symbol, (target,), {"price": mid + rng.randint(-self.spread, self.spread)})
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        qty = rng.randint(1, 20)
        owner = rng.choice(self.owners)
        kind = rng.random()
        if kind < 0.05:
            return Command("submit", symbol, (side, qty), {"order_type": OrderType.MARKET, "owner": owner})
        offset = rng.randint(-self.spread // 4, self.spread)
        price = mid - offset if side is Side.BUY else mid + offset
        if kind < 0.15:
            return Command("submit", symbol, (side, qty, price), {"time_in_force": TimeInForce.IOC, "owner": owner})
        return Command("submit", symbol, (side, qty, price), {"owner": owner})


def resolved(flow: OrderFlow, n: int) -> list[tuple]:
    """``n`` calls of ``flow``, order ids resolved against a private reference run of them."""
    reference = ReferenceEngine([Instrument(s, tick_size=1) for s in flow.symbols], record_events=False)
    out = []
    for command in flow.commands(n):
        try:
            flow.observe(command, command.run(reference))
        except (ValueError, LookupError):
            pass  # refused input is part of the flow
        out.append((command.method, command.symbol, command.args, command.kwargs))
    return out


def seed_s9_program(symbol: str, seed: int) -> list[tuple]:
    """1,000 random limit orders, as the seed's ``create_random_order``."""
    rng = random.Random(seed)
    out = []
    for _ in range(SEED_S9_ORDERS):
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        out.append(("submit", symbol, (side, rng.randint(1, 100), 10_000 + rng.randint(-10, 10)), {}))
    return out


def reader_program(symbol: str) -> list[tuple]:
    return [(method, symbol, args, {}) for method, args in READS]


WORKLOADS = ("multi-symbol", "contended", "read-heavy", "seed-s9", "mix")


def prepare(workload: str, threads: int, per_thread: int, seed: int = 1) -> Prepared:
    """The workload at ``threads`` threads, ``per_thread`` commands each (seed-s9: 1,000)."""
    if workload not in WORKLOADS:
        raise ValueError(f"workload={workload!r}: expected one of {', '.join(WORKLOADS)}")
    if type(threads) is not int or threads < 1:
        raise ValueError(f"threads={threads!r}: expected an int >= 1")
    base = seed * 1_000_003
    if workload == "multi-symbol":
        symbols = [f"SYM{i}" for i in range(threads)]
        programs = [resolved(OrderFlow([symbols[i]], base + i), per_thread) for i in range(threads)]
        return Prepared(workload, threads, _instruments(symbols), programs, ["writer"] * threads)
    if workload == "contended":
        programs = [resolved(OrderFlow(["HOT"], base + i), per_thread) for i in range(threads)]
        return Prepared(workload, threads, _instruments(["HOT"]), programs, ["writer"] * threads)
    if workload == "read-heavy":
        programs = [resolved(OrderFlow(["HOT"], base), per_thread)] + [reader_program("HOT")] * (threads - 1)
        return Prepared(workload, threads, _instruments(["HOT"]), programs, ["writer"] + ["reader"] * (threads - 1))
    if workload == "seed-s9":
        programs = [seed_s9_program("BTC-USD", base + i) for i in range(threads)]
        return Prepared(workload, threads, _instruments(["BTC-USD"]), programs, ["writer"] * threads)
    programs = [resolved(MixFlow(MIX_SYMBOLS, base + i, owners=4), per_thread) for i in range(threads)]
    return Prepared(workload, threads, _instruments(MIX_SYMBOLS), programs, ["writer"] * threads)


def supports(engine: str, workload: str, threads: int) -> str | None:
    """Why ``engine`` cannot run this combination, or None if it can."""
    if engine in SINGLE_THREAD_ENGINES and threads > 1 and workload != "multi-symbol":
        return "one thread per symbol only (not thread-safe within a symbol)"
    return None


def bind(engine, program: list[tuple]) -> list[tuple]:
    """The program as ``(bound method, args, kwargs)`` calls on ``engine`` (looked up once, here)."""
    methods: dict[str, object] = {}
    out = []
    for method, symbol, args, kwargs in program:
        fn = methods.get(method)
        if fn is None:
            fn = methods[method] = getattr(engine, method)
        out.append((fn, (symbol, *args), kwargs))
    return out


def _instruments(symbols) -> list[Instrument]:
    return [Instrument(s, tick_size=1) for s in symbols]
