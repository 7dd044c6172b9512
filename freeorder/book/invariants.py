"""The invariant checker: engine-agnostic checks on a symbol's L3 snapshot and
the states of all its orders (optionally also its event stream).

It relies only on values every engine returns (:class:`BookSnapshot`,
:class:`OrderInfo`, events), so it judges any engine. Checked:

- quantity conserved: per order ``quantity == filled + remaining + cancelled``,
  all parts ``>= 0``; buys and sells filled the same total; with events, each
  order's ``filled`` equals its trades and each symbol's ``seq`` is gap-free;
- no overfill: ``filled <= quantity``, and a FILLED order has ``filled == quantity``;
- no crossed book at rest: best bid < best ask;
- price-time priority: bids strictly descending, asks strictly ascending, each
  queue in strictly increasing ``priority``; level ``qty``/``count`` agree
  with its orders and no level is empty;
- every order in exactly one state: ids run 1..``last_order_id`` once each; an
  order rests (exactly once, at its side and price, with its remaining
  quantity) iff its status is live, and its quantities fit its status.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import InvariantViolation
from .events import Trade
from .orders import OrderInfo, OrderStatus, Side
from .results import BookSnapshot

__all__ = ["violations", "check_invariants"]


def _status_problem(o: OrderInfo) -> str | None:
    s = o.status
    if s is OrderStatus.NEW:
        ok = o.filled == 0 and o.remaining > 0 and o.cancelled == 0
    elif s is OrderStatus.PARTIALLY_FILLED:
        ok = o.filled > 0 and o.remaining > 0 and o.cancelled == 0
    elif s is OrderStatus.FILLED:
        ok = o.remaining == 0 and o.cancelled == 0 and o.filled == o.quantity
    elif s is OrderStatus.REJECTED:
        ok = o.filled == 0 and o.remaining == 0 and o.cancelled == o.quantity
    elif s is OrderStatus.CANCELLED or s is OrderStatus.EXPIRED:
        ok = o.remaining == 0 and o.cancelled > 0
    else:
        return f"order {o.order_id}: unknown status {s!r}"
    if ok:
        return None
    return (
        f"order {o.order_id}: status {s.name} does not fit filled={o.filled}"
        f" remaining={o.remaining} cancelled={o.cancelled} quantity={o.quantity}"
    )


def violations(snapshot: BookSnapshot, orders: Iterable[OrderInfo], events: Iterable | None = None) -> list[str]:
    """Every invariant violation found (empty when the state is sound).

    ``orders`` must be all orders of ``snapshot.symbol``; ``events``, if given,
    its whole event stream up to ``snapshot.seq``.
    """
    problems: list[str] = []
    by_id: dict[int, OrderInfo] = {}
    o: OrderInfo | None  # the loops below share the name; by_id.get() may give None
    for o in orders:
        if o.order_id in by_id:
            problems.append(f"order {o.order_id} listed twice")
        by_id[o.order_id] = o
        if o.symbol != snapshot.symbol:
            problems.append(f"order {o.order_id} has symbol {o.symbol!r}, not {snapshot.symbol!r}")
        if min(o.filled, o.remaining, o.cancelled) < 0 or o.quantity <= 0:
            problems.append(f"order {o.order_id}: negative quantity {o}")
        if o.filled + o.remaining + o.cancelled != o.quantity:
            problems.append(
                f"order {o.order_id}: quantity not conserved: filled {o.filled} + remaining {o.remaining}"
                f" + cancelled {o.cancelled} != quantity {o.quantity}"
            )
        if o.filled > o.quantity:
            problems.append(f"order {o.order_id}: overfilled: {o.filled} > {o.quantity}")
        problem = _status_problem(o)
        if problem:
            problems.append(problem)
    if set(by_id) != set(range(1, snapshot.last_order_id + 1)):
        problems.append(f"order ids {sorted(by_id)} are not exactly 1..{snapshot.last_order_id}")

    bought = sum(o.filled for o in by_id.values() if o.side is Side.BUY)
    sold = sum(o.filled for o in by_id.values() if o.side is Side.SELL)
    if bought != sold:
        problems.append(f"bought {bought} != sold {sold}")

    resting: set[int] = set()
    for side, levels, descending in ((Side.BUY, snapshot.bids, True), (Side.SELL, snapshot.asks, False)):
        previous = None
        for level in levels:
            if previous is not None and (level.price >= previous if descending else level.price <= previous):
                problems.append(f"{side.name} levels out of price order: {previous} then {level.price}")
            previous = level.price
            if not level.orders:
                problems.append(f"{side.name} level {level.price} is empty")
            if level.count != len(level.orders):
                problems.append(f"{side.name} level {level.price}: count {level.count} != {len(level.orders)} orders")
            total = sum(r.remaining for r in level.orders)
            if level.qty != total:
                problems.append(f"{side.name} level {level.price}: qty {level.qty} != sum of orders {total}")
            last_priority = None
            for r in level.orders:
                if last_priority is not None and r.priority <= last_priority:
                    problems.append(f"{side.name} level {level.price}: order {r.order_id} out of time priority")
                last_priority = r.priority
                if r.order_id in resting:
                    problems.append(f"order {r.order_id} rests more than once")
                resting.add(r.order_id)
                o = by_id.get(r.order_id)
                if o is None:
                    problems.append(f"resting order {r.order_id} is unknown")
                    continue
                if not o.status.is_live:
                    problems.append(f"order {r.order_id} rests with status {o.status.name}")
                if o.side is not side or o.price != level.price:
                    problems.append(f"order {r.order_id} ({o.side.name} @ {o.price}) rests at {side.name} {level.price}")
                if r.remaining != o.remaining or r.remaining <= 0:
                    problems.append(f"order {r.order_id} rests with {r.remaining}, its state says {o.remaining}")
                if r.owner != o.owner:
                    problems.append(f"order {r.order_id} rests with owner {r.owner!r}, not {o.owner!r}")
    for o in by_id.values():
        if o.status.is_live and o.order_id not in resting:
            problems.append(f"live order {o.order_id} ({o.status.name}) is not in the book")
    if snapshot.bids and snapshot.asks and snapshot.bids[0].price >= snapshot.asks[0].price:
        problems.append(f"crossed book: bid {snapshot.bids[0].price} >= ask {snapshot.asks[0].price}")

    if events is not None:
        traded: dict[int, int] = {}
        expected = 1
        for e in events:
            if e.symbol != snapshot.symbol:
                problems.append(f"event {e} is not for {snapshot.symbol!r}")
            if e.seq != expected:
                problems.append(f"sequence gap: expected {expected}, got {e.seq}")
            expected = e.seq + 1
            if type(e) is Trade:
                if e.qty <= 0:
                    problems.append(f"trade with non-positive qty: {e}")
                traded[e.maker_id] = traded.get(e.maker_id, 0) + e.qty
                traded[e.taker_id] = traded.get(e.taker_id, 0) + e.qty
        if expected - 1 != snapshot.seq:
            problems.append(f"event stream ends at seq {expected - 1}, snapshot is at {snapshot.seq}")
        for o in by_id.values():
            if traded.get(o.order_id, 0) != o.filled:
                problems.append(f"order {o.order_id}: trades sum to {traded.get(o.order_id, 0)}, filled {o.filled}")
    return problems


def check_invariants(snapshot: BookSnapshot, orders: Iterable[OrderInfo], events: Iterable | None = None) -> None:
    """Raise :class:`InvariantViolation` listing every violation, if any."""
    problems = violations(snapshot, orders, events)
    if problems:
        raise InvariantViolation(problems)
