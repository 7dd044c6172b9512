"""Replaying an order file into an engine: events as JSON objects, per-symbol totals.

:class:`Replay` reads the file as a stream in batches of ``BATCH`` lines. With
``threads=N`` each symbol belongs to one of N worker threads (the k-th symbol to
appear goes to thread ``k % N``), every thread applies its symbols' lines in file
order, and the results are written in file order. So each symbol's commands
reach the engine in file order from one thread, its order ids and event
sequence are those of a sequential replay, and the output is the same for any
N and any engine (the engine contract: per-symbol results are those of the
reference engine in some real-time-consistent order, here the file's).

Commands the book refuses are events, not errors, and the replay goes on:
a post-only that would cross or an unfillable fill-or-kill is the engine's
``rejected`` event; a cancel or modify of a finished order, of an
``owner`` + ``client_id`` never seen, or a new order reusing a live order's
``client_id`` is a ``refused`` event with its reason. A line the engine cannot
parse (a price off the tick, a quantity not on the lot) raises InputError
naming the line; lines before it have been applied and written.

Threads share only the engine (whose contract covers concurrent calls on
different symbols). Each worker owns its symbols' totals and client-id map;
a batch reaches a worker and its outputs come back through
``concurrent.futures`` (submit and result order them: what the worker wrote
is visible to the writer that reads the result).
"""

from __future__ import annotations

import collections
import json
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor

from ..book.errors import DuplicateClientId, InvalidOrder
from ..book.events import Accepted, BookUpdate, Cancelled, Modified, Rejected, Trade
from ..book.instrument import Instrument
from .orderfile import COLUMNS, InputError, OrderLine, RowReader, parse_line

__all__ = ["BATCH", "Replay", "SymbolTotals", "event_record"]

BATCH = 2048

_EVENT_NAMES = {Accepted: "accepted", Rejected: "rejected", Trade: "trade", Cancelled: "cancelled",
                Modified: "modified", BookUpdate: "book_update"}
_FIELD_NAMES = {"qty": "quantity", "count": "orders", "order_type": "type", "time_in_force": "tif"}
_PRICE_FIELDS = frozenset({"price"})
_QUANTITY_FIELDS = frozenset({"qty", "quantity", "remaining"})
_COLUMN_OF = {"time_in_force": "tif", "order_type": "type"}  # engine field -> file column


def _plan(kind) -> tuple:
    """Per field of the event type ``kind``: (output name, 0 plain / 1 price / 2 quantity / 3 enum)."""
    hints = {"side": 3, "taker_side": 3, "order_type": 3, "time_in_force": 3, "stp": 3, "reason": 3}
    return tuple((_FIELD_NAMES.get(f, f), 1 if f in _PRICE_FIELDS else 2 if f in _QUANTITY_FIELDS else hints.get(f, 0))
                 for f in kind._fields)


_PLANS = {kind: (name, _plan(kind)) for kind, name in _EVENT_NAMES.items()}


def event_record(line: int, event, instrument: Instrument) -> dict:
    """``event`` as a JSON-ready dict: ``line``, ``event`` (its kind), then its fields;
    prices and quantities as exact decimal strings, enums as their values."""
    name, plan = _PLANS[type(event)]
    record: dict = {"line": line, "event": name}
    for (field, how), value in zip(plan, event):
        if how and value is not None:
            if how == 1:
                value = str(instrument.price_decimal(value))
            elif how == 2:
                value = str(instrument.quantity_decimal(value))
            else:
                value = value.value
        record[field] = value
    return record


