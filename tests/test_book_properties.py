"""Property tests over random command sequences.

1. Invariants hold after every command (and bad input changes nothing).
2. Differential: the reference engine and a brute-force model book written here
   (a flat list of resting orders, sorted on demand) give identical trades,
   order states and resting queues after every command.
3. Determinism: replaying the same commands gives equal results, event for event.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freeorder.book import (
    Depth,
    LevelInfo,
    Quote,
    Instrument,
    InvalidOrder,
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
    Trade,
    UnknownOrder,
    check_invariants,
)
from freeorder.engines import ReferenceEngine

S = "X"
BUY, SELL = Side.BUY, Side.SELL
STP = list(SelfTradePrevention)
KINDS = ["limit", "limit", "limit", "ioc", "fok", "market", "market_fok", "post_only"]
OWNERS = ["a", "b"]  # two owners: self-trades are frequent

# Bids mostly below asks, overlapping in 99..101, so the book builds depth and still trades.
submit_cmd = st.one_of(
    st.tuples(
        st.just("submit"),
        st.just(side),
        st.integers(1, 6),  # quantity
        st.sampled_from(range(low, low + 6)),  # price
        st.sampled_from(KINDS),
        st.sampled_from(OWNERS),
        st.sampled_from(STP),
    )
    for side, low in ((BUY, 96), (SELL, 99))
)
# Cancel/modify name an order by index: resolve() maps k >= 0 to an issued id
# (mostly a live one) and k < 0 to an id never issued. A modify moves the
# price by a tick offset and the open quantity by a delta, so that it mostly
# lands near the order (same level, small increase or decrease).
order_ref = st.integers(-1, 30)
cancel_cmd = st.tuples(st.just("cancel"), order_ref)
modify_cmd = st.tuples(
    st.just("modify"), order_ref, st.sampled_from([None, None, -1, 0, 1, 3]), st.sampled_from([None, -2, -1, 1, 2])
)
mass_cmd = st.tuples(st.just("mass"), st.none() | st.sampled_from([BUY, SELL]), st.none() | st.sampled_from(OWNERS))
bad_cmd = st.tuples(
    st.just("bad"),
    st.sampled_from(
        [
            ("quantity", 0),
            ("quantity", -2),
            ("price", 0),
            ("price", "100.5"),
            ("price", float("nan")),
            ("price", 100.25),
            ("side", "buy"),
            ("modify_qty", 0),
        ]
    ),
)


@st.composite
def command(draw):
    """Weighted: 60% submit, 10% cancel, 15% modify, 5% mass cancel, 10% bad input."""
    roll = draw(st.sampled_from(range(20)))
    strategy = (
        submit_cmd if roll < 12 else cancel_cmd if roll < 14 else modify_cmd if roll < 17 else mass_cmd
        if roll < 18 else bad_cmd
    )
    return draw(strategy)


commands = st.lists(command(), min_size=10, max_size=60)


def resolve(cmd, orders):
    """Make ``cmd`` concrete given the symbol's orders so far (ids, absolute price/quantity)."""
    if cmd[0] not in ("cancel", "modify"):
        return cmd
    k = cmd[1]
    live = [o for o in orders if o.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)]
    if k < 0 or not orders:
        order_id = len(orders) + 1
    elif live and k % 4:  # mostly a live order, sometimes any (finished ones too)
        order_id = live[k % len(live)].order_id
    else:
        order_id = k % len(orders) + 1
    if cmd[0] == "cancel":
        return ("cancel", order_id)
    _, _, dpx, dqty = cmd
    base = orders[order_id - 1] if order_id <= len(orders) else None
    price = None if dpx is None else (base.price if base and base.price else 100) + dpx
    qty = None if dqty is None else max(1, (base.remaining if base else 0) + dqty)
    return ("modify", order_id, price, qty)


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def new_engine():
    return ReferenceEngine([Instrument(S)])


def submit_kwargs(kind, owner, stp):
    kw = {"owner": owner, "stp": stp}
    if kind == "ioc":
        kw["time_in_force"] = TimeInForce.IOC
    elif kind == "fok":
        kw["time_in_force"] = TimeInForce.FOK
    elif kind == "market":
        kw["order_type"] = OrderType.MARKET
    elif kind == "market_fok":
        kw["order_type"] = OrderType.MARKET
        kw["time_in_force"] = TimeInForce.FOK
    elif kind == "post_only":
        kw["post_only"] = True
    return kw


