"""Events: what a book tells the world, one immutable record per state change.

Every event carries its ``symbol`` and ``seq``, the symbol's sequence number:
gap-free, starting at 1, one per event, so a symbol's events form one total
order and a consumer detects loss by a jump in ``seq``. Events carry no
timestamps: the stream is a deterministic function of the commands applied.
Prices and quantities are in the instrument's integer units.

Within one command events appear in this order: ``Accepted`` or ``Rejected``
(or ``Modified``) first, then per price level touched the ``Trade`` and
``Cancelled`` events that changed it followed by that level's ``BookUpdate``,
and last the ``Cancelled`` of an incoming order's unfilled remainder.
"""

from __future__ import annotations

import enum
from typing import NamedTuple, Union

from ._immortal import immortalize
from ._values import value_type
from .orders import OrderType, SelfTradePrevention, Side, TimeInForce

__all__ = [
    "RejectReason",
    "CancelReason",
    "Accepted",
    "Rejected",
    "Trade",
    "Cancelled",
    "Modified",
    "BookUpdate",
    "Event",
]


class RejectReason(enum.Enum):
    """Why a valid command was refused (the book did not change)."""

    POST_ONLY_WOULD_CROSS = "post_only_would_cross"
    FOK_UNFILLABLE = "fok_unfillable"  # not enough liquidity (self-trade prevention counted)
    ORDER_NOT_LIVE = "order_not_live"  # cancel/modify of a filled, cancelled, rejected or expired order


class CancelReason(enum.Enum):
    """Why an order's open quantity was removed."""

    USER = "user"  # cancel()
    MASS_CANCEL = "mass_cancel"
    SELF_TRADE = "self_trade"  # self-trade prevention
    IOC_REMAINDER = "ioc_remainder"  # unfilled rest of an IOC limit order (status EXPIRED)
    MARKET_REMAINDER = "market_remainder"  # unfilled rest of a market order (status EXPIRED)


immortalize([*RejectReason, *CancelReason])  # see _immortal: events hold them, threads share them


@value_type
class Accepted(NamedTuple):
    """A new order passed validation and entered the book's processing."""

    symbol: str
    seq: int
    order_id: int
    owner: str
    client_id: str | None
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    post_only: bool
    stp: SelfTradePrevention
    price: int | None
    quantity: int


@value_type
class Rejected(NamedTuple):
    """A new order was refused whole; it never rested and never traded."""

    symbol: str
    seq: int
    order_id: int
    reason: RejectReason


@value_type
class Trade(NamedTuple):
    """``qty`` traded at the maker's (resting order's) ``price``."""

    symbol: str
    seq: int
    maker_id: int
    taker_id: int
    maker_owner: str
    taker_owner: str
    price: int
    qty: int
    taker_side: Side


@value_type
class Cancelled(NamedTuple):
    """``qty``, the order's whole open quantity, was removed for ``reason``."""

    symbol: str
    seq: int
    order_id: int
    qty: int
    reason: CancelReason


@value_type
class Modified(NamedTuple):
    """A live order's price and/or open quantity changed; ``priority_kept`` is
    False when it went to the back of the queue at ``price``."""

    symbol: str
    seq: int
    order_id: int
    price: int
    remaining: int
    priority_kept: bool


@value_type
class BookUpdate(NamedTuple):
    """The level ``price`` on ``side`` now holds ``qty`` in ``count`` orders (0, 0: gone)."""

    symbol: str
    seq: int
    side: Side
    price: int
    qty: int
    count: int  # type: ignore[assignment]  # a field named like tuple.count (the API predates the check)


Event = Union[Accepted, Rejected, Trade, Cancelled, Modified, BookUpdate]
