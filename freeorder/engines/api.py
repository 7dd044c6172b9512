"""The Engine protocol: the one API every matching engine implements.

Contract: for any history of calls, possibly concurrent, each call's
result equals the result the reference engine gives when the same calls are
applied one at a time in some order consistent with real time. To make that
checkable every command returns its whole outcome as an immutable value
(including the events it produced), results carry no timestamps, and
everything that orders events — order ids, sequence numbers — is per symbol,
so histories partition by symbol.

Conventions shared by all engines:

- Order ids are ints issued per symbol, gap-free from 1, also to rejected
  orders; an order is addressed as ``(symbol, order_id)``.
- Each symbol's events have a gap-free ``seq`` from 1 (see ``freeorder.book.events``).
- Prices/quantities are accepted as ``int``/``Decimal``/``str``/exact ``float``
  and returned as the instrument's integer units (``Instrument.price_decimal``
  converts back).
- ``client_id`` is unique per ``(symbol, owner)`` among live orders.
- Malformed input raises ``InvalidOrder`` (a ``ValueError``) or
  ``InvalidOrderType`` (``ValueError`` and ``TypeError``) naming the field and
  value, before anything changes. Valid commands the book refuses are answered
  in the result: post-only that would cross and fill-or-kill that cannot fill
  get status REJECTED and a ``Rejected`` event; cancel/modify of a finished
  order get ``reason=ORDER_NOT_LIVE`` and no event.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..book.errors import InvalidOrder, InvalidOrderType, UnknownSymbol
from ..book.events import Event
from ..book.instrument import Instrument
from ..book.orders import OrderInfo, OrderType, SelfTradePrevention, Side, TimeInForce
from ..book.results import (
    BookSnapshot,
    CancelResult,
    Depth,
    MassCancelResult,
    ModifyResult,
    Quote,
    SubmitResult,
)

__all__ = ["Engine", "check_events_query", "lookup_symbol"]


def lookup_symbol(per_symbol: dict, symbol):
    """``per_symbol[symbol]``, or the engine API's error for a bad or unknown symbol."""
    try:
        return per_symbol[symbol]
    except KeyError:
        if type(symbol) is not str:
            raise InvalidOrderType("symbol", symbol, "expected a str") from None
        raise UnknownSymbol("symbol", symbol, "no such instrument") from None
    except TypeError:  # unhashable
        raise InvalidOrderType("symbol", symbol, "expected a str") from None


def check_events_query(recorded: bool, after_seq) -> None:
    """The engine API's errors for ``events(symbol, after_seq)``: no event log kept, or a bad ``after_seq``."""
    if not recorded:
        raise InvalidOrder("record_events", False, "this book keeps no event log")
    if type(after_seq) is not int:
        raise InvalidOrderType("after_seq", after_seq, "expected an int")
    if after_seq < 0:
        raise InvalidOrder("after_seq", after_seq, "must be >= 0")


@runtime_checkable
class Engine(Protocol):
    """A multi-symbol matching engine (see the module docstring for the contract)."""

    def add_instrument(self, instrument: Instrument) -> None:
        """Register a symbol; registering one twice raises ``DuplicateInstrument``."""

    def instrument(self, symbol: str) -> Instrument:
        """The instrument of ``symbol``; unknown symbols raise ``UnknownSymbol``."""

    def symbols(self) -> tuple[str, ...]:
        """Registered symbols, in registration order."""

    def submit(
        self,
        symbol: str,
        side: Side,
        quantity,
        price=None,
        *,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce | None = None,
        post_only: bool = False,
        owner: str = "",
        client_id: str | None = None,
        stp: SelfTradePrevention = SelfTradePrevention.NONE,
    ) -> SubmitResult:
        """Submit a new order.

        ``order_type`` LIMIT needs ``price``; MARKET forbids it. ``time_in_force``
        defaults to GTC for limit and IOC for market orders (a market order
        cannot be GTC). ``post_only`` needs a GTC limit order and is rejected if
        it would trade. FOK fills completely or is rejected untouched. The
        unfilled rest of an IOC/market order expires (``Cancelled`` event,
        status EXPIRED). ``stp`` is applied when this order meets a resting
        order of the same ``owner``.
        """

    def cancel(self, symbol: str, order_id: int) -> CancelResult:
        """Cancel a live order; a finished one is answered with ``cancelled=False``."""

    def modify(self, symbol: str, order_id: int, *, price=None, quantity=None) -> ModifyResult:
        """Change price and/or open (remaining) quantity. A smaller quantity at the
        same price keeps queue priority; a new price or larger quantity loses it
        (same order id, back of the queue, matching first at a new price)."""

    def mass_cancel(self, symbol: str, *, side: Side | None = None, owner: str | None = None) -> MassCancelResult:
        """Cancel all live orders of the symbol, optionally only one side and/or owner."""

    def best(self, symbol: str) -> Quote:
        """Best bid and ask with their level quantities."""

    def depth(self, symbol: str, n: int) -> Depth:
        """The best ``n`` levels per side: price, total quantity, order count."""

    def snapshot(self, symbol: str) -> BookSnapshot:
        """Full L3 view: per side, per level, the orders in queue order."""

    def order(self, symbol: str, order_id: int) -> OrderInfo:
        """The state of one order; ids never issued raise ``UnknownOrder``."""

    def orders(self, symbol: str) -> tuple[OrderInfo, ...]:
        """The states of all orders ever issued for the symbol, by id."""

    def events(self, symbol: str, after_seq: int = 0) -> tuple[Event, ...]:
        """The symbol's recorded events with ``seq > after_seq``, in order."""