def apply(engine, cmd):
    """Run one command on the engine; return its result, or the exception type raised."""
    op = cmd[0]
    try:
        if op == "submit":
            _, side, qty, price, kind, owner, stp = cmd
            market = kind.startswith("market")
            return engine.submit(S, side, qty, None if market else price, **submit_kwargs(kind, owner, stp))
        if op == "cancel":
            return engine.cancel(S, cmd[1])
        if op == "modify":
            _, oid, price, qty = cmd
            if price is None and qty is None:
                qty = 1
            return engine.modify(S, oid, price=price, quantity=qty)
        if op == "mass":
            return engine.mass_cancel(S, side=cmd[1], owner=cmd[2])
        field, value = cmd[1]
        if field == "modify_qty":
            return engine.modify(S, 1, quantity=value)
        args = {"side": BUY, "quantity": 1, "price": 100} | {field: value}
        return engine.submit(S, args["side"], args["quantity"], args["price"])
    except (UnknownOrder, InvalidOrder) as exc:
        return type(exc)


def state(engine):
    return engine.snapshot(S), engine.orders(S), engine.events(S)


@FAST
@given(commands)
def test_invariants_hold_after_every_command(cmds):
    engine = new_engine()
    for cmd in cmds:
        cmd = resolve(cmd, engine.orders(S))
        before = state(engine)
        result = apply(engine, cmd)
        if isinstance(result, type):  # an exception: nothing may have changed
            assert cmd[0] in ("bad", "cancel", "modify"), (cmd, result)
            assert state(engine) == before
        else:
            events = engine.events(S)
            assert events[len(before[2]) :] == result.events
        check_invariants(*state(engine))
        assert_queries_agree_with_snapshot(engine)


def assert_queries_agree_with_snapshot(engine):
    snap = engine.snapshot(S)
    bid, ask = (snap.bids or [None])[0], (snap.asks or [None])[0]
    assert engine.best(S) == Quote(bid and bid.price, bid.qty if bid else 0, ask and ask.price, ask.qty if ask else 0)
    assert engine.depth(S, 3) == Depth(
        tuple(LevelInfo(lv.price, lv.qty, lv.count) for lv in snap.bids[:3]),
        tuple(LevelInfo(lv.price, lv.qty, lv.count) for lv in snap.asks[:3]),
    )


# ---------------------------------------------------------------- the brute-force model


class ModelOrder:
    def __init__(self, oid, owner, side, price, qty, tif, stp, post_only, prio):
        self.order_id, self.owner, self.side, self.price = oid, owner, side, price
        self.quantity = self.remaining = qty
        self.filled = self.cancelled = 0
        self.tif, self.stp, self.post_only, self.prio = tif, stp, post_only, prio
        self.status = OrderStatus.NEW


