"""The invariant checker accepts sound states and reports each kind of corruption.

States are taken from the reference engine, then one value is altered the way a
buggy engine might get it wrong; the checker must name the problem.
"""

from __future__ import annotations

import pytest

from freeorder.book import (
    Instrument,
    InvariantViolation,
    OrderStatus,
    Side,
    Trade,
    check_invariants,
    violations,
)
from freeorder.engines import ReferenceEngine

S = "X"


@pytest.fixture
def sound():
    e = ReferenceEngine([Instrument(S)])
    e.submit(S, Side.BUY, 5, 99, owner="a")  # 1: rests
    e.submit(S, Side.BUY, 3, 99, owner="b")  # 2: rests behind 1
    e.submit(S, Side.SELL, 4, 101, owner="a")  # 3: rests
    e.submit(S, Side.SELL, 2, 99, owner="c")  # 4: fills 2 of order 1
    e.submit(S, Side.SELL, 1, 102, owner="c")  # 5: rests
    e.cancel(S, 5)
    return e.snapshot(S), e.orders(S), e.events(S)


def replace_order(orders, order_id, **changes):
    return tuple(o._replace(**changes) if o.order_id == order_id else o for o in orders)


def replace_level(snapshot, side, index, **changes):
    field = "bids" if side is Side.BUY else "asks"
    levels = list(getattr(snapshot, field))
    levels[index] = levels[index]._replace(**changes)
    return snapshot._replace(**{field: tuple(levels)})


def test_a_sound_state_has_no_violations(sound):
    assert violations(*sound) == []
    check_invariants(*sound)


def test_quantity_not_conserved(sound):
    snap, orders, events = sound
    assert any("not conserved" in p for p in violations(snap, replace_order(orders, 3, cancelled=1)))


def test_overfill(sound):
    snap, orders, _ = sound
    bad = replace_order(orders, 4, filled=3, quantity=3)
    assert any("overfilled" in p or "bought" in p for p in violations(snap, bad))
    bad = replace_order(orders, 4, filled=3)
    assert any("overfilled" in p for p in violations(snap, bad))


def test_crossed_book(sound):
    snap, orders, _ = sound
    crossed = replace_level(snap, Side.BUY, 0, price=101)
    moved = replace_order(replace_order(orders, 1, price=101), 2, price=101)
    assert violations(crossed, moved) == ["crossed book: bid 101 >= ask 101"]


def test_price_order_of_levels(sound):
    snap, orders, _ = sound
    level = snap.asks[0]
    assert any("out of price order" in p for p in violations(snap._replace(asks=(level, level._replace(price=100))), orders))


def test_time_priority_within_a_level(sound):
    snap, orders, _ = sound
    level = snap.bids[0]
    swapped = level._replace(orders=level.orders[::-1])
    assert any("time priority" in p for p in violations(replace_level(snap, Side.BUY, 0, orders=swapped.orders), orders))


def test_level_totals_must_match_orders(sound):
    snap, orders, _ = sound
    assert any("qty" in p for p in violations(replace_level(snap, Side.BUY, 0, qty=99), orders))
    assert any("count" in p for p in violations(replace_level(snap, Side.BUY, 0, count=7), orders))


def test_live_order_missing_from_the_book(sound):
    snap, orders, _ = sound
    assert any("not in the book" in p for p in violations(snap._replace(asks=()), orders))


def test_finished_order_still_resting(sound):
    snap, orders, _ = sound
    bad = replace_order(orders, 3, status=OrderStatus.CANCELLED, remaining=0, cancelled=4)
    assert any("rests with status CANCELLED" in p for p in violations(snap, bad))


def test_status_must_fit_quantities(sound):
    snap, orders, _ = sound
    assert any("does not fit" in p for p in violations(snap, replace_order(orders, 1, status=OrderStatus.NEW)))


def test_order_ids_must_be_gap_free(sound):
    snap, orders, _ = sound
    assert any("not exactly" in p for p in violations(snap, orders[:-1]))


def test_event_stream_gaps_and_trade_totals(sound):
    snap, orders, events = sound
    assert any("sequence gap" in p for p in violations(snap, orders, events[:3] + events[4:]))
    trade_at = next(i for i, e in enumerate(events) if type(e) is Trade)
    doubled = events[:trade_at] + (events[trade_at]._replace(qty=3),) + events[trade_at + 1 :]
    assert any("trades sum" in p for p in violations(snap, orders, doubled))


def test_check_invariants_raises_with_every_problem(sound):
    snap, orders, _ = sound
    with pytest.raises(InvariantViolation) as info:
        check_invariants(snap._replace(asks=()), replace_order(orders, 1, status=OrderStatus.NEW))
    assert len(info.value.problems) >= 2
