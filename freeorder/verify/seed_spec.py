"""The sequential specification of ``SeedEngine``'s surface, for the linearizability checker.

``SeedBookModel`` is a small order book of one symbol per partition, with the fixed
semantics of ``freeorder.engines.seed`` (price-time priority at the maker's price; a
partial fill keeps its place; a market order's rest expires; a cancel of a finished
order is answered). On sequential histories it gives the results ``ReferenceEngine``
gives, restricted to that surface (``tests/test_engine_seed.py`` checks both).

Inputs, one per engine call (``symbol`` first, so histories partition by symbol):
``("limit", symbol, side, qty, price, owner, order_id)``,
``("market", symbol, side, qty, owner, order_id)``, ``("cancel", symbol, order_id)``,
``("best", symbol)``, ``("depth", symbol, n)``. Outputs are ``("ok", result)`` or
``("error", exception type name)``, as ``run`` returns them.

The engine, not the caller, picks a submit's order id, and ids are not ordered like the
commands, so the id is part of the *input* the model is given: record a submit without
it, then :func:`with_order_ids` copies each id from the result into the input. The model
only asks that ids be fresh. A state is ``(bids, asks, finished)``: each side a tuple of
``(price, ((order_id, open_qty, owner), ...))`` best first, ``finished`` a frozenset of
``(order_id, final status)``.
"""

from __future__ import annotations

import dataclasses

from freeorder.book.events import RejectReason, Trade
from freeorder.book.orders import OrderStatus, Side
from freeorder.book.results import CancelResult, Depth, LevelInfo, Quote, SubmitResult

from .history import Operation
from .linearizability import Model, _by_key, _unknown

__all__ = ["SeedBookModel", "format_history", "record", "run", "with_order_ids"]

_NEW, _PARTIAL, _FILLED = OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED
_CANCELLED, _EXPIRED = OrderStatus.CANCELLED, OrderStatus.EXPIRED


class SeedBookModel(Model):
    """A sequential order book with SeedEngine's surface (see the module docstring)."""

    name = "seed-book"

    def init(self):
        return (), (), frozenset()

    def apply(self, state, input):
        kind = input[0]
        if kind == "limit":
            _, symbol, side, qty, price, owner, order_id = input
            return _submit(state, symbol, side, qty, price, owner, order_id)
        if kind == "market":
            _, symbol, side, qty, owner, order_id = input
            return _submit(state, symbol, side, qty, None, owner, order_id)
        if kind == "cancel":
            return _cancel(state, input[2])
        if kind == "best":
            bids, asks, _ = state
            bid, bid_qty = _top(bids)
            ask, ask_qty = _top(asks)
            return ("ok", Quote(bid, bid_qty, ask, ask_qty)), state
        if kind == "depth":
            n = input[2]
            bids, asks, _ = state
            return ("ok", Depth(_infos(bids[:n]), _infos(asks[:n]))), state
        raise _unknown(self, input)

    def partition(self, ops):
        return _by_key(self, ops)


def _top(levels):
    if not levels:
        return None, 0
    price, queue = levels[0]
    return price, sum(q for _, q, _ in queue)


def _infos(levels):
    return tuple(LevelInfo(price, sum(q for _, q, _ in queue), len(queue)) for price, queue in levels)


def _issued(state, order_id) -> bool:
    bids, asks, finished = state
    return any(i == order_id for levels in (bids, asks) for _, queue in levels for i, _, _ in queue) or any(
        i == order_id for i, _ in finished)


def _submit(state, symbol, side, qty, price, owner, order_id):
    if order_id is None or _issued(state, order_id):
        return ("error", f"order id {order_id!r} not fresh"), state
    bids, asks, finished = state
    buy = side is Side.BUY
    opposite = list(asks if buy else bids)
    done = set(finished)
    trades = []
    want = qty
    while want and opposite:
        level_price, queue = opposite[0]
        if price is not None and (level_price > price if buy else level_price < price):
            break
        queue = list(queue)
        while want and queue:
            maker_id, have, maker_owner = queue[0]
            fill = min(want, have)
            trades.append(Trade(symbol, 0, maker_id, order_id, maker_owner, owner, level_price, fill, side))
            want -= fill
            if fill == have:
                queue.pop(0)
                done.add((maker_id, _FILLED))
            else:
                queue[0] = (maker_id, have - fill, maker_owner)
        if queue:
            opposite[0] = (level_price, tuple(queue))
        else:
            opposite.pop(0)
    own = list(bids if buy else asks)
    if price is None:  # market: the rest expires
        status = _EXPIRED if want else _FILLED
        done.add((order_id, status))
        result = SubmitResult(order_id, status, qty - want, 0, tuple(trades))
    else:
        if want:
            status = _PARTIAL if want < qty else _NEW
            _rest(own, price, (order_id, want, owner), buy)
        else:
            status = _FILLED
            done.add((order_id, _FILLED))
        result = SubmitResult(order_id, status, qty - want, want, tuple(trades))
    new_bids, new_asks = (own, opposite) if buy else (opposite, own)
    return ("ok", result), (tuple(new_bids), tuple(new_asks), frozenset(done))