class ModelBook:
    """All resting orders in one unsorted list; every question is answered by sorting it."""

    def __init__(self):
        self.orders: list[ModelOrder] = []
        self.resting: list[ModelOrder] = []
        self.clock = itertools.count(1)

    def queue(self, side):
        key = (lambda o: (-o.price, o.prio)) if side is BUY else (lambda o: (o.price, o.prio))
        return sorted((o for o in self.resting if o.side is side), key=key)

    def crosses(self, side, price, maker):
        return price is None or (maker.price <= price if side is BUY else maker.price >= price)

    def end(self, o, status):
        o.cancelled += o.remaining
        o.remaining = 0
        o.status = status
        if o in self.resting:
            self.resting.remove(o)

    def match(self, o, trades):
        """Returns True if self-trade prevention stopped the taker."""
        other = SELL if o.side is BUY else BUY
        for m in [m for m in self.queue(other) if self.crosses(o.side, o.price, m)]:
            if not o.remaining:
                break
            if o.stp is not SelfTradePrevention.NONE and m.owner == o.owner:
                if o.stp in (SelfTradePrevention.CANCEL_OLDEST, SelfTradePrevention.CANCEL_BOTH):
                    self.end(m, OrderStatus.CANCELLED)
                if o.stp in (SelfTradePrevention.CANCEL_NEWEST, SelfTradePrevention.CANCEL_BOTH):
                    return True
                continue
            q = min(o.remaining, m.remaining)
            trades.append((m.order_id, o.order_id, m.price, q))
            for x in (m, o):
                x.remaining -= q
                x.filled += q
                x.status = OrderStatus.FILLED if not x.remaining else OrderStatus.PARTIALLY_FILLED
            if not m.remaining:
                self.resting.remove(m)
        return False

    def place(self, o, trades):
        if self.match(o, trades):
            self.end(o, OrderStatus.CANCELLED)
        elif o.remaining and o.tif is not TimeInForce.GTC:
            self.end(o, OrderStatus.EXPIRED)
        elif o.remaining:
            self.resting.append(o)

    def submit(self, side, qty, price, kind, owner, stp):
        kw = submit_kwargs(kind, owner, stp)
        tif = kw.get("time_in_force", TimeInForce.IOC if kind == "market" else TimeInForce.GTC)
        price = None if kind.startswith("market") else price
        o = ModelOrder(len(self.orders) + 1, owner, side, price, qty, tif, stp, kind == "post_only", next(self.clock))
        self.orders.append(o)
        other = self.queue(SELL if side is BUY else BUY)
        trades = []
        if o.post_only and other and self.crosses(side, price, other[0]):
            self.end(o, OrderStatus.REJECTED)
        elif tif is TimeInForce.FOK and not self.fok_fillable(o, other):
            self.end(o, OrderStatus.REJECTED)
        else:
            self.place(o, trades)
        return trades

    def fok_fillable(self, o, other):
        need = o.remaining
        for m in other:
            if not self.crosses(o.side, o.price, m):
                break
            if stp_applies := (o.stp is not SelfTradePrevention.NONE and m.owner == o.owner):
                if o.stp is SelfTradePrevention.CANCEL_OLDEST:
                    continue
                return False
            assert not stp_applies
            need -= m.remaining
            if need <= 0:
                return True
        return False

    def live(self, oid):
        if not 1 <= oid <= len(self.orders):
            return None
        o = self.orders[oid - 1]
        return o if o.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED) else False

    def cancel(self, oid):
        o = self.live(oid)
        if o:
            self.end(o, OrderStatus.CANCELLED)
        return []

    def modify(self, oid, price, qty):
        o = self.live(oid)
        if not o:
            return []
        price = o.price if price is None else price
        qty = o.remaining if qty is None else qty
        if price == o.price and qty == o.remaining:
            return []
        if price != o.price and o.post_only:
            other = self.queue(SELL if o.side is BUY else BUY)
            if other and self.crosses(o.side, price, other[0]):
                return []
        o.quantity += qty - o.remaining
        if price == o.price:
            if qty > o.remaining:
                o.prio = next(self.clock)
            o.remaining = qty
            return []
        o.remaining = qty
        o.price = price
        o.prio = next(self.clock)
        self.resting.remove(o)
        trades = []
        self.place(o, trades)
        return trades

    def mass(self, side, owner):
        for o in list(self.resting):
            if (side is None or o.side is side) and (owner is None or o.owner == owner):
                self.end(o, OrderStatus.CANCELLED)
        return []

    def apply(self, cmd):
        op = cmd[0]
        if op == "submit":
            return self.submit(*cmd[1:])
        if op == "cancel":
            return self.cancel(cmd[1])
        if op == "modify":
            _, oid, price, qty = cmd
            return self.modify(oid, price, 1 if price is None and qty is None else qty)
        if op == "mass":
            return self.mass(cmd[1], cmd[2])
        return []

    def l3(self, side):
        return [(o.price, o.order_id, o.remaining) for o in self.queue(side)]


def engine_l3(levels):
    return [(level.price, r.order_id, r.remaining) for level in levels for r in level.orders]


@FAST
@given(commands)
def test_reference_engine_agrees_with_a_brute_force_model(cmds):
    engine, model = new_engine(), ModelBook()
    for cmd in cmds:
        cmd = resolve(cmd, model.orders)
        result = apply(engine, cmd)
        expected_trades = model.apply(cmd)
        got = [] if isinstance(result, type) else [
            (e.maker_id, e.taker_id, e.price, e.qty) for e in result.events if type(e) is Trade
        ]
        assert got == expected_trades, cmd
        snap = engine.snapshot(S)
        assert engine_l3(snap.bids) == model.l3(BUY), cmd
        assert engine_l3(snap.asks) == model.l3(SELL), cmd
        states = [(o.status, o.filled, o.remaining, o.cancelled, o.quantity) for o in engine.orders(S)]
        assert states == [(o.status, o.filled, o.remaining, o.cancelled, o.quantity) for o in model.orders], cmd


@settings(max_examples=50, deadline=None)
@given(commands)
def test_replaying_the_same_commands_gives_equal_results(cmds):
    first, second = new_engine(), new_engine()
    results = []
    for c in cmds:
        c = resolve(c, first.orders(S))
        results.append((apply(first, c), apply(second, c)))
    assert all(a == b for a, b in results)
    assert state(first) == state(second)
