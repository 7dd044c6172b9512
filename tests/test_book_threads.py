"""The reference engine and threads: it is single-threaded per symbol (documented,
not checked: see its module docstring), so calls made one after another from
different threads, and concurrent calls on different symbols, work. On
free-threaded 3.13 the enum members and record objects every thread touches
are immortal (no shared refcount writes)."""

from __future__ import annotations

import pickle
import sys
import threading

import pytest

from freeorder.book import (
    Accepted,
    CancelReason,
    Instrument,
    OrderStatus,
    OrderType,
    RejectReason,
    SelfTradePrevention,
    Side,
    SubmitResult,
    TimeInForce,
    check_invariants,
)
from freeorder.book import _immortal
from freeorder.engines import ReferenceEngine

pytestmark = pytest.mark.thread_unsafe  # starts its own threads

BUY, SELL = Side.BUY, Side.SELL
TIMEOUT = 10


def state(engine, symbol="X"):
    return engine.snapshot(symbol), engine.orders(symbol), engine.events(symbol)


def test_calls_from_different_threads_one_after_another_are_fine():
    engine = ReferenceEngine([Instrument("X")])
    results = []

    def submit(side, price):
        results.append(engine.submit("X", side, 3, price, owner=str(side)))

    for side, price in ((SELL, 100), (BUY, 100), (BUY, 99)):
        thread = threading.Thread(target=submit, args=(side, price))
        thread.start()
        thread.join(TIMEOUT)
    assert [r.status for r in results] == [OrderStatus.NEW, OrderStatus.FILLED, OrderStatus.NEW]
    check_invariants(*state(engine))


def test_two_threads_on_their_own_symbols_of_one_engine():
    engine = ReferenceEngine([Instrument("X"), Instrument("Y")])
    barrier = threading.Barrier(2)
    errors = []

    def trade(symbol):
        try:
            barrier.wait(TIMEOUT)
            for i in range(2000):
                engine.submit(symbol, BUY if i % 2 else SELL, 1 + i % 3, 100 + i % 5, owner=f"o{i % 4}")
                if i % 3 == 0:
                    engine.cancel(symbol, 1 + i // 2)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=trade, args=(s,)) for s in ("X", "Y")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 3)
    assert errors == []
    for symbol in ("X", "Y"):
        check_invariants(*state(engine, symbol))
    assert engine.orders("X") == tuple(o._replace(symbol="X") for o in engine.orders("Y"))


# ---------------------------------------------------------------- immortal objects

ON_FREE_THREADED_313 = _immortal.ENABLED


@pytest.mark.skipif(not ON_FREE_THREADED_313, reason="immortalised only on free-threaded CPython 3.13")
def test_enum_members_and_record_plumbing_are_immortal():
    members = [*Side, *OrderType, *TimeInForce, *OrderStatus, *SelfTradePrevention, *RejectReason, *CancelReason]
    assert all(_immortal.is_immortal(m) for m in members)
    assert _immortal.is_immortal(tuple.__new__)
    assert _immortal.is_immortal(Accepted.__dict__["seq"]) and _immortal.is_immortal(SubmitResult.__dict__["events"])
    assert sys.getrefcount(BUY) > 2**30
    assert not _immortal.is_immortal(object())


def test_enum_members_behave_as_before():
    assert Side("buy") is BUY and Side["SELL"] is SELL and BUY.opposite is SELL
    assert pickle.loads(pickle.dumps(OrderStatus.FILLED)) is OrderStatus.FILLED
    assert {BUY: 1}[Side.BUY] == 1 and repr(SELL) == "<Side.SELL: 'sell'>"
    assert list(TimeInForce) == [TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]


def test_immortalize_refuses_nothing_it_does_not_know():
    """Off 3.13t it changes nothing; on 3.13t an object it already made immortal is skipped."""
    assert _immortal.immortalize([BUY]) == 0


@pytest.mark.skipif(not ON_FREE_THREADED_313, reason="immortalised only on free-threaded CPython 3.13")
def test_an_object_owned_by_another_running_thread_is_left_mortal():
    made, done = threading.Event(), threading.Event()
    box = {}

    def owner():
        box["obj"] = [1, 2, 3]  # owned by this thread
        made.set()
        done.wait(TIMEOUT)

    thread = threading.Thread(target=owner)
    thread.start()
    try:
        assert made.wait(TIMEOUT)
        assert _immortal.immortalize([box["obj"]]) == 0
        assert not _immortal.is_immortal(box["obj"])
        mine = [4, 5]
        assert _immortal.immortalize([mine]) == 1 and _immortal.is_immortal(mine)
    finally:
        done.set()
        thread.join(TIMEOUT)
