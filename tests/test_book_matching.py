"""Conformance of the reference engine: every order type and command, one behaviour per test.

Every test ends with the invariant checker run on the final state (autouse fixture).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from freeorder.book import (
    Accepted,
    BookUpdate,
    Cancelled,
    CancelResult,
    CancelReason,
    Instrument,
    LevelInfo,
    Modified,
    OrderStatus,
    OrderType,
    Quote,
    Rejected,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
    Trade,
    check_invariants,
)
from freeorder.engines import Engine, ReferenceEngine

BUY, SELL = Side.BUY, Side.SELL
MARKET = OrderType.MARKET
IOC, FOK = TimeInForce.IOC, TimeInForce.FOK
S = "X"


@pytest.fixture
def engine():
    e = ReferenceEngine([Instrument(S), Instrument("Y")])
    yield e
    for symbol in e.symbols():
        check_invariants(e.snapshot(symbol), e.orders(symbol), e.events(symbol))


def trades(result):
    return [(e.maker_id, e.taker_id, e.price, e.qty) for e in result.events if type(e) is Trade]


def queue(engine, side, price, symbol=S):
    levels = engine.snapshot(symbol).bids if side is BUY else engine.snapshot(symbol).asks
    for level in levels:
        if level.price == price:
            return [(r.order_id, r.remaining) for r in level.orders]
    return []


def test_reference_engine_implements_the_protocol(engine):
    assert isinstance(engine, Engine)


# ---------------------------------------------------------------- limit GTC


def test_limit_order_rests_with_accepted_and_book_update(engine):
    r = engine.submit(S, BUY, 10, 100, owner="a", client_id="c1")
    assert r.order_id == 1 and r.status is OrderStatus.NEW and r.filled_qty == 0 and r.remaining_qty == 10
    assert r.events == (
        Accepted(S, 1, 1, "a", "c1", BUY, OrderType.LIMIT, TimeInForce.GTC, False, SelfTradePrevention.NONE, 100, 10),
        BookUpdate(S, 2, BUY, 100, 10, 1),
    )
    assert engine.best(S) == Quote(100, 10, None, 0)


def test_non_crossing_orders_rest_on_both_sides(engine):
    engine.submit(S, BUY, 10, 99)
    engine.submit(S, SELL, 7, 101)
    assert engine.best(S) == Quote(99, 10, 101, 7)


def test_crossing_limit_trades_at_the_maker_price(engine):
    engine.submit(S, SELL, 5, 100)
    r = engine.submit(S, BUY, 5, 105)
    assert trades(r) == [(1, 2, 100, 5)]
    assert r.status is OrderStatus.FILLED
    assert engine.order(S, 1).status is OrderStatus.FILLED


def test_sell_taker_trades_at_the_resting_bid_price(engine):
    engine.submit(S, BUY, 5, 100)
    r = engine.submit(S, SELL, 5, 90)
    assert trades(r) == [(1, 2, 100, 5)]
    assert [e for e in r.events if type(e) is Trade][0].taker_side is SELL


def test_price_priority_best_level_first(engine):
    engine.submit(S, SELL, 5, 102)
    engine.submit(S, SELL, 5, 101)
    r = engine.submit(S, BUY, 5, 102)
    assert trades(r) == [(2, 3, 101, 5)]


def test_time_priority_within_a_level(engine):
    engine.submit(S, SELL, 5, 100)
    engine.submit(S, SELL, 5, 100)
    r = engine.submit(S, BUY, 7, 100)
    assert trades(r) == [(1, 3, 100, 5), (2, 3, 100, 2)]


def test_partial_fill_keeps_the_makers_place_in_the_queue(engine):
    engine.submit(S, SELL, 10, 100)  # 1
    engine.submit(S, SELL, 10, 100)  # 2
    engine.submit(S, BUY, 4, 100)  # 3: partially fills 1
    assert queue(engine, SELL, 100) == [(1, 6), (2, 10)]
    assert engine.order(S, 1).status is OrderStatus.PARTIALLY_FILLED
    r = engine.submit(S, BUY, 8, 100)
    assert trades(r) == [(1, 4, 100, 6), (2, 4, 100, 2)]


def test_partially_filled_taker_rests_its_remainder(engine):
    engine.submit(S, SELL, 3, 100)
    r = engine.submit(S, BUY, 10, 101)
    assert r.status is OrderStatus.PARTIALLY_FILLED and r.filled_qty == 3 and r.remaining_qty == 7
    assert engine.best(S) == Quote(101, 7, None, 0)


def test_taker_events_order_accepted_trades_then_level_update(engine):
    engine.submit(S, SELL, 3, 100)
    engine.submit(S, SELL, 3, 100)
    r = engine.submit(S, BUY, 4, 100)
    kinds = [type(e).__name__ for e in r.events]
    assert kinds == ["Accepted", "Trade", "Trade", "BookUpdate"]
    assert r.events[-1] == BookUpdate(S, r.events[-1].seq, SELL, 100, 2, 1)


def test_sequence_numbers_are_gap_free_per_symbol(engine):
    engine.submit(S, SELL, 3, 100)
    engine.submit("Y", SELL, 3, 100)
    engine.submit(S, BUY, 5, 100)
    engine.cancel(S, 2)
    assert [e.seq for e in engine.events(S)] == list(range(1, len(engine.events(S)) + 1))
    assert [e.seq for e in engine.events("Y")] == [1, 2]
    assert engine.events(S, after_seq=3)[0].seq == 4


def test_order_ids_are_per_symbol_and_gap_free(engine):
    assert engine.submit(S, BUY, 1, 1).order_id == 1
    assert engine.submit("Y", BUY, 1, 1).order_id == 1
    assert engine.submit(S, BUY, 1, 1, post_only=True).order_id == 2
    assert engine.submit(S, SELL, 1, 1, post_only=True).order_id == 3  # rejected, still numbered
    assert engine.submit(S, BUY, 1, 1).order_id == 4


# ---------------------------------------------------------------- market


def test_market_order_sweeps_several_levels(engine):
    engine.submit(S, SELL, 2, 100)
    engine.submit(S, SELL, 3, 101)
    engine.submit(S, SELL, 4, 102)
    r = engine.submit(S, BUY, 6, order_type=MARKET)
    assert trades(r) == [(1, 4, 100, 2), (2, 4, 101, 3), (3, 4, 102, 1)]
    assert r.status is OrderStatus.FILLED
    assert engine.depth(S, 5).asks == (LevelInfo(102, 3, 1),)
    updates = [e for e in r.events if type(e) is BookUpdate]
    assert [(u.price, u.qty, u.count) for u in updates] == [(100, 0, 0), (101, 0, 0), (102, 3, 1)]


def test_market_order_remainder_is_cancelled_with_an_event(engine):
    engine.submit(S, BUY, 2, 100)
    r = engine.submit(S, SELL, 5, order_type=MARKET)
    assert trades(r) == [(1, 2, 100, 2)]
    assert r.status is OrderStatus.EXPIRED and r.filled_qty == 2 and r.remaining_qty == 0
    assert r.events[-1] == Cancelled(S, r.events[-1].seq, 2, 3, CancelReason.MARKET_REMAINDER)
    assert engine.best(S) == Quote(None, 0, None, 0)


def test_market_order_on_empty_book_expires_whole(engine):
    r = engine.submit(S, BUY, 5, order_type=MARKET)
    assert [type(e) for e in r.events] == [Accepted, Cancelled]
    assert engine.order(S, 1).cancelled == 5 and r.status is OrderStatus.EXPIRED


def test_market_fok_fills_completely_or_is_rejected(engine):
    engine.submit(S, SELL, 2, 100)
    r = engine.submit(S, BUY, 3, order_type=MARKET, time_in_force=FOK)
    assert r.status is OrderStatus.REJECTED and r.events[0].reason is RejectReason.FOK_UNFILLABLE
    r = engine.submit(S, BUY, 2, order_type=MARKET, time_in_force=FOK)
    assert r.status is OrderStatus.FILLED


# ---------------------------------------------------------------- IOC / FOK


def test_ioc_fills_what_it_can_and_expires_the_rest(engine):
    engine.submit(S, SELL, 2, 100)
    engine.submit(S, SELL, 2, 102)
    r = engine.submit(S, BUY, 5, 101, time_in_force=IOC)
    assert trades(r) == [(1, 3, 100, 2)]
    assert r.status is OrderStatus.EXPIRED
    assert r.events[-1] == Cancelled(S, r.events[-1].seq, 3, 3, CancelReason.IOC_REMAINDER)
    assert engine.best(S) == Quote(None, 0, 102, 2)


def test_ioc_without_liquidity_does_not_rest(engine):
    r = engine.submit(S, BUY, 5, 101, time_in_force=IOC)
    assert r.status is OrderStatus.EXPIRED and engine.best(S) == Quote(None, 0, None, 0)


def test_fok_without_enough_liquidity_changes_nothing(engine):
    engine.submit(S, SELL, 2, 100)
    engine.submit(S, SELL, 2, 101)
    engine.submit(S, SELL, 9, 103)  # beyond the limit
    before = engine.snapshot(S)
    orders_before = engine.orders(S)
    r = engine.submit(S, BUY, 5, 102, time_in_force=FOK)
    assert r.status is OrderStatus.REJECTED and r.filled_qty == 0
    assert r.events == (Rejected(S, before.seq + 1, 4, RejectReason.FOK_UNFILLABLE),)
    after = engine.snapshot(S)
    assert (after.bids, after.asks) == (before.bids, before.asks)
    assert engine.orders(S)[:3] == orders_before


def test_fok_with_enough_liquidity_fills_across_levels(engine):
    engine.submit(S, SELL, 2, 100)
    engine.submit(S, SELL, 3, 101)
    r = engine.submit(S, BUY, 5, 101, time_in_force=FOK)
    assert r.status is OrderStatus.FILLED and trades(r) == [(1, 3, 100, 2), (2, 3, 101, 3)]


def test_fok_counts_self_trade_prevention_before_filling(engine):
    engine.submit(S, SELL, 5, 100, owner="me")
    engine.submit(S, SELL, 5, 100, owner="other")
    stp = SelfTradePrevention.CANCEL_NEWEST
    r = engine.submit(S, BUY, 5, 100, time_in_force=FOK, owner="me", stp=stp)
    assert r.status is OrderStatus.REJECTED  # would stop at its own order: nothing fills
    assert queue(engine, SELL, 100) == [(1, 5), (2, 5)]
    r = engine.submit(S, BUY, 5, 100, time_in_force=FOK, owner="me", stp=SelfTradePrevention.CANCEL_OLDEST)
    assert r.status is OrderStatus.FILLED and trades(r) == [(2, 4, 100, 5)]
    assert engine.order(S, 1).status is OrderStatus.CANCELLED


@pytest.mark.parametrize(
    "stp,status,maker_status",
    [
        (SelfTradePrevention.NONE, OrderStatus.FILLED, OrderStatus.FILLED),
        (SelfTradePrevention.CANCEL_NEWEST, OrderStatus.REJECTED, OrderStatus.NEW),
        (SelfTradePrevention.CANCEL_OLDEST, OrderStatus.FILLED, OrderStatus.CANCELLED),
        (SelfTradePrevention.CANCEL_BOTH, OrderStatus.REJECTED, OrderStatus.NEW),
    ],
)
def test_fok_meeting_its_own_order_first(engine, stp, status, maker_status):
    engine.submit(S, SELL, 2, 100, owner="me")
    engine.submit(S, SELL, 9, 100, owner="other")
    r = engine.submit(S, BUY, 4, 100, time_in_force=FOK, owner="me", stp=stp)
    assert r.status is status
    assert engine.order(S, 1).status is maker_status
    if status is OrderStatus.REJECTED:
        assert trades(r) == [] and len(r.events) == 1


# ---------------------------------------------------------------- post-only


def test_post_only_rests_when_it_does_not_cross(engine):
    engine.submit(S, SELL, 5, 101)
    r = engine.submit(S, BUY, 5, 100, post_only=True)
    assert r.status is OrderStatus.NEW and engine.best(S) == Quote(100, 5, 101, 5)


@pytest.mark.parametrize("side,price", [(BUY, 101), (BUY, 102), (SELL, 100), (SELL, 99)])
def test_post_only_that_would_cross_is_rejected_untouched(engine, side, price):
    engine.submit(S, SELL, 5, 101)
    engine.submit(S, BUY, 5, 100)
    before = engine.snapshot(S)
    r = engine.submit(S, side, 5, price, post_only=True)
    assert r.status is OrderStatus.REJECTED
    assert r.events == (Rejected(S, before.seq + 1, 3, RejectReason.POST_ONLY_WOULD_CROSS),)
    assert engine.snapshot(S)[3:] == before[3:]


# ---------------------------------------------------------------- cancel


def test_cancel_removes_a_resting_order(engine):
    engine.submit(S, BUY, 5, 100)
    engine.submit(S, BUY, 6, 100)
    r = engine.cancel(S, 1)
    assert r.cancelled and r.cancelled_qty == 5 and r.status is OrderStatus.CANCELLED and r.reason is None
    assert r.events == (Cancelled(S, 5, 1, 5, CancelReason.USER), BookUpdate(S, 6, BUY, 100, 6, 1))
    assert queue(engine, BUY, 100) == [(2, 6)]


def test_cancel_of_the_last_order_removes_the_level(engine):
    engine.submit(S, BUY, 5, 100)
    engine.cancel(S, 1)
    assert engine.depth(S, 10).bids == ()


def test_cancel_of_a_partially_filled_order_cancels_the_remainder(engine):
    engine.submit(S, BUY, 5, 100)
    engine.submit(S, SELL, 2, 100)
    r = engine.cancel(S, 1)
    assert r.cancelled_qty == 3
    info = engine.order(S, 1)
    assert (info.filled, info.cancelled, info.remaining, info.status) == (2, 3, 0, OrderStatus.CANCELLED)


def test_cancel_of_a_filled_order_is_answered_not_lost(engine):
    engine.submit(S, BUY, 5, 100)
    engine.submit(S, SELL, 5, 100)
    seq = engine.snapshot(S).seq
    r = engine.cancel(S, 1)
    assert r == CancelResult(1, False, OrderStatus.FILLED, 0, RejectReason.ORDER_NOT_LIVE, ())
    assert engine.snapshot(S).seq == seq


def test_cancel_twice_is_answered_the_second_time(engine):
    engine.submit(S, BUY, 5, 100)
    assert engine.cancel(S, 1).cancelled
    r = engine.cancel(S, 1)
    assert not r.cancelled and r.status is OrderStatus.CANCELLED and r.reason is RejectReason.ORDER_NOT_LIVE


# ---------------------------------------------------------------- modify


def test_modify_reducing_quantity_keeps_priority(engine):
    engine.submit(S, SELL, 10, 100)
    engine.submit(S, SELL, 10, 100)
    r = engine.modify(S, 1, quantity=4)
    assert r.accepted and r.priority_kept and r.remaining_qty == 4
    assert r.events == (Modified(S, 5, 1, 100, 4, True), BookUpdate(S, 6, SELL, 100, 14, 2))
    assert queue(engine, SELL, 100) == [(1, 4), (2, 10)]
    assert engine.order(S, 1).quantity == 4


def test_modify_increasing_quantity_loses_priority(engine):
    engine.submit(S, SELL, 10, 100)
    engine.submit(S, SELL, 10, 100)
    r = engine.modify(S, 1, quantity=12)
    assert r.accepted and not r.priority_kept
    assert queue(engine, SELL, 100) == [(2, 10), (1, 12)]
    assert trades(engine.submit(S, BUY, 11, 100)) == [(2, 3, 100, 10), (1, 3, 100, 1)]


def test_modify_price_moves_to_the_back_of_the_new_level_with_the_same_id(engine):
    engine.submit(S, SELL, 10, 101)
    engine.submit(S, SELL, 10, 100)
    r = engine.modify(S, 1, price=100)
    assert r.accepted and not r.priority_kept and r.order_id == 1
    assert queue(engine, SELL, 100) == [(2, 10), (1, 10)]
    assert queue(engine, SELL, 101) == []
    assert engine.order(S, 1).price == 100


def test_modify_price_that_crosses_trades_as_a_taker(engine):
    engine.submit(S, SELL, 4, 101)
    engine.submit(S, BUY, 10, 99)
    r = engine.modify(S, 2, price=101)
    assert trades(r) == [(1, 2, 101, 4)]
    assert r.filled_qty == 4 and r.status is OrderStatus.PARTIALLY_FILLED and r.remaining_qty == 6
    assert engine.best(S) == Quote(101, 6, None, 0)


def test_modify_of_a_partially_filled_order_changes_only_the_open_quantity(engine):
    engine.submit(S, BUY, 10, 100)
    engine.submit(S, SELL, 4, 100)
    engine.modify(S, 1, quantity=2)
    info = engine.order(S, 1)
    assert (info.quantity, info.filled, info.remaining) == (6, 4, 2)


def test_modify_of_post_only_to_a_crossing_price_is_refused(engine):
    engine.submit(S, SELL, 5, 101)
    engine.submit(S, BUY, 5, 100, post_only=True)
    before = engine.snapshot(S)
    r = engine.modify(S, 2, price=101)
    assert not r.accepted and r.reason is RejectReason.POST_ONLY_WOULD_CROSS and r.events == ()
    assert engine.snapshot(S) == before


def test_modify_of_a_finished_order_is_answered(engine):
    engine.submit(S, BUY, 5, 100)
    engine.cancel(S, 1)
    r = engine.modify(S, 1, quantity=3)
    assert not r.accepted and r.status is OrderStatus.CANCELLED and r.reason is RejectReason.ORDER_NOT_LIVE


def test_modify_to_the_same_values_changes_nothing(engine):
    engine.submit(S, BUY, 5, 100)
    before = engine.snapshot(S)
    r = engine.modify(S, 1, price=100, quantity=5)
    assert r.accepted and r.priority_kept and r.events == ()
    assert engine.snapshot(S) == before


# ---------------------------------------------------------------- mass cancel


def _populate(engine):
    engine.submit(S, BUY, 1, 99, owner="a")  # 1
    engine.submit(S, BUY, 2, 100, owner="b")  # 2
    engine.submit(S, BUY, 3, 100, owner="a")  # 3
    engine.submit(S, SELL, 4, 101, owner="a")  # 4
    engine.submit(S, SELL, 5, 102, owner="b")  # 5
    engine.submit("Y", BUY, 6, 100, owner="a")


def test_mass_cancel_everything_on_a_symbol(engine):
    _populate(engine)
    r = engine.mass_cancel(S)
    assert r.order_ids == (2, 3, 1, 4, 5) and r.cancelled_qty == 15
    assert engine.best(S) == Quote(None, 0, None, 0)
    assert engine.best("Y").bid == 100  # other symbols untouched


def test_mass_cancel_by_side(engine):
    _populate(engine)
    r = engine.mass_cancel(S, side=SELL)
    assert r.order_ids == (4, 5)
    assert engine.best(S) == Quote(100, 5, None, 0)


def test_mass_cancel_by_owner_keeps_other_owners_queue_order(engine):
    _populate(engine)
    r = engine.mass_cancel(S, owner="a")
    assert r.order_ids == (3, 1, 4)
    assert all(e.reason is CancelReason.MASS_CANCEL for e in r.events if type(e) is Cancelled)
    assert queue(engine, BUY, 100) == [(2, 2)] and queue(engine, SELL, 102) == [(5, 5)]


def test_mass_cancel_by_side_and_owner(engine):
    _populate(engine)
    assert engine.mass_cancel(S, side=BUY, owner="a").order_ids == (3, 1)
    assert engine.mass_cancel(S, side=BUY, owner="nobody").events == ()


def test_mass_cancel_clears_a_deep_level(engine):
    for i in range(8):
        engine.submit(S, BUY, 1, 100, owner="a" if i % 4 else "b")  # ids 1..8; b owns 1 and 5
    engine.cancel(S, 3)
    r = engine.mass_cancel(S, owner="a")
    assert r.order_ids == (2, 4, 6, 7, 8)
    assert queue(engine, BUY, 100) == [(1, 1), (5, 1)]


def test_many_removals_from_a_deep_queue_keep_time_order(engine):
    for _ in range(60):
        engine.submit(S, SELL, 2, 100)  # ids 1..60
    for order_id in range(1, 61, 2):
        engine.cancel(S, order_id)  # odd ids gone
    for order_id in range(2, 21, 6):
        engine.modify(S, order_id, quantity=3)  # 2, 8, 14, 20 go to the back
    for order_id in range(22, 41, 6):
        engine.modify(S, order_id, quantity=1)  # 22, 28, 34, 40 keep their place
    expected = [i for i in range(2, 61, 2) if i not in (2, 8, 14, 20)] + [2, 8, 14, 20]
    assert [order_id for order_id, _ in queue(engine, SELL, 100)] == expected
    r = engine.submit(S, BUY, 1000, order_type=MARKET)
    assert [maker for maker, _, _, _ in trades(r)] == expected
    assert r.filled_qty == sum(1 if i in (22, 28, 34, 40) else 3 if i in (2, 8, 14, 20) else 2 for i in expected)


# ---------------------------------------------------------------- self-trade prevention


def _self_cross(engine, stp):
    engine.submit(S, SELL, 5, 100, owner="me")  # 1
    engine.submit(S, SELL, 5, 100, owner="other")  # 2
    return engine.submit(S, BUY, 8, 100, owner="me", stp=stp)  # 3


def test_stp_none_lets_an_owner_trade_with_itself(engine):
    r = _self_cross(engine, SelfTradePrevention.NONE)
    assert trades(r) == [(1, 3, 100, 5), (2, 3, 100, 3)]


def test_stp_cancel_newest_cancels_the_takers_remainder(engine):
    r = _self_cross(engine, SelfTradePrevention.CANCEL_NEWEST)
    assert trades(r) == []
    assert r.status is OrderStatus.CANCELLED
    assert r.events[-1] == Cancelled(S, r.events[-1].seq, 3, 8, CancelReason.SELF_TRADE)
    assert queue(engine, SELL, 100) == [(1, 5), (2, 5)]


def test_stp_cancel_oldest_cancels_the_maker_and_keeps_matching(engine):
    r = _self_cross(engine, SelfTradePrevention.CANCEL_OLDEST)
    assert trades(r) == [(2, 3, 100, 5)]
    assert Cancelled(S, 6, 1, 5, CancelReason.SELF_TRADE) in r.events
    assert engine.order(S, 1).status is OrderStatus.CANCELLED
    assert r.status is OrderStatus.PARTIALLY_FILLED and engine.best(S) == Quote(100, 3, None, 0)


def test_stp_cancel_both(engine):
    r = _self_cross(engine, SelfTradePrevention.CANCEL_BOTH)
    assert trades(r) == []
    assert engine.order(S, 1).status is OrderStatus.CANCELLED
    assert r.status is OrderStatus.CANCELLED
    assert queue(engine, SELL, 100) == [(2, 5)]


def test_stp_cancel_newest_after_partial_fill(engine):
    engine.submit(S, SELL, 5, 100, owner="other")
    engine.submit(S, SELL, 5, 100, owner="me")
    r = engine.submit(S, BUY, 8, 100, owner="me", stp=SelfTradePrevention.CANCEL_NEWEST)
    assert trades(r) == [(1, 3, 100, 5)]
    assert r.status is OrderStatus.CANCELLED and engine.order(S, 3).cancelled == 3


# ---------------------------------------------------------------- queries and client ids


def test_depth_reports_quantity_and_count_best_first(engine):
    for price, qty in [(98, 1), (99, 2), (99, 3), (100, 4)]:
        engine.submit(S, BUY, qty, price)
    for price, qty in [(101, 1), (103, 2)]:
        engine.submit(S, SELL, qty, price)
    d = engine.depth(S, 2)
    assert d.bids == (LevelInfo(100, 4, 1), LevelInfo(99, 5, 2))
    assert d.asks == (LevelInfo(101, 1, 1), LevelInfo(103, 2, 1))
    assert engine.depth(S, 0).bids == ()


def test_snapshot_lists_queues_in_time_order(engine):
    engine.submit(S, BUY, 1, 100, owner="a")
    engine.submit(S, BUY, 2, 100, owner="b")
    snap = engine.snapshot(S)
    assert [(r.order_id, r.owner, r.remaining) for r in snap.bids[0].orders] == [(1, "a", 1), (2, "b", 2)]
    assert snap.last_order_id == 2 and snap.seq == 4


def test_client_id_is_reusable_once_the_order_is_finished(engine):
    engine.submit(S, BUY, 1, 100, owner="a", client_id="k")
    engine.submit(S, SELL, 1, 100)
    assert engine.submit(S, BUY, 1, 100, owner="a", client_id="k").status is OrderStatus.NEW


def test_same_client_id_for_different_owners_is_fine(engine):
    engine.submit(S, BUY, 1, 100, owner="a", client_id="k")
    assert engine.submit(S, BUY, 1, 100, owner="b", client_id="k").status is OrderStatus.NEW


def test_decimal_prices_on_a_fractional_tick(engine):
    engine.add_instrument(Instrument("Z", tick_size="0.05", lot_size="0.1"))
    engine.submit("Z", SELL, "1.5", "10.05")
    r = engine.submit("Z", BUY, 0.5, "10.10")
    assert trades(r) == [(1, 2, 1005, 5)]
    assert engine.instrument("Z").price_decimal(1005) == Decimal("10.05")
    assert engine.order("Z", 1).remaining == 10  # 1.0 in units of 0.1


def test_results_and_events_are_immutable_and_type_strict(engine):
    r = engine.submit(S, BUY, 1, 100)
    with pytest.raises(AttributeError):
        r.order_id = 7
    assert Rejected(S, 1, 1, RejectReason.FOK_UNFILLABLE) != (S, 1, 1, RejectReason.FOK_UNFILLABLE)
    assert Cancelled(S, 1, 2, 3, CancelReason.USER) != Modified(S, 1, 2, 3, CancelReason.USER, True)[:5]
    twin = Rejected(S, 1, 1, RejectReason.FOK_UNFILLABLE)
    assert twin == Rejected(S, 1, 1, RejectReason.FOK_UNFILLABLE)
    assert hash(twin) == hash(Rejected(S, 1, 1, RejectReason.FOK_UNFILLABLE))
    assert len({twin, Rejected(S, 1, 1, RejectReason.FOK_UNFILLABLE), r}) == 2
