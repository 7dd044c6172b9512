"""Sequential specifications of freeorder's own APIs, for the linearizability checker.

``StackModel``/``QueueModel``/``RegisterModel`` in ``linearizability`` already
fit TreiberStack (push/pop), MSQueue (enqueue/dequeue) and SeqLock
(write/read). These add the map-like structures, whose return values differ
from a plain map's, and the order book, specified by the reference engine.
"""

from __future__ import annotations

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
    output is ``("ok", result)`` or ``("error", exception type name)``.

    A state is an int naming the sequence of changing inputs applied so far
    (interned: the same input applied to the same state gives the same int, so
    the checker's memo hashes an int, not a growing tuple); reads (``READS``)
    leave it unchanged. Outputs are cached per (state, input). The book a
    state stands for is the one last applied forward, changed in place, or is
    rebuilt by replaying the state's inputs on a new book (cheaper than a deep
    copy at every step, which made checking cost milliseconds per operation).
    """

    name = "order-book"
    READS = frozenset({"best", "depth", "snapshot", "order", "orders", "events"})

    def __init__(self, instruments):
        self.instruments = {i.symbol: i for i in instruments}
        self._parent: list[tuple] = [(0, None)]  # state -> (parent state, input applied to it)
        self._child: dict[tuple, int] = {}  # (state, changing input) -> state
        self._outputs: dict[tuple, tuple] = {}  # (state, input) -> output
        self._working: dict[str, tuple] = {}  # symbol -> (state, its book)

    def init(self):
        return 0

    def _book(self, state: int, symbol: str):
        working = self._working.get(symbol)
        if working is not None and working[0] == state:
            return working[1]
        from freeorder.book import OrderBook

        inputs = []
        while state:
            state, input = self._parent[state]
            inputs.append(input)
        book = OrderBook(self.instruments[symbol])
        for input in reversed(inputs):
            if input[1] == symbol:
                _call(book, input)
        return book

    def apply(self, state, input):
        key = (state, input)
        output = self._outputs.get(key)
        if output is not None:
            return output, self._child.get(key, state)
        symbol = input[1]
        book = self._book(state, symbol)
        output = self._outputs[key] = _call(book, input)
        if input[0] in self.READS:
            self._working[symbol] = (state, book)
            return output, state
        child = self._child[key] = len(self._parent)
        self._parent.append(key)
        self._working[symbol] = (child, book)
        return output, child

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