class SymbolTotals:
    """What a replay did to one symbol: line counts, trades, traded volume (quantity
    units), rejected and refused commands, and the last ``keep`` trades."""

    __slots__ = ("lines", "new", "cancel", "modify", "trades", "volume", "rejected", "refused", "last_trades")

    def __init__(self, keep: int = 5) -> None:
        self.lines = self.new = self.cancel = self.modify = 0
        self.trades = self.volume = self.rejected = self.refused = 0
        self.last_trades: collections.deque = collections.deque(maxlen=keep)

    def merge(self, other: SymbolTotals) -> None:
        for name in ("lines", "new", "cancel", "modify", "trades", "volume", "rejected", "refused"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.last_trades.extend(other.last_trades)


class _Worker:
    """Applies the lines of its symbols, in order; owned by one thread.

    ``ids`` maps ``(symbol, owner, client_id)`` to the order id the engine gave
    the latest new order with that name (how cancel and modify find orders).
    """

    def __init__(self, engine, path: str, events: bool) -> None:
        self.engine = engine
        self.path = path
        self.events = events
        self.ids: dict[tuple, int] = {}
        self.totals: dict[str, SymbolTotals] = {}
        self.instruments: dict[str, Instrument] = {}

    def run(self, lines: list[OrderLine]) -> tuple[list, InputError | None]:
        """Apply ``lines``; the output (a list of JSON lines, or None) per applied line,
        and the InputError that stopped the batch, if any."""
        out = []
        apply = self.apply
        try:
            for line in lines:
                out.append(apply(line))
        except InputError as exc:
            return out, exc
        return out, None

    def _error(self, line: OrderLine, exc: InvalidOrder) -> InputError:
        column = _COLUMN_OF.get(exc.field, exc.field)
        value = getattr(line, column, exc.value) if column in ("symbol", "price", "quantity", "owner",
                                                                "client_id") else exc.value
        return InputError(self.path, line.line, column, value, exc.reason)

    def _refused(self, line: OrderLine, totals: SymbolTotals, reason: str) -> dict | None:
        totals.refused += 1
        if not self.events:
            return None
        return {"line": line.line, "event": "refused", "symbol": line.symbol, "action": line.action,
                "owner": line.owner, "client_id": line.client_id, "reason": reason}

    def apply(self, line: OrderLine) -> list[str] | None:
        symbol = line.symbol
        totals = self.totals.get(symbol)
        if totals is None:
            totals = self.totals[symbol] = SymbolTotals()
            self.instruments[symbol] = self.engine.instrument(symbol)
        totals.lines += 1
        engine = self.engine
        refused = None
        try:
            if line.action == "new":
                totals.new += 1
                try:
                    result = engine.submit(symbol, line.side, line.quantity, line.price, order_type=line.order_type,
                                           time_in_force=line.tif, post_only=line.post_only, owner=line.owner,
                                           client_id=line.client_id)
                except DuplicateClientId:
                    refused = self._refused(line, totals, "duplicate_client_id")
                    result = None
                else:
                    if line.client_id is not None:
                        self.ids[(symbol, line.owner, line.client_id)] = result.order_id
            else:
                if line.action == "cancel":
                    totals.cancel += 1
                else:
                    totals.modify += 1
                order_id = self.ids.get((symbol, line.owner, line.client_id))
                result = None
                if order_id is None:
                    refused = self._refused(line, totals, "unknown_client_id")
                elif line.action == "cancel":
                    result = engine.cancel(symbol, order_id)
                    if not result.cancelled:
                        refused = self._refused(line, totals, result.reason.value)
                else:
                    result = engine.modify(symbol, order_id, price=line.price, quantity=line.quantity)
                    if not result.accepted:
                        refused = self._refused(line, totals, result.reason.value)
        except InvalidOrder as exc:
            raise self._error(line, exc) from None
        events = result.events if result is not None else ()
        for event in events:
            kind = type(event)
            if kind is Trade:
                totals.trades += 1
                totals.volume += event.qty
                totals.last_trades.append(event)
            elif kind is Rejected:
                totals.rejected += 1
        if not self.events:
            return None
        instrument = self.instruments[symbol]
        out = [json.dumps(event_record(line.line, e, instrument)) for e in events]
        if refused is not None:
            out.append(json.dumps(refused))
        return out


class Replay:
    """Replays order files into ``engine`` (its instruments already added).

    ``events=True`` makes :meth:`run` yield one JSON text per event, in file
    order; ``threads`` splits the work by symbol (see the module docstring).
    ``totals`` has each symbol's :class:`SymbolTotals` after a run, in order of
    first appearance.
    """

    def __init__(self, engine, *, threads: int = 1, events: bool = False) -> None:
        if type(threads) is not int or threads < 1:
            raise ValueError(f"threads={threads!r}: must be a positive int")
        self.engine = engine
        self.threads = threads
        self.events = events
        self.totals: dict[str, SymbolTotals] = {}
        self.lines = 0

    def run(self, path, progress: Callable[[int, int], None] | None = None) -> Iterator[str]:
        """Apply the file's lines; yields JSON texts (with ``events=True``), raises InputError.

        ``progress(position, size)`` is called after each batch (bytes of the file).
        """
        reader = RowReader(path, COLUMNS)
        known = set(self.engine.symbols())
        group: dict[str, int] = {}
        workers = [_Worker(self.engine, reader.path, self.events) for _ in range(self.threads)]
        pools = [ThreadPoolExecutor(1, thread_name_prefix=f"replay-{i}") for i in range(self.threads)] \
            if self.threads > 1 else []

        def batches() -> Generator[list[OrderLine], None, None]:
            batch: list[OrderLine] = []
            try:
                for number, row in reader:
                    line = parse_line(reader.path, number, row)
                    if line.symbol not in known:
                        raise InputError(reader.path, number, "symbol", line.symbol, "no such instrument")
                    batch.append(line)
                    if len(batch) == BATCH:
                        yield batch
                        batch = []
            except InputError:
                if batch:  # the lines before the bad one are applied and written first
                    yield batch
                raise
            if batch:
                yield batch

        def submit(batch: list[OrderLine]) -> tuple[list[int], list]:
            parts: list[list[OrderLine]] = [[] for _ in workers]
            owners = []
            for line in batch:
                g = group.get(line.symbol)
                if g is None:
                    g = group[line.symbol] = len(group) % len(workers)
                parts[g].append(line)
                owners.append(g)
            if not pools:
                return owners, [_Done(workers[0].run(parts[0]))]
            return owners, [pool.submit(w.run, p) for pool, w, p in zip(pools, workers, parts)]

        def written(owners: list[int], futures: list) -> Iterator[str]:
            results = [f.result() for f in futures]
            taken = [0] * len(results)
            for g in owners:
                outputs, error = results[g]
                i = taken[g]
                if i == len(outputs):
                    raise error  # the first line, in file order, that failed
                taken[g] = i + 1
                self.lines += 1
                if outputs[i]:
                    yield from outputs[i]

        source = batches()
        try:
            pending: collections.deque = collections.deque()
            stop = None
            while True:
                try:
                    batch = next(source)
                except StopIteration:
                    break
                except InputError as exc:
                    stop = exc
                    break
                pending.append(submit(batch))
                if len(pending) > 2:  # keep the workers a batch ahead of the writer
                    yield from written(*pending.popleft())
                if progress is not None:
                    progress(reader.position, reader.size)
            while pending:
                yield from written(*pending.popleft())
            if stop is not None:
                raise stop
        finally:
            source.close()  # the file
            for pool in pools:
                pool.shutdown(wait=True, cancel_futures=True)
            for symbol, g in group.items():  # in order of first appearance
                if symbol in workers[g].totals:
                    self.totals.setdefault(symbol, SymbolTotals()).merge(workers[g].totals[symbol])
        if progress is not None:
            progress(reader.position, reader.size)


class _Done:
    """A finished result with the ``Future.result()`` interface (the one-thread path)."""

    __slots__ = ("value",)

    def __init__(self, value) -> None:
        self.value = value

    def result(self):
        return self.value


def replay_lines(engine, path, **kwargs) -> tuple[Replay, list[str]]:
    """Convenience for small files: run a :class:`Replay` to the end, its output as a list."""
    replay = Replay(engine, **kwargs)
    return replay, list(replay.run(path))

