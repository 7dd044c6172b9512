"""Sequential specifications of freeorder's own APIs, for the linearizability checker.

``StackModel``/``QueueModel``/``RegisterModel`` in ``linearizability`` already
fit TreiberStack (push/pop), MSQueue (enqueue/dequeue) and SeqLock
(write/read). These add the map-like structures, whose return values differ
from a plain map's, and the order book, specified by the reference engine.
"""

from __future__ import annotations

import copy
from typing import Any

from .linearizability import Model, _by_key, _unknown

_ABSENT = None


class SkipListMapModel(Model):
    """SkipListMap, partitioned by key: ("insert", k, v) -> True if k was new (else the value is
    replaced), ("get", k) -> v or None, ("pop", k) -> v or None, ("get_or_insert", k, v) -> value."""

    name = "skiplist-map"

    def init(self):
        return _ABSENT

    def apply(self, state, input):
        kind = input[0]
        if kind == "insert":
            return state is _ABSENT, input[2]
        if kind == "get":
            return state, state
        if kind == "pop":
            return state, _ABSENT
        if kind == "get_or_insert":
            return (input[2], input[2]) if state is _ABSENT else (state, state)
        raise _unknown(self, input)

    def partition(self, ops):
        return _by_key(self, ops)


class OrderIndexModel(Model):
    """OrderIndex, partitioned by id: ("insert", id, p) -> True if id was absent (no replace),
    ("get", id) -> p or None, ("pop", id) -> p or None."""

    name = "order-index"

    def init(self):
        return _ABSENT

    def apply(self, state, input):
        kind = input[0]
        if kind == "insert":
            return (True, input[2]) if state is _ABSENT else (False, state)
        if kind == "get":
            return state, state
        if kind == "pop":
            return state, _ABSENT
        raise _unknown(self, input)

    def partition(self, ops):
        return _by_key(self, ops)


class OrderBookModel(Model):
    """A matching engine, specified by the reference ``OrderBook`` and partitioned by symbol.

    An input is ``(method, symbol, args, kwargs_items)`` — e.g.
    ``("submit", "XYZ", (Side.BUY, 5, 100), (("owner", "a"),))`` — and its
    output is ``("ok", result)`` or ``("error", exception type name)``. A state
    is the tuple of inputs applied so far (hashable); the book it stands for
    is rebuilt from its parent state's book and cached per (symbol, state).
    """

    name = "order-book"

    def __init__(self, instruments):
        self.instruments = {i.symbol: i for i in instruments}
        self._books: dict[tuple, Any] = {}

    def init(self):
        return ()

    def _book(self, state: tuple, symbol: str):
        book = self._books.get((symbol, state))
        if book is None:
            if state:
                book = copy.deepcopy(self._book(state[:-1], symbol))
                _call(book, state[-1])
            else:
                from freeorder.book import OrderBook

                book = OrderBook(self.instruments[symbol])
            self._books[(symbol, state)] = book
        return book

    def apply(self, state, input):
        book = copy.deepcopy(self._book(state, input[1]))
        output = _call(book, input)
        new_state = state + (input,)
        self._books[(input[1], new_state)] = book
        return output, new_state

    def partition(self, ops):
        return _by_key(self, ops)


def _call(book, input) -> tuple:
    method, _symbol, args, kwargs = input
    try:
        return ("ok", getattr(book, method)(*args, **dict(kwargs)))
    except Exception as exc:  # noqa: BLE001 - an error is an output like any other
        return ("error", type(exc).__name__)


def engine_input(command) -> tuple:
    """The model input for a ``freeorder.engines.workload.Command``."""
    return (command.method, command.symbol, command.args, tuple(sorted(command.kwargs.items())))


def engine_output(engine, command) -> tuple:
    """Run ``command`` on ``engine``; the output the model expects."""
    try:
        return ("ok", command.run(engine))
    except Exception as exc:  # noqa: BLE001
        return ("error", type(exc).__name__)
