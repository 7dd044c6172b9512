"""Instruments for a replay: read from a file, or inferred from the order file.

An instruments file is CSV (header row) or JSON Lines with the columns
``symbol``, ``tick_size`` and optionally ``lot_size`` (default 1). Without one,
:func:`infer_instruments` streams the order file once and gives each symbol
the tick ``10**-d``, ``d`` the most decimal places written among its prices
(``10.10`` counts two; tick 1 if it has none), and likewise the lot from its
quantities: the decimal grid every price and quantity seen is written on.
"""

from __future__ import annotations

from decimal import Decimal

from ..book.errors import InvalidOrder
from ..book.instrument import Instrument
from .orderfile import COLUMNS, INSTRUMENT_COLUMNS, InputError, RowReader, parse_decimal, parse_line

__all__ = ["infer_instruments", "load_instruments"]


def load_instruments(path) -> dict[str, Instrument]:
    """The instruments of ``path`` by symbol, in file order; InputError on a bad line or a repeated symbol."""
    reader = RowReader(path, INSTRUMENT_COLUMNS)
    found: dict[str, Instrument] = {}
    for number, row in reader:
        symbol = row.get("symbol")
        if type(symbol) is not str:
            raise InputError(reader.path, number, "symbol", symbol, "missing or not a string")
        if symbol in found:
            raise InputError(reader.path, number, "symbol", symbol, "listed twice")
        if "tick_size" not in row:
            raise InputError(reader.path, number, "tick_size", None, "missing")
        tick = parse_decimal(reader.path, number, "tick_size", row["tick_size"])
        lot = parse_decimal(reader.path, number, "lot_size", row.get("lot_size", 1))
        try:
            found[symbol] = Instrument(symbol, tick_size=tick, lot_size=lot)
        except InvalidOrder as exc:
            raise InputError(reader.path, number, exc.field, row.get(exc.field, exc.value), exc.reason) from None
    if not found:
        raise InputError(reader.path, None, None, None, "no instruments in the file")
    return found


def _places(number: Decimal) -> int:
    """Decimal places as written: ``10.10`` has two (a price grid of cents), ``10.1`` one."""
    exponent = number.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def infer_instruments(path, progress=None) -> dict[str, Instrument]:
    """One streamed pass over the order file: per symbol (in order of first
    appearance) the coarsest decimal tick and lot its prices and quantities lie on.

    ``progress(position, size)`` is called now and then. Malformed lines raise
    InputError here, as the replay itself would.
    """
    reader = RowReader(path, COLUMNS)
    places: dict[str, list[int]] = {}
    for number, row in reader:
        line = parse_line(reader.path, number, row)
        seen = places.setdefault(line.symbol, [0, 0])
        if line.price is not None:
            seen[0] = max(seen[0], _places(parse_decimal(reader.path, number, "price", line.price)))
        if line.quantity is not None:
            seen[1] = max(seen[1], _places(parse_decimal(reader.path, number, "quantity", line.quantity)))
        if progress is not None and number % 4096 == 0:
            progress(reader.position, reader.size)
    if progress is not None:
        progress(reader.position, reader.size)
    return {symbol: Instrument(symbol, tick_size=Decimal(1).scaleb(-p), lot_size=Decimal(1).scaleb(-q))
            for symbol, (p, q) in places.items()}
