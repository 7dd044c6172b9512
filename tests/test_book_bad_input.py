"""Malformed input raises an exception naming the field and value, and leaves the
engine exactly as it was: same L3 snapshot, order states, event log and sequence
number, and the next order still gets the next id."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from freeorder.book import (
    DuplicateClientId,
    DuplicateInstrument,
    Instrument,
    InvalidOrder,
    InvalidOrderType,
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
    UnknownOrder,
    UnknownSymbol,
)
from freeorder.engines import ReferenceEngine

BUY, SELL = Side.BUY, Side.SELL
MARKET = OrderType.MARKET
S = "X"
DECIMAL_NAN = Decimal("NaN")  # one object: NaN != NaN


@pytest.fixture
def engine():
    e = ReferenceEngine([Instrument(S, tick_size="0.05", lot_size="0.1")])
    e.submit(S, BUY, 1, "99.95", owner="a", client_id="gone")  # 1: filled below, "gone" reusable
    e.submit(S, BUY, 2, "99.95", owner="b", client_id="dup")  # 2: live
    e.submit(S, SELL, 3, "100.10", owner="a")  # 3
    e.submit(S, SELL, 1, "100.10", owner="b")  # 4
    e.submit(S, BUY, 1, "100.10", owner="c")  # 5: fills 3 partially
    e.submit(S, SELL, 1, "99", owner="c")  # 6: fills 1
    return e


def state(engine):
    return engine.snapshot(S), engine.orders(S), engine.events(S)


def submit(**kw):
    args = {"symbol": S, "side": BUY, "quantity": 1, "price": "99"} | kw
    symbol, side, quantity, price = args.pop("symbol"), args.pop("side"), args.pop("quantity"), args.pop("price")
    return lambda e: e.submit(symbol, side, quantity, price, **args)


CASES = [
    # (id, command, exception type, field, value)
    ("unknown-symbol", submit(symbol="NOPE"), UnknownSymbol, "symbol", "NOPE"),
    ("symbol-not-str", submit(symbol=7), InvalidOrderType, "symbol", 7),
    ("symbol-unhashable", submit(symbol=["X"]), InvalidOrderType, "symbol", ["X"]),
    ("price-off-tick", submit(price="99.97"), InvalidOrder, "price", "99.97"),
    ("price-too-many-places", submit(price="99.951"), InvalidOrder, "price", "99.951"),
    ("price-zero", submit(price=0), InvalidOrder, "price", 0),
    ("price-negative", submit(price="-1"), InvalidOrder, "price", "-1"),
    ("price-not-a-number", submit(price="cheap"), InvalidOrder, "price", "cheap"),
    ("price-nan-float", submit(price=math.nan), InvalidOrder, "price", math.nan),
    ("price-inf-float", submit(price=math.inf), InvalidOrder, "price", math.inf),
    ("price-nan-decimal", submit(price=DECIMAL_NAN), InvalidOrder, "price", DECIMAL_NAN),
    ("price-inf-str", submit(price="-Infinity"), InvalidOrder, "price", "-Infinity"),
    ("price-inexact-float", submit(price=99.1), InvalidOrder, "price", 99.1),
    ("price-bool", submit(price=True), InvalidOrderType, "price", True),
    ("price-list", submit(price=[99]), InvalidOrderType, "price", [99]),
    ("price-beyond-int64", submit(price=2**62), InvalidOrder, "price", 2**62),
    ("quantity-zero", submit(quantity=0), InvalidOrder, "quantity", 0),
    ("quantity-negative", submit(quantity=-3), InvalidOrder, "quantity", -3),
    ("quantity-off-lot", submit(quantity="0.15"), InvalidOrder, "quantity", "0.15"),
    ("quantity-inexact-float", submit(quantity=0.3), InvalidOrder, "quantity", 0.3),
    ("quantity-nan", submit(quantity=math.nan), InvalidOrder, "quantity", math.nan),
    ("quantity-inf", submit(quantity=-math.inf), InvalidOrder, "quantity", -math.inf),
    ("quantity-none", submit(quantity=None), InvalidOrderType, "quantity", None),
    ("side-string", submit(side="buy"), InvalidOrderType, "side", "buy"),
    ("side-none", submit(side=None), InvalidOrderType, "side", None),
    ("order-type-string", submit(order_type="limit"), InvalidOrderType, "order_type", "limit"),
    ("limit-without-price", submit(price=None), InvalidOrder, "price", None),
    ("market-with-price", submit(order_type=MARKET), InvalidOrder, "price", "99"),
    ("market-gtc", submit(price=None, order_type=MARKET, time_in_force=TimeInForce.GTC), InvalidOrder,
     "time_in_force", TimeInForce.GTC),
    ("tif-string", submit(time_in_force="GTC"), InvalidOrderType, "time_in_force", "GTC"),
    ("post-only-ioc", submit(post_only=True, time_in_force=TimeInForce.IOC), InvalidOrder, "post_only", True),
    ("post-only-market", submit(price=None, order_type=MARKET, post_only=True), InvalidOrder, "post_only", True),
    ("post-only-int", submit(post_only=1), InvalidOrderType, "post_only", 1),
    ("owner-not-str", submit(owner=42), InvalidOrderType, "owner", 42),
    ("client-id-not-str", submit(client_id=5), InvalidOrderType, "client_id", 5),
    ("duplicate-client-id", submit(owner="b", client_id="dup"), DuplicateClientId, "client_id", "dup"),
    ("stp-string", submit(stp="cancel_newest"), InvalidOrderType, "stp", "cancel_newest"),
    ("cancel-unknown-symbol", lambda e: e.cancel("NOPE", 1), UnknownSymbol, "symbol", "NOPE"),
    ("cancel-unknown-id", lambda e: e.cancel(S, 99), UnknownOrder, "order_id", 99),
    ("cancel-id-zero", lambda e: e.cancel(S, 0), UnknownOrder, "order_id", 0),
    ("cancel-id-negative", lambda e: e.cancel(S, -1), UnknownOrder, "order_id", -1),
    ("cancel-id-string", lambda e: e.cancel(S, "1"), InvalidOrderType, "order_id", "1"),
    ("modify-unknown-id", lambda e: e.modify(S, 99, quantity=1), UnknownOrder, "order_id", 99),
    ("modify-nothing", lambda e: e.modify(S, 2), InvalidOrder, "quantity", None),
    ("modify-zero-quantity", lambda e: e.modify(S, 2, quantity=0), InvalidOrder, "quantity", 0),
    ("modify-off-tick", lambda e: e.modify(S, 2, price="99.99"), InvalidOrder, "price", "99.99"),
    ("modify-nan-price", lambda e: e.modify(S, 2, price=math.nan), InvalidOrder, "price", math.nan),
    ("modify-finished-with-bad-price", lambda e: e.modify(S, 1, price="-5"), InvalidOrder, "price", "-5"),
    ("mass-cancel-side-string", lambda e: e.mass_cancel(S, side="sell"), InvalidOrderType, "side", "sell"),
    ("mass-cancel-owner-int", lambda e: e.mass_cancel(S, owner=3), InvalidOrderType, "owner", 3),
    ("mass-cancel-unknown-symbol", lambda e: e.mass_cancel("NOPE"), UnknownSymbol, "symbol", "NOPE"),
    ("depth-negative", lambda e: e.depth(S, -1), InvalidOrder, "n", -1),
    ("depth-not-int", lambda e: e.depth(S, "5"), InvalidOrderType, "n", "5"),
    ("events-negative", lambda e: e.events(S, -1), InvalidOrder, "after_seq", -1),
    ("order-unknown", lambda e: e.order(S, 7), UnknownOrder, "order_id", 7),
    ("best-unknown-symbol", lambda e: e.best("NOPE"), UnknownSymbol, "symbol", "NOPE"),
]


@pytest.mark.parametrize("command,exc_type,field,value", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_naming_field_and_value_and_changes_nothing(engine, command, exc_type, field, value):
    before = state(engine)
    with pytest.raises(exc_type) as info:
        command(engine)
    exc = info.value
    assert isinstance(exc, InvalidOrder) and isinstance(exc, ValueError)
    assert exc.field == field
    assert repr(value) in str(exc) and field in str(exc)
    assert exc.value is value or exc.value == value
    assert state(engine) == before
    # The next valid order gets the next id: nothing was consumed.
    assert engine.submit(S, BUY, 1, "90").order_id == before[0].last_order_id + 1


def test_wrong_types_are_also_type_errors(engine):
    with pytest.raises(TypeError):
        engine.submit(S, "buy", 1, "99")


def test_fixture_state_is_what_the_cases_assume(engine):
    assert engine.order(S, 1).status is OrderStatus.FILLED
    assert engine.order(S, 2).status is OrderStatus.NEW
    assert engine.order(S, 3).status is OrderStatus.PARTIALLY_FILLED


def test_client_id_of_a_live_order_is_a_duplicate(engine):
    engine.submit(S, BUY, 1, "90", owner="z", client_id="k")
    with pytest.raises(DuplicateClientId):
        engine.submit(S, SELL, 1, "200", owner="z", client_id="k")


def test_duplicate_instrument_is_refused():
    e = ReferenceEngine([Instrument(S)])
    with pytest.raises(DuplicateInstrument, match="'X'"):
        e.add_instrument(Instrument(S, tick_size="0.5"))
    assert e.instrument(S).tick_size == 1


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"symbol": ""}, "symbol"),
        ({"symbol": 3}, "symbol"),
        ({"symbol": "X", "tick_size": 0}, "tick_size"),
        ({"symbol": "X", "tick_size": "-0.01"}, "tick_size"),
        ({"symbol": "X", "lot_size": math.nan}, "lot_size"),
        ({"symbol": "X", "tick_size": "0.001", "price_scale": 2}, "tick_size"),
        ({"symbol": "X", "price_scale": -1}, "price_scale"),
        ({"symbol": "X", "qty_scale": 1.0}, "qty_scale"),
    ],
)
def test_bad_instrument_definitions_are_refused(kwargs, field):
    with pytest.raises(InvalidOrder) as info:
        Instrument(**kwargs)
    assert info.value.field == field


def test_cancel_and_modify_of_finished_orders_are_results_not_exceptions(engine):
    before = state(engine)
    assert not engine.cancel(S, 1).cancelled
    assert not engine.modify(S, 1, quantity=1).accepted
    assert engine.submit(S, SELL, 1, "99.95", post_only=True).status is OrderStatus.REJECTED
    assert engine.snapshot(S)[3:] == before[0][3:]  # same levels and queues
    assert engine.submit(S, BUY, 1, "90", owner="a", client_id="gone").status is OrderStatus.NEW


def test_stp_enum_values_are_accepted(engine):
    for stp in SelfTradePrevention:
        assert engine.submit(S, BUY, 1, "90", stp=stp).status is OrderStatus.NEW
