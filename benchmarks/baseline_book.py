"""The yardstick for ``freeorder.book.OrderBook``: a minimal book anyone can read.

Per side a ``SortedDict`` price -> ``deque`` of ``[order_id, remaining]`` in time
order. Limit and market orders match at the maker's price, best level first and
in queue order within a level; a partial fill leaves the maker at the head of its
queue. Cancel finds a resting order through a dict. Order ids are issued 1, 2, ...
(as ``OrderBook`` does), so the same command list drives both. No events, no
results, no validation, no self-trade prevention: what is left is the matching.

Run ``python benchmarks/bench_book.py`` to compare it with ``ReferenceEngine``.
"""

from __future__ import annotations

from collections import deque

from sortedcontainers import SortedDict

from freeorder.book import Side

BUY = Side.BUY


class BaselineBook:
    __slots__ = ("bids", "asks", "index", "last_id")

    def __init__(self) -> None:
        self.bids = SortedDict()  # price -> deque of [order_id, remaining]
        self.asks = SortedDict()
        self.index = {}  # resting order_id -> (side's SortedDict, price, entry)
        self.last_id = 0

    def limit(self, side: Side, qty: int, price: int) -> int:
        self.last_id = order_id = self.last_id + 1
        buy = side is BUY
        qty = self._match(self.asks if buy else self.bids, buy, qty, price)
        if qty:
            book = self.bids if buy else self.asks
            entry = [order_id, qty]
            level = book.get(price)
            if level is None:
                level = book[price] = deque()
            level.append(entry)
            self.index[order_id] = (book, price, entry)
        return order_id

    def market(self, side: Side, qty: int) -> int:
        self.last_id = order_id = self.last_id + 1
        buy = side is BUY
        self._match(self.asks if buy else self.bids, buy, qty, None)
        return order_id

    def cancel(self, order_id: int) -> bool:
        found = self.index.pop(order_id, None)
        if found is None:
            return False
        book, price, entry = found
        level = book[price]
        level.remove(entry)
        if not level:
            del book[price]
        return True

    def _match(self, other: SortedDict, buy: bool, qty: int, limit: int | None) -> int:
        """Trade ``qty`` against ``other`` (the opposite side); the unfilled rest."""
        index = self.index
        while qty and other:
            price = other.peekitem(0 if buy else -1)[0]
            if limit is not None and (price > limit if buy else price < limit):
                break
            level = other[price]
            while qty and level:
                entry = level[0]
                have = entry[1]
                fill = qty if qty < have else have
                qty -= fill
                entry[1] = have - fill
                if have == fill:
                    level.popleft()
                    del index[entry[0]]
            if not level:
                del other[price]
        return qty
