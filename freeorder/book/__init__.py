"""The order-book domain: instruments, orders, events, results, the sequential
per-symbol :class:`OrderBook` and the invariant checker.

Engines (``freeorder.engines``) build on this package; it imports nothing above it.
"""

from .book import Level, OrderBook
from .errors import (
    BookError,
    DuplicateClientId,
    DuplicateInstrument,
    InvalidOrder,
    InvalidOrderType,
    InvariantViolation,
    UnknownOrder,
    UnknownSymbol,
)
from .events import Accepted, BookUpdate, Cancelled, CancelReason, Event, Modified, Rejected, RejectReason, Trade
from .instrument import INT64_MAX, Instrument
from .invariants import check_invariants, violations
from .orders import LIVE_STATUSES, Order, OrderInfo, OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from .results import (
    BookSnapshot,
    CancelResult,
    Depth,
    LevelInfo,
    LevelOrders,
    MassCancelResult,
    ModifyResult,
    Quote,
    RestingOrder,
    SubmitResult,
)

__all__ = [
    "Accepted",
    "BookError",
    "BookSnapshot",
    "BookUpdate",
    "CancelReason",
    "CancelResult",
    "Cancelled",
    "Depth",
    "DuplicateClientId",
    "DuplicateInstrument",
    "Event",
    "INT64_MAX",
    "Instrument",
    "InvalidOrder",
    "InvalidOrderType",
    "InvariantViolation",
    "LIVE_STATUSES",
    "Level",
    "LevelInfo",
    "LevelOrders",
    "MassCancelResult",
    "Modified",
    "ModifyResult",
    "Order",
    "OrderBook",
    "OrderInfo",
    "OrderStatus",
    "OrderType",
    "Quote",
    "RejectReason",
    "Rejected",
    "RestingOrder",
    "SelfTradePrevention",
    "Side",
    "SubmitResult",
    "TimeInForce",
    "Trade",
    "UnknownOrder",
    "UnknownSymbol",
    "check_invariants",
    "violations",
]
