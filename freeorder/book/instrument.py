"""Instruments: the fixed-point grid on which a symbol's prices and quantities live.

Inside the book every price and quantity is an ``int`` count of *units*:
``price_units = price * 10**price_scale`` and ``qty_units = qty * 10**qty_scale``.
Invariants of an :class:`Instrument`:

- ``tick_units = tick_size * 10**price_scale`` and ``lot_units = lot_size *
  10**qty_scale`` are positive ints;
- every price the book holds is a positive multiple of ``tick_units`` and every
  quantity a positive multiple of ``lot_units``, both at most ``2**63 - 1``
  (they fit an int64 cell, as the lock-free engines require).

Parsing (:meth:`Instrument.parse_price`, :meth:`Instrument.parse_quantity`)
accepts ``int``, ``decimal.Decimal`` and ``str`` (decimal notation), and a
``float`` only when its exact binary value lies on the grid (``0.5`` on a 0.01
tick is fine; ``0.1`` is not, because the float is 0.1000000000000000055...).
NaN, infinities, ``bool`` and other types are refused with
:class:`~freeorder.book.errors.InvalidOrder` naming the field and value.

>>> xyz = Instrument("XYZ", tick_size="0.01", lot_size=1)
>>> xyz.parse_price("100.25"), xyz.parse_price(7), xyz.price_decimal(10025)
(10025, 700, Decimal('100.25'))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from decimal import Decimal, InvalidOperation

from .errors import InvalidOrder, InvalidOrderType

__all__ = ["Instrument", "INT64_MAX"]

INT64_MAX = 2**63 - 1
_MAX_EXPONENT = 19  # 10**19 > INT64_MAX: a larger scaled exponent cannot fit


def _exact_decimal(value: Any, name: str) -> Decimal:  # Any: the type is checked here, at run time
    """``value`` as an exact finite ``Decimal``, or raise naming ``name``."""
    kind = type(value)
    if kind is Decimal:
        number = value
    elif kind is str:
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise InvalidOrder(name, value, "not a decimal number") from None
    elif kind is float:
        if math.isnan(value):
            raise InvalidOrder(name, value, "NaN is not a number")
        if math.isinf(value):
            raise InvalidOrder(name, value, "must be finite")
        number = Decimal(value)  # the float's exact binary value
    elif isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(int(value))
    else:
        raise InvalidOrderType(name, value, f"expected int, Decimal or str, not {kind.__name__}")
    if not number.is_finite():
        raise InvalidOrder(name, value, "must be finite (not NaN or infinity)")
    return number


def _scaled_units(value: object, name: str, scale: int) -> int:
    """``value * 10**scale`` as an exact int, or raise if it has finer digits."""
    number = _exact_decimal(value, name)
    sign, digits, exponent = number.as_tuple()
    mantissa = int("".join(map(str, digits))) if digits else 0
    shift = exponent + scale  # type: ignore[operator]  # finite (checked above): exponent is an int
    if mantissa == 0:
        return 0
    if shift >= 0:
        if shift > _MAX_EXPONENT:
            raise InvalidOrder(name, value, "exceeds the int64 fixed-point range")
        units = mantissa * 10**shift
    else:
        # A mantissa with fewer digits than the shift is nonzero below the grid.
        if -shift > len(digits) or mantissa % 10**-shift:
            if type(value) is float:
                raise InvalidOrder(
                    name, value, f"inexact float: its binary value is {number}, off the grid of 10**-{scale}"
                )
            raise InvalidOrder(name, value, f"has more than {scale} decimal places")
        units = mantissa // 10**-shift
    return -units if sign else units


def _positive_decimal(value: object, name: str) -> Decimal:
    number = _exact_decimal(value, name)
    if number <= 0:
        raise InvalidOrder(name, value, "must be positive")
    return number


def _places(number: Decimal) -> int:
    return max(0, -number.normalize().as_tuple().exponent)  # type: ignore[operator]  # positive: finite


@dataclass(frozen=True)
class Instrument:
    """A tradable symbol and its price/quantity grid (see the module docstring).

    ``price_scale``/``qty_scale`` default to the number of decimal places of
    ``tick_size``/``lot_size``; give a larger scale to keep units stable if the
    tick may later be refined.
    """

    symbol: str
    tick_size: Decimal = Decimal(1)
    lot_size: Decimal = Decimal(1)
    # None (the default) is replaced by an int in __post_init__: an int once constructed
    price_scale: int = None  # type: ignore[assignment]
    qty_scale: int = None  # type: ignore[assignment]
    tick_units: int = field(init=False, repr=False)
    lot_units: int = field(init=False, repr=False)
    _price_mult: int = field(init=False, repr=False, compare=False)
    _qty_mult: int = field(init=False, repr=False, compare=False)

    if TYPE_CHECKING:  # what the constructor accepts (the generated __init__ takes the same, untyped)

        def __init__(
            self,
            symbol: str,
            tick_size: Decimal | int | str = ...,
            lot_size: Decimal | int | str = ...,
            price_scale: int | None = None,
            qty_scale: int | None = None,
        ) -> None: ...

    def __post_init__(self) -> None:
        if type(self.symbol) is not str:
            raise InvalidOrderType("symbol", self.symbol, "must be a str")
        if not self.symbol:
            raise InvalidOrder("symbol", self.symbol, "must not be empty")
        tick = _positive_decimal(self.tick_size, "tick_size")
        lot = _positive_decimal(self.lot_size, "lot_size")
        for name, scale, number in (("price_scale", self.price_scale, tick), ("qty_scale", self.qty_scale, lot)):
            if scale is None:
                scale = _places(number)
            elif type(scale) is not int:
                raise InvalidOrderType(name, scale, "must be an int")
            elif not 0 <= scale <= 18:
                raise InvalidOrder(name, scale, "must be between 0 and 18")
            object.__setattr__(self, name, scale)
        set_ = object.__setattr__
        set_(self, "tick_size", tick)
        set_(self, "lot_size", lot)
        set_(self, "tick_units", _scaled_units(tick, "tick_size", self.price_scale))
        set_(self, "lot_units", _scaled_units(lot, "lot_size", self.qty_scale))
        set_(self, "_price_mult", 10**self.price_scale)
        set_(self, "_qty_mult", 10**self.qty_scale)

    def parse_price(self, value: object, name: str = "price") -> int:
        """``value`` in price units: a positive multiple of ``tick_units`` within int64."""
        if type(value) is int:
            units = value * self._price_mult
        else:
            units = _scaled_units(value, name, self.price_scale)
        if units <= 0:
            raise InvalidOrder(name, value, "must be positive")
        if units > INT64_MAX:
            raise InvalidOrder(name, value, "exceeds the int64 fixed-point range")
        if units % self.tick_units:
            raise InvalidOrder(name, value, f"not a multiple of the tick size {self.tick_size}")
        return units

    def parse_quantity(self, value: object, name: str = "quantity") -> int:
        """``value`` in quantity units: a positive multiple of ``lot_units`` within int64."""
        if type(value) is int:
            units = value * self._qty_mult
        else:
            units = _scaled_units(value, name, self.qty_scale)
        if units <= 0:
            raise InvalidOrder(name, value, "must be positive")
        if units > INT64_MAX:
            raise InvalidOrder(name, value, "exceeds the int64 fixed-point range")
        if units % self.lot_units:
            raise InvalidOrder(name, value, f"not a multiple of the lot size {self.lot_size}")
        return units

    def price_decimal(self, units: int) -> Decimal:
        """The decimal price of ``units`` price units."""
        return Decimal(units).scaleb(-self.price_scale)

    def quantity_decimal(self, units: int) -> Decimal:
        """The decimal quantity of ``units`` quantity units."""
        return Decimal(units).scaleb(-self.qty_scale)
