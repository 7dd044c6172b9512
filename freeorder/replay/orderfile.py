"""Order files: CSV with a header row, or JSON Lines (one object per line, the same keys).

Columns (keys)::

    action     new | cancel | modify                       required
    symbol     the instrument                              required
    side       buy | sell                                  new
    type       limit | market                              new
    price      decimal; limit orders (none for market)     new; modify (new price)
    quantity   decimal                                     new; modify (new open quantity)
    tif        gtc | ioc | fok                             optional (default: gtc limit, ioc market)
    post_only  true | false (also 1/0, yes/no)             optional
    owner      who sends it                                optional (default "")
    client_id  the sender's name for the order             optional on new; cancel/modify name
                                                           the order by owner + client_id

Enumerations are case-insensitive; empty cells count as absent; spaces around
a value are ignored. A file is read as
a stream, one line at a time (never whole); JSON numbers are read as exact
decimals. Anything malformed raises :class:`InputError` naming the file, the line,
the field and the value; whether a price is on the instrument's tick is the
engine's check, made when the line is applied (see :mod:`freeorder.replay.runner`).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from ..book.orders import OrderType, Side, TimeInForce

__all__ = ["COLUMNS", "INSTRUMENT_COLUMNS", "InputError", "OrderLine", "RowReader", "read_orders", "parse_decimal"]

COLUMNS = ("action", "symbol", "side", "type", "price", "quantity", "tif", "post_only", "owner", "client_id")
INSTRUMENT_COLUMNS = ("symbol", "tick_size", "lot_size")
ACTIONS = ("new", "cancel", "modify")
_TRUE = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


class InputError(ValueError):
    """A file the command cannot use: ``path``, ``line`` (1-based, or None), ``field``, ``value``, ``reason``.

    ``str()`` is the one line the command line prints, e.g.
    ``orders.csv line 7: price='abc': not a decimal number``.
    """

    def __init__(self, path, line: int | None, field: str | None, value: object, reason: str) -> None:
        self.path, self.line, self.field, self.value, self.reason = str(path), line, field, value, reason
        where = self.path + (f" line {line}" if line is not None else "")
        shown = str(value) if isinstance(value, Decimal) else repr(value)
        super().__init__(f"{where}: {field}={shown}: {reason}" if field is not None else f"{where}: {reason}")

    def __reduce__(self):
        return (type(self), (self.path, self.line, self.field, self.value, self.reason))


class OrderLine(NamedTuple):
    """One line of an order file, checked for syntax (not yet against an instrument).

    ``price`` and ``quantity`` are ``str``, ``int`` or exact ``Decimal`` as read,
    or None; the engine parses them onto the instrument's grid.
    """

    line: int
    action: str
    symbol: str
    side: Side | None
    order_type: OrderType | None
    price: object
    quantity: object
    tif: TimeInForce | None
    post_only: bool
    owner: str
    client_id: str | None


class RowReader:
    """Rows of a CSV (header row) or JSON Lines file as ``(line_number, {column: value})``.

    The format is sniffed from the first non-blank byte (``{``: JSON Lines).
    Empty cells and JSON nulls are left out of the row. ``position`` is the
    number of bytes consumed so far and ``size`` the file's size (for progress).
    Columns outside ``columns`` are refused at the header (CSV) or the line (JSON).
    """

    def __init__(self, path, columns: tuple[str, ...]) -> None:
        self.path = str(path)
        self.columns = columns
        self.position = 0
        try:
            self.size = os.path.getsize(self.path)
            with open(self.path, "rb") as f:
                head = f.read(4096).lstrip()
        except FileNotFoundError:
            raise InputError(self.path, None, None, None, "no such file") from None
        except IsADirectoryError:
            raise InputError(self.path, None, None, None, "is a directory, not a file") from None
        except OSError as exc:
            raise InputError(self.path, None, None, None, exc.strerror or str(exc)) from None
        self.jsonl = head.startswith(b"{")

    def _lines(self, f) -> Iterator[str]:
        for number, raw in enumerate(f, 1):
            self.position += len(raw)
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(self.path, number, None, None,
                                 f"not UTF-8 text ({raw[exc.start:exc.start + 8]!r} at byte {exc.start})") from None

    def _unknown(self, line: int, key: str):
        return InputError(self.path, line, "column", key, f"unknown column (known: {', '.join(self.columns)})")

    def __iter__(self) -> Iterator[tuple[int, dict]]:
        with open(self.path, "rb") as f:
            yield from (self._json_rows(f) if self.jsonl else self._csv_rows(f))

    def _json_rows(self, f) -> Iterator[tuple[int, dict]]:
        for number, text in enumerate(self._lines(f), 1):
            if not text.strip():
                continue
            try:
                row = json.loads(text, parse_float=Decimal)
            except json.JSONDecodeError as exc:
                raise InputError(self.path, number, None, None,
                                 f"not a JSON object: {exc.msg} at column {exc.colno}") from None
            if type(row) is not dict:
                raise InputError(self.path, number, None, None, f"not a JSON object: {text.strip()[:40]!r}")
            for key in row:
                if key not in self.columns:
                    raise self._unknown(number, key)
            yield number, {k: v for k, v in row.items() if v is not None and v != ""}

    def _csv_rows(self, f) -> Iterator[tuple[int, dict]]:
        reader = csv.reader(self._lines(f))
        header = None
        try:
            for cells in reader:
                number = reader.line_num
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue
                if header is None:
                    header = [c.strip() for c in cells]
                    for key in header:
                        if key not in self.columns:
                            raise self._unknown(number, key)
                    continue
                if len(cells) != len(header):
                    raise InputError(self.path, number, None, None,
                                     f"{len(cells)} fields, but the header row has {len(header)}")
                yield number, {k: v for k, v in zip(header, cells) if v}
        except csv.Error as exc:
            raise InputError(self.path, reader.line_num, None, None, f"bad CSV: {exc}") from None


def parse_decimal(path, line: int, field: str, value: object) -> Decimal:
    """``value`` (str, int or Decimal) as an exact finite Decimal, or InputError."""
    if type(value) is Decimal or (type(value) is int):
        number = Decimal(value)
    elif type(value) is str:
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise InputError(path, line, field, value, "not a decimal number") from None
    else:
        raise InputError(path, line, field, value, "expected a decimal number")
    if not number.is_finite():
        raise InputError(path, line, field, value, "must be finite")
    return number


def _lookup(enum) -> dict[str, object]:
    table = {member.value: member for member in enum}
    table.update({member.value.upper(): member for member in enum})
    return table


_SIDES, _TYPES, _TIFS = _lookup(Side), _lookup(OrderType), _lookup(TimeInForce)


def _choice(path, line: int, row: dict, field: str, table: dict, names: tuple[str, ...]):
    value = row.get(field)
    if value is None:
        return None
    member = table.get(value) if type(value) is str else None
    if member is None and type(value) is str:
        member = table.get(value.strip().lower())
    if member is None:
        raise InputError(path, line, field, value, f"expected {' or '.join(names)}")
    return member


def _text(path, line: int, row: dict, field: str) -> str | None:
    value = row.get(field)
    if value is None:
        return value
    if type(value) is str:
        return value.strip() or None
    if type(value) is int:
        return str(value)
    raise InputError(path, line, field, value, "expected a string")


def _require(path, line: int, row: dict, field: str, action: str, why: str = ""):
    value = row.get(field)
    if value is None:
        raise InputError(path, line, field, None, f"missing: {action} needs a {field}{why}")
    return value


def parse_line(path, line: int, row: dict) -> OrderLine:
    """One row as an :class:`OrderLine`, or :class:`InputError` naming the field and value."""
    action = row.get("action")
    if action not in ACTIONS:
        if type(action) is not str or action.strip().lower() not in ACTIONS:
            raise InputError(path, line, "action", action, "expected new, cancel or modify")
        action = action.strip().lower()
    symbol = row.get("symbol")
    if type(symbol) is not str or not symbol.strip():
        raise InputError(path, line, "symbol", symbol, "missing or not a string")
    symbol = symbol.strip()
    price, quantity = row.get("price"), row.get("quantity")
    for field, value in (("price", price), ("quantity", quantity)):
        if value is not None:
            parse_decimal(path, line, field, value)
    post_only = row.get("post_only", False)
    if post_only is False:
        pass
    elif type(post_only) is str:
        if post_only.strip().lower() not in _TRUE:
            raise InputError(path, line, "post_only", post_only, "expected true or false")
        post_only = _TRUE[post_only.strip().lower()]
    elif type(post_only) is not bool:
        raise InputError(path, line, "post_only", post_only, "expected true or false")
    owner = _text(path, line, row, "owner") or ""
    client_id = _text(path, line, row, "client_id")
    side = _choice(path, line, row, "side", _SIDES, ("buy", "sell"))
    order_type = _choice(path, line, row, "type", _TYPES, ("limit", "market"))
    tif = _choice(path, line, row, "tif", _TIFS, ("gtc", "ioc", "fok"))
    if action == "new":
        _require(path, line, row, "side", action)
        _require(path, line, row, "type", action)
        _require(path, line, row, "quantity", action)
        if order_type is OrderType.LIMIT:
            _require(path, line, row, "price", "a limit order")
        elif price is not None:
            raise InputError(path, line, "price", price, "a market order has no price")
    else:
        _require(path, line, row, "client_id", action, " (owner + client_id name the order)")
        if action == "modify" and price is None and quantity is None:
            raise InputError(path, line, "quantity", None, "missing: modify needs a price or a quantity")
    return OrderLine(line, action, symbol, side, order_type, price, quantity, tif, post_only, owner, client_id)


def read_orders(path) -> Iterator[OrderLine]:
    """The lines of an order file, streamed (see the module docstring); raises InputError."""
    reader = RowReader(path, COLUMNS)
    for number, row in reader:
        yield parse_line(reader.path, number, row)
