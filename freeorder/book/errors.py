"""Exceptions of the order book: malformed input, and broken invariants.

Every exception raised for bad input names the offending field and value, and
is raised before the book changes: a command that raises leaves the book, its
order ids and its sequence number exactly as they were.

- :class:`InvalidOrder` (a ``ValueError``): a value of the right type that the
  book cannot accept (off-tick price, zero quantity, NaN, unknown symbol...).
- :class:`InvalidOrderType` (also a ``TypeError``): a value of the wrong type
  (``side="buy"`` instead of ``Side.BUY``, a ``bool`` quantity...).
- :class:`UnknownSymbol`, :class:`UnknownOrder`, :class:`DuplicateClientId`:
  the three :class:`InvalidOrder` cases callers most often want to catch alone.

Valid commands that the book refuses (post-only would cross, fill-or-kill
cannot fill, cancel of a finished order) are not exceptions: they are answered
by the command's result (and, for orders, a ``Rejected`` event).
"""

from __future__ import annotations

__all__ = [
    "BookError",
    "InvalidOrder",
    "InvalidOrderType",
    "UnknownSymbol",
    "UnknownOrder",
    "DuplicateClientId",
    "DuplicateInstrument",
    "InvariantViolation",
]


class BookError(Exception):
    """Base class of every exception the book and the engines raise."""


class InvalidOrder(BookError, ValueError):
    """Malformed input: ``field`` holds ``value``, which is refused because of ``reason``."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={value!r}: {reason}")

    def __reduce__(self):
        return (type(self), (self.field, self.value, self.reason))


class InvalidOrderType(InvalidOrder, TypeError):
    """Malformed input of the wrong Python type."""


class UnknownSymbol(InvalidOrder):
    """The engine has no instrument with this symbol."""


class UnknownOrder(InvalidOrder):
    """No order with this id was ever issued for the symbol."""


class DuplicateClientId(InvalidOrder):
    """The owner already has a live order with this client id on the symbol."""


class DuplicateInstrument(BookError, ValueError):
    """An instrument with this symbol is already registered."""


class InvariantViolation(BookError, AssertionError):
    """A book state breaks an invariant; ``problems`` lists every violation found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems) if self.problems else "no problems")
