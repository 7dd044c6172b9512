"""Orders: the enums that describe them, the book's mutable order record, and
the immutable :class:`OrderInfo` view that engines return.

Commands take enum members, not strings: ``Side.BUY``, not ``"buy"`` (a string
is refused with ``InvalidOrderType``). Convert explicitly with ``Side("buy")``.

Quantity accounting of one order, in quantity units (checked by
:mod:`freeorder.book.invariants`)::

    quantity == filled + remaining + cancelled

``quantity`` is the total ordered (a modify changes it by the change in open
quantity), ``filled`` what traded, ``remaining`` what still rests (0 unless the
status is live), ``cancelled`` what will never trade (cancelled, expired or
rejected).
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from ._immortal import immortalize
from ._values import value_type

__all__ = [
    "Side",
    "OrderType",
    "TimeInForce",
    "OrderStatus",
    "SelfTradePrevention",
    "Order",
    "OrderInfo",
    "LIVE_STATUSES",
]


class Side(enum.Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(enum.Enum):
    LIMIT = "limit"  # has a price; may rest (GTC)
    MARKET = "market"  # no price; sweeps the book, never rests


class TimeInForce(enum.Enum):
    GTC = "gtc"  # good till cancelled: the remainder rests
    IOC = "ioc"  # immediate or cancel: the remainder expires
    FOK = "fok"  # fill or kill: fills completely at once, or is rejected untouched


class OrderStatus(enum.Enum):
    NEW = "new"  # live, nothing filled
    PARTIALLY_FILLED = "partially_filled"  # live, some filled
    FILLED = "filled"
    CANCELLED = "cancelled"  # by its owner, a mass cancel or self-trade prevention
    REJECTED = "rejected"  # refused whole: post-only would cross, fill-or-kill cannot fill
    EXPIRED = "expired"  # the unfilled remainder of an IOC or market order

    @property
    def is_live(self) -> bool:
        return self is OrderStatus.NEW or self is OrderStatus.PARTIALLY_FILLED


LIVE_STATUSES = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})


class SelfTradePrevention(enum.Enum):
    """What happens when an incoming order (the taker) meets a resting order of
    the same owner. The taker's setting decides."""

    NONE = "none"  # they trade
    CANCEL_NEWEST = "cancel_newest"  # cancel the taker's remainder; the maker stays
    CANCEL_OLDEST = "cancel_oldest"  # cancel the maker; the taker keeps matching
    CANCEL_BOTH = "cancel_both"  # cancel the maker and the taker's remainder


# Every order, event and result holds these members: no refcount traffic between threads (see _immortal).
immortalize([*Side, *OrderType, *TimeInForce, *OrderStatus, *SelfTradePrevention])


# The order record's fields, by index (see Order).
(ORDER_ID, REMAINING, FILLED, STATUS, PRIORITY, PRICE, SIDE, OWNER, CLIENT_ID, STP, QUANTITY, CANCELLED,
 ORDER_TYPE, TIME_IN_FORCE, POST_ONLY) = range(15)  # fmt: skip


class Order:
    """The book's mutable record of one order is a plain ``list`` of 15 fields;
    this class names them and builds and reads records.

    A list because it is the cheapest mutable record to build on 3.13t (a
    15-item list display costs ~90 ns; a 15-slot object ~500 ns, since nothing
    is specialised and every slot store is a generic attribute store; a list
    subclass ~180 ns), and indexing it costs what a slot load costs. The
    book's hot paths index records with literals, the field name in a
    comment; other code uses the constants ``ORDER_ID`` ... ``POST_ONLY`` of
    this module (also attributes of this class). Fields, by index::

        0 order_id   1 remaining  2 filled      3 status         4 priority
        5 price      6 side       7 owner       8 client_id      9 stp
        10 quantity  11 cancelled 12 order_type 13 time_in_force 14 post_only

    ``priority`` is the sequence number of the event that last put the order at
    the back of its level's queue (``Accepted`` or a priority-losing
    ``Modified``); within a level, queue order is increasing priority.
    """

    (ORDER_ID, REMAINING, FILLED, STATUS, PRIORITY, PRICE, SIDE, OWNER, CLIENT_ID, STP, QUANTITY, CANCELLED,
     ORDER_TYPE, TIME_IN_FORCE, POST_ONLY) = range(15)  # fmt: skip

    @staticmethod
    def new(order_id, owner, client_id, side, order_type, time_in_force, post_only, stp, price, quantity) -> list:
        """A NEW order's record, nothing filled (priority 0 until it is queued)."""
        return [order_id, quantity, 0, OrderStatus.NEW, 0, price, side, owner, client_id, stp, quantity, 0,
                order_type, time_in_force, post_only]  # fmt: skip

    @staticmethod
    def info(order: list, symbol: str) -> OrderInfo:
        """The immutable view of the record ``order``."""
        (order_id, remaining, filled, status, _priority, price, side, owner, client_id, stp, quantity, cancelled,
         order_type, time_in_force, post_only) = order  # fmt: skip
        return OrderInfo(
            symbol,
            order_id,
            owner,
            client_id,
            side,
            order_type,
            time_in_force,
            post_only,
            stp,
            price,
            quantity,
            filled,
            remaining,
            cancelled,
            status,
        )

    @staticmethod
    def describe(order: list) -> str:
        """A one-line summary of the record ``order``, for debugging."""
        return (
            f"Order(id={order[ORDER_ID]}, {order[SIDE].name} {order[REMAINING]}/{order[QUANTITY]}"
            f" @ {order[PRICE]}, {order[STATUS].name}, owner={order[OWNER]!r})"
        )


@value_type
class OrderInfo(NamedTuple):
    """An immutable view of one order at the time it was taken (prices and
    quantities in instrument units; ``price`` is ``None`` for market orders)."""

    symbol: str
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
    filled: int
    remaining: int
    cancelled: int
    status: OrderStatus