def _rest(levels: list, price: int, entry: tuple, buy: bool) -> None:
    for k, (level_price, queue) in enumerate(levels):
        if level_price == price:
            levels[k] = (price, queue + (entry,))
            return
        if (level_price < price) if buy else (level_price > price):
            levels.insert(k, (price, (entry,)))
            return
    levels.append((price, (entry,)))


def _cancel(state, order_id):
    bids, asks, finished = state
    for is_bids, levels in ((True, bids), (False, asks)):
        for k, (price, queue) in enumerate(levels):
            for j, (i, have, _) in enumerate(queue):
                if i == order_id:
                    rest = queue[:j] + queue[j + 1:]
                    levels = levels[:k] + (((price, rest),) if rest else ()) + levels[k + 1:]
                    done = finished | {(order_id, _CANCELLED)}
                    new = (levels, asks, done) if is_bids else (bids, levels, done)
                    return ("ok", CancelResult(order_id, True, _CANCELLED, have, None, ())), new
    for i, status in finished:
        if i == order_id:
            return ("ok", CancelResult(order_id, False, status, 0, RejectReason.ORDER_NOT_LIVE, ())), state
    return ("error", "UnknownOrder"), state


def run(engine, input: tuple) -> tuple:
    """Apply a model input (without the id of a submit) to ``engine``; the output the model expects."""
    kind, symbol, *args = input
    try:
        if kind == "limit":
            side, qty, price, owner = args
            return ("ok", engine.limit(symbol, side, qty, price, owner=owner))
        if kind == "market":
            side, qty, owner = args
            return ("ok", engine.market(symbol, side, qty, owner=owner))
        return ("ok", getattr(engine, kind)(symbol, *args))
    except Exception as exc:  # noqa: BLE001 - an error is an output like any other
        return ("error", type(exc).__name__)


def record(history, thread, engine, input: tuple) -> tuple:
    """``run(engine, input)``, recorded in ``history`` as an operation of ``thread``."""
    token = history.call(thread, input[0], input[1:])
    output = run(engine, input)
    history.ret(token, output)
    return output


def with_order_ids(ops) -> list[Operation]:
    """The operations with each submit's input completed by the order id its result
    carries (``None`` for a submit that failed or never returned: the model rejects it)."""
    out = []
    for op in ops:
        if op.input[0] in ("limit", "market"):
            issued = op.output[1].order_id if op.ret is not None and op.output[0] == "ok" else None
            op = dataclasses.replace(op, input=op.input + (issued,))
        out.append(op)
    return out


def format_history(ops) -> str:
    """One line per operation, by call time: ``[call, return] thread: call -> result``,
    with times replaced by their rank among all the history's call and return times."""
    ops = sorted(ops, key=lambda o: o.call)
    ranks = {t: k for k, t in enumerate(sorted({o.call for o in ops} | {o.ret for o in ops if o.ret}), 1)}
    lines = []
    for op in ops:
        span = f"[{ranks[op.call]}, {'...' if op.ret is None else ranks[op.ret]}]"
        result = "pending" if op.ret is None else _describe_output(op.output)
        lines.append(f"{span:>9} {op.thread}: {_describe_input(op.input)} -> {result}")
    return "\n".join(lines)


def _describe_input(input: tuple) -> str:
    kind = input[0]
    if kind == "limit":
        return f"limit {input[2].name} {input[3]} @ {input[4]}"
    if kind == "market":
        return f"market {input[2].name} {input[3]}"
    if kind == "cancel":
        return f"cancel #{input[2]}"
    if kind == "depth":
        return f"depth {input[2]}"
    return kind


def _describe_output(output) -> str:
    if output[0] != "ok":
        return f"raises {output[1]}"
    r = output[1]
    if isinstance(r, SubmitResult):
        fills = ", ".join(f"{t.qty} from #{t.maker_id} @ {t.price}" for t in r.events)
        rests = f", rests {r.remaining_qty}" if r.remaining_qty else ""
        return f"#{r.order_id} {r.status.name}, filled {r.filled_qty}" + (f" ({fills})" if fills else "") + rests
    if isinstance(r, CancelResult):
        return f"cancelled {r.cancelled_qty}" if r.cancelled else f"not live ({r.status.name})"
    if isinstance(r, Quote):
        bid = "none" if r.bid is None else f"{r.bid_qty} @ {r.bid}"
        ask = "none" if r.ask is None else f"{r.ask_qty} @ {r.ask}"
        return f"bid {bid}, ask {ask}"
    if isinstance(r, Depth):
        def side(levels):
            return "[" + ", ".join(f"{lv.qty} @ {lv.price} ({lv.count})" for lv in levels) + "]"
        return f"bids {side(r.bids)}, asks {side(r.asks)}"
    return repr(r)
