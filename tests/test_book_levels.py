"""The book's storage: order records, parked levels reused and dropped, best prices.

White-box where the storage is the point (the order record's fields, how many
parked levels a side keeps); every test ends with the invariant checker.
"""

from __future__ import annotations

from freeorder.book import (
    Instrument,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
    check_invariants,
)

BUY, SELL = Side.BUY, Side.SELL


def sound(book: OrderBook) -> None:
    check_invariants(book.snapshot(), book.orders(), book.events())


def test_order_record_fields_by_name_and_index():
    from freeorder.book import orders

    order = Order.new(7, "alice", "c1", BUY, OrderType.LIMIT, TimeInForce.GTC, False, SelfTradePrevention.NONE, 100, 5)
    assert type(order) is list and len(order) == 15
    fields = {
        "ORDER_ID": 7, "REMAINING": 5, "FILLED": 0, "STATUS": OrderStatus.NEW, "PRIORITY": 0, "PRICE": 100,
        "SIDE": BUY, "OWNER": "alice", "CLIENT_ID": "c1", "STP": SelfTradePrevention.NONE, "QUANTITY": 5,
        "CANCELLED": 0, "ORDER_TYPE": OrderType.LIMIT, "TIME_IN_FORCE": TimeInForce.GTC, "POST_ONLY": False,
    }  # fmt: skip
    for name, value in fields.items():
        assert order[getattr(orders, name)] == value and getattr(Order, name) == getattr(orders, name), name
    order[orders.REMAINING] = 3
    info = Order.info(order, "X")
    assert (info.symbol, info.order_id, info.remaining, info.quantity, info.status) == ("X", 7, 3, 5, OrderStatus.NEW)
    assert (info.owner, info.client_id, info.side, info.price, info.stp) == ("alice", "c1", BUY, 100, SelfTradePrevention.NONE)
    assert "id=7" in Order.describe(order) and "BUY 3/5" in Order.describe(order)


def test_the_book_keeps_records_in_that_layout():
    book = OrderBook(Instrument("X"))
    book.submit(SELL, 4, 101, owner="m")
    book.submit(BUY, 3, 101, owner="t", client_id="k")
    maker, taker = book._orders
    assert Order.info(maker, "X") == book.order(1) and Order.info(taker, "X") == book.order(2)
    assert maker[:4] == [1, 1, 3, OrderStatus.PARTIALLY_FILLED] and taker[:4] == [2, 0, 3, OrderStatus.FILLED]
    sound(book)


def test_a_level_emptied_and_refilled_keeps_time_priority():
    book = OrderBook(Instrument("X"))
    a = book.submit(BUY, 1, 100).order_id
    book.cancel(a)
    assert book.best().bid is None and book.depth(5).bids == ()
    b = book.submit(BUY, 2, 100).order_id
    c = book.submit(BUY, 3, 100).order_id
    assert [o.order_id for o in book.snapshot().bids[0].orders] == [b, c]
    fill = book.submit(SELL, 4, 100, order_type=OrderType.LIMIT)
    assert fill.status is OrderStatus.FILLED
    assert [(o.order_id, o.remaining) for o in book.snapshot().bids[0].orders] == [(c, 1)]
    sound(book)


def test_many_emptied_levels_are_dropped_and_the_side_stays_right():
    book = OrderBook(Instrument("X"))
    ids = [book.submit(BUY, 1, price).order_id for price in range(1000, 1400)]
    ids += [book.submit(SELL, 1, price).order_id for price in range(2000, 2400)]
    for order_id in ids[::2] + ids[1::2][:-20]:
        book.cancel(order_id)
    # 20 asks left open; the parked levels of both sides were dropped along the way.
    assert len(book._bids) <= 2 * len(book._bid_prices) + 64 and len(book._asks) <= 2 * len(book._ask_prices) + 64
    assert book.best().bid is None and book.best().ask == 2361
    assert [level.price for level in book.depth(3).asks] == [2361, 2363, 2365]
    # Dropped and parked prices take orders again.
    for price in (1000, 1001, 2361, 2000):
        book.submit(SELL if price > 1500 else BUY, 2, price)
    assert book.best().bid == 1001 and book.best().ask == 2000
    sound(book)


def test_a_sweep_through_many_levels_updates_the_best_each_time():
    book = OrderBook(Instrument("X"))
    for price in range(100, 200):
        book.submit(SELL, 1, price)
    r = book.submit(BUY, 150, order_type=OrderType.MARKET)
    assert r.filled_qty == 100 and r.status is OrderStatus.EXPIRED
    assert book.best().ask is None
    for price in range(150, 160):
        book.submit(SELL, 1, price)
    assert book.best().ask == 150 and len(book.depth(100).asks) == 10
    sound(book)


def test_mass_cancel_drops_every_level_of_a_side():
    book = OrderBook(Instrument("X"))
    for price in range(1, 300):
        book.submit(BUY, 1, price, owner="a")
        book.submit(SELL, 1, 1000 + price, owner="b" if price % 2 else "a")
    book.mass_cancel(owner="a")
    assert book.best().bid is None and book.best().ask == 1001
    assert len(book.depth(1000).asks) == 150
    book.submit(BUY, 1, 5)
    assert book.best().bid == 5
    sound(book)
