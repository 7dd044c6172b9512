"""Results: the value each engine command and query returns.

Every command answers synchronously with an immutable result that includes
the events it produced, so a caller never has to correlate a stream to learn
what its own command did, and two engines can be compared result by result.
Prices and quantities are in the instrument's integer units.
"""

from __future__ import annotations

from typing import NamedTuple

from ._values import value_type
from .events import Event, RejectReason
from .orders import OrderStatus

__all__ = [
    "SubmitResult",
    "CancelResult",
    "ModifyResult",
    "MassCancelResult",
    "Quote",
    "LevelInfo",
    "Depth",
    "RestingOrder",
    "LevelOrders",
    "BookSnapshot",
]


@value_type
class SubmitResult(NamedTuple):
    """``order_id`` is assigned even when the order is rejected (status REJECTED)."""

    order_id: int
    status: OrderStatus
    filled_qty: int
    remaining_qty: int  # open quantity left resting (0 unless status is live)
    events: tuple[Event, ...]


@value_type
class CancelResult(NamedTuple):
    """``cancelled`` is False (and ``reason`` says why) when the order was not live;
    ``status`` is the order's status after the command."""

    order_id: int
    cancelled: bool
    status: OrderStatus
    cancelled_qty: int
    reason: RejectReason | None
    events: tuple[Event, ...]


@value_type
class ModifyResult(NamedTuple):
    """``accepted`` is False (and ``reason`` says why) when nothing changed;
    ``filled_qty`` is what traded during this command (a re-priced order may cross)."""

    order_id: int
    accepted: bool
    status: OrderStatus
    priority_kept: bool
    filled_qty: int
    remaining_qty: int
    reason: RejectReason | None
    events: tuple[Event, ...]


@value_type
class MassCancelResult(NamedTuple):
    """The orders cancelled, in the order they were cancelled (bids best first, then asks)."""

    order_ids: tuple[int, ...]
    cancelled_qty: int
    events: tuple[Event, ...]


@value_type
class Quote(NamedTuple):
    """Top of book; prices are ``None`` (and quantities 0) for an empty side."""

    bid: int | None
    bid_qty: int
    ask: int | None
    ask_qty: int


@value_type
class LevelInfo(NamedTuple):
    price: int
    qty: int
    count: int  # type: ignore[assignment]  # a field named like tuple.count (the API predates the check)


@value_type
class Depth(NamedTuple):
    """Up to n levels per side, best first."""

    bids: tuple[LevelInfo, ...]
    asks: tuple[LevelInfo, ...]


@value_type
class RestingOrder(NamedTuple):
    """One order in a level's queue; ``priority`` increases along the queue."""

    order_id: int
    owner: str
    remaining: int
    priority: int


@value_type
class LevelOrders(NamedTuple):
    price: int
    qty: int
    count: int  # type: ignore[assignment]  # a field named like tuple.count (the API predates the check)
    orders: tuple[RestingOrder, ...]


@value_type
class BookSnapshot(NamedTuple):
    """Full L3 view of one symbol: every level, best first, each with its queue.

    ``seq`` is the last event's sequence number and ``last_order_id`` the last
    order id issued (ids run 1..last_order_id with no gaps).
    """

    symbol: str
    seq: int
    last_order_id: int
    bids: tuple[LevelOrders, ...]
    asks: tuple[LevelOrders, ...]
