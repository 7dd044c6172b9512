"""The replicated engine: a universal construction over a truncated command log per symbol.

Per-symbol price–time matching is sequential by nature, so each symbol's
commands are totally ordered by a lock-free ``CommandLog``
(``freeorder.lockfree.command_log``), and every thread applies that log, in
order, to its own private replica of the symbol's book (the sequential
reference ``OrderBook``). This is Herlihy's lock-free universal construction,
kept as the baseline the engine comparison measures:

- **update** (submit, cancel, modify, mass cancel): append the command to the
  symbol's log, then bring this thread's replica up to and including it and
  return its result. Linearization point: the compare-exchange that links the
  command into the log. Every replica computes the same result, because the
  book is deterministic and sees the same commands in the same order.
- **read** (best, depth, snapshot, order, orders, events): bring the replica
  up to the last command in the log and answer from it. Linearization point:
  the load that found that command had no successor.
- **progress**: no thread ever waits for another. A failed link means another
  thread linked its command; a thread frozen anywhere holds only its private
  replica, and the others apply its command themselves. Different symbols
  share nothing; readers write no shared state but a command's recorded result.

Checkpointed truncation (memory bounded in commands). Every
``checkpoint_every`` (K) commands — at positions p = K, 2K, 3K, … — the first
replica to apply the entry at p claims it (a compare-exchange of the
symbol's ``claimed`` position) and records a *checkpoint*: an immutable image
of its book just after p (``_freeze``). Publishing it (a compare-exchange of
the symbol's ``latest`` position) makes the checkpoint it replaces the oldest
kept, drops the one before that, and has the log forget every entry before
the replaced checkpoint's entry. So the log holds the commands since the
previous checkpoint: at most 2K plus the appends in flight — and K more for
each checkpoint whose claimer is still recording, or was overtaken by a
later one (it was descheduled for K commands' time; its checkpoint is then
dropped unpublished), until the next two are published. At most two
checkpoints are published, plus one per thread recording one.
A replica that finds an entry it needs forgotten (a new thread, or one
stalled more than K commands) restores from the latest checkpoint
(``_thaw``: a copy) and replays from there; one that lags by less than K
just replays. Every thread that applies a command records its result on the
command (the first write wins; all are equal), so a thread stalled between
linking its command and applying it, and overtaken by a checkpoint, still
returns its command's result.

What a stalled thread pins: its own replica (one copy of order state, as
every replica), the one log entry it holds (entries refer to each other by
id, not reference, so never the chain after it), and, if it stalled while
recording or restoring, that one checkpoint. It never stops truncation: a
claimer that stalls costs K log entries until two later checkpoints are out,
and its checkpoint is dropped. When it resumes it restores if it fell behind.

Costs. A command costs one reference-book application per thread that
touches its symbol, so throughput scales across symbols but not within one.
A checkpoint costs O(resting orders + price levels), every K commands, to the
thread that records it: finished orders and events are immutable, so a
checkpoint shares them by keeping the recording replica's order and event
lists with their lengths at p (those lists only grow at the end). A restore
costs O(orders ever issued + events): a copy of those lists' prefixes and of
the resting orders; replicas restored from one checkpoint share the finished
order records. Memory with ``record_events=False``: per replica, the order
list (every order ever issued stays queryable, as in ``ReferenceEngine``) and
its resting orders, finished records shared between replicas restored from
checkpoints; plus, per symbol, about 2K log entries and two checkpoints.

This module reads ``OrderBook``'s private slots to freeze and thaw a book;
``tests/test_engine_replicated.py`` fails if ``OrderBook`` gains a slot this
module does not handle.

GC policy: none of its own; replicas' orders and events are long-lived
objects, so long runs on 3.13t should raise the GC thresholds or disable it.
"""

from __future__ import annotations

import copy
import threading

from freeorder import atomic

from ..book.book import Level, OrderBook
from ..book.errors import DuplicateInstrument, InvalidOrder, InvalidOrderType
from ..book.instrument import Instrument
from ..book.orders import OrderType, SelfTradePrevention
from ..lockfree.command_log import CommandLog
from .api import lookup_symbol

__all__ = ["ReplicatedEngine"]

_LIMIT = OrderType.LIMIT
_STP_NONE = SelfTradePrevention.NONE
DEFAULT_CHECKPOINT_EVERY = 4096


class _Unset:
    """A command's result before any thread recorded it (a class: 3.13t defers its refcount)."""


class _Raised:
    """A recorded result that was an exception (bad input: raised, changed nothing)."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException):
        self.exc = exc


class _Command:
    """A log payload: ``fn(book, *args)``, and its result once some thread applied it."""

    __slots__ = ("fn", "args", "result")

    def __init__(self, fn, args: tuple):
        self.fn = fn
        self.args = args
        self.result = _Unset


def _modify(book: OrderBook, order_id, price, quantity):
    return book.modify(order_id, price=price, quantity=quantity)


def _mass_cancel(book: OrderBook, side, owner):
    return book.mass_cancel(side=side, owner=owner)


# ---------------------------------------------------------------- checkpoints

# OrderBook slots: shared as they are (immutable or never rebound), or handled by _freeze/_thaw.
SHARED_SLOTS = ("instrument", "symbol", "_int_units")
IMAGED_SLOTS = ("_bids", "_asks", "_bid_prices", "_ask_prices", "_best_bid", "_best_ask", "_orders",
                "_resting", "_client_ids", "_seq", "_log")


class _Frozen:
    """An immutable image of a book: a checkpoint's state.

    ``orders``/``log`` are the recording book's own lists, valid up to
    ``n_orders``/``n_events`` (the book only appends to them, and never changes
    an order record once the order is finished); ``resting`` holds copies of
    the orders live at the checkpoint, which the book goes on changing.
    """

    __slots__ = ("shared", "orders", "n_orders", "resting", "client_ids", "bids", "asks", "bid_prices",
                 "ask_prices", "best_bid", "best_ask", "seq", "log", "n_events")


def _freeze_levels(levels: dict) -> dict:
    return {price: (level.qty, level.count, tuple(level.queue)) for price, level in levels.items()}


def _thaw_levels(frozen: dict) -> dict:
    levels = {}
    for price, (qty, count, queue) in frozen.items():
        level = levels[price] = Level()
        level.qty, level.count = qty, count
        level.queue.extend(queue)
    return levels


def _freeze(book: OrderBook) -> _Frozen:
    """The image of ``book`` between commands: O(resting orders + levels)."""
    f = _Frozen()
    f.shared = tuple(getattr(book, name) for name in SHARED_SLOTS)
    f.orders, f.n_orders = book._orders, len(book._orders)
    f.resting = {stamp: order.copy() for stamp, order in book._resting.items()}
    f.client_ids = {key: order[0] for key, order in book._client_ids.items()}   # order ids
    f.bids, f.asks = _freeze_levels(book._bids), _freeze_levels(book._asks)
    f.bid_prices, f.ask_prices = tuple(book._bid_prices), tuple(book._ask_prices)
    f.best_bid, f.best_ask, f.seq = book._best_bid, book._best_ask, book._seq
    f.log = book._log
    f.n_events = 0 if book._log is None else len(book._log)
    return f


def _thaw(f: _Frozen) -> OrderBook:
    """A new book equal to the image, sharing its finished order records and its events."""
    book = OrderBook.__new__(OrderBook)
    for name, value in zip(SHARED_SLOTS, f.shared):
        setattr(book, name, value)
    orders = f.orders[:f.n_orders]
    resting = {}
    for stamp, order in f.resting.items():
        mine = order.copy()
        orders[mine[0] - 1] = resting[stamp] = mine
    book._orders, book._resting = orders, resting
    book._client_ids = {key: orders[order_id - 1] for key, order_id in f.client_ids.items()}
    book._bids, book._asks = _thaw_levels(f.bids), _thaw_levels(f.asks)
    book._bid_prices, book._ask_prices = list(f.bid_prices), list(f.ask_prices)
    book._best_bid, book._best_ask, book._seq = f.best_bid, f.best_ask, f.seq
    book._log = None if f.log is None else f.log[:f.n_events]
    return book


class _Checkpoint:
    """The image of a symbol's book after the log entry ``entry``; ``prev``: the position of
    the checkpoint it replaced as the latest (None for the first, the empty book at pos 0)."""

    __slots__ = ("entry", "image", "prev")

    def __init__(self, entry, image: _Frozen):
        self.entry = entry
        self.image = image
        self.prev = None


# ---------------------------------------------------------------- per symbol

class _Symbol:
    """A symbol's log and checkpoints.

    Invariants: ``checkpoints[latest]`` is the newest published checkpoint (but
    for the moment between a newer one's compare-exchange and this lookup:
    readers retry) and its ``prev`` is also kept; once its publisher has
    truncated, the log's ``first`` entry is ``checkpoints[prev]``'s, so a
    replica that lags by less than K commands never restores; ``claimed`` is
    the newest position a thread took on to record (it only grows).

    Memory orderings (all SEQ_CST, the cheapest call; what each needs): the
    compare-exchange of ``latest`` must release the checkpoint's registration
    in ``checkpoints`` and its image, and restorers' load of it acquire them;
    ``claimed`` only decides who records (any order would do). A command's
    ``result`` is a plain slot attribute: 3.13t stores slot attributes with
    release and loads them atomically, and an owner reads it only after
    acquiring (through ``latest`` and the log) a checkpoint recorded after it.
    """

    __slots__ = ("instrument", "log", "lookup", "latest", "claimed", "checkpoints", "every")

    def __init__(self, instrument: Instrument, record_events: bool, every: int):
        self.instrument = instrument
        self.log = CommandLog()
        self.lookup = self.log.lookup
        self.every = every
        origin = _Checkpoint(self.log.first, _freeze(OrderBook(instrument, record_events=record_events)))
        self.checkpoints = {0: origin}
        self.latest = atomic.AtomicInt(0)
        self.claimed = atomic.AtomicInt(0)

    def restore(self):
        """A fresh replica (book, entry) from the latest checkpoint."""
        checkpoints, latest = self.checkpoints, self.latest.load
        while True:
            checkpoint = checkpoints.get(latest())
            if checkpoint is not None:      # else dropped since the load: a newer one is out
                return _thaw(checkpoint.image), checkpoint.entry

    def checkpoint(self, book: OrderBook, entry) -> None:
        """Record a checkpoint of ``book`` (just past ``entry``, at a multiple of K) if no
        thread has claimed that position yet: the first replica to apply an entry records it.

        The claim is a compare-exchange of ``claimed`` from an older position; a replica
        applying an older multiple after a newer one was claimed records nothing.
        """
        pos, claimed = entry.pos, self.claimed
        current = claimed.load()
        if current < pos and claimed.compare_exchange(current, pos) == current:
            self.record(book, entry)

    def record(self, book: OrderBook, entry) -> None:
        """Publish a checkpoint of ``book`` as of ``entry``, drop the one two back, truncate the log.

        Linearization point: the compare-exchange of ``latest`` (SEQ_CST: it
        publishes the dict registration made before it, as the log's link does).
        """
        checkpoint, pos = _Checkpoint(entry, _freeze(book)), entry.pos
        checkpoints, latest = self.checkpoints, self.latest
        checkpoints[pos] = checkpoint       # registered before it is published
        while True:
            current = latest.load()
            if current >= pos:              # a newer one is out already: ours is not needed
                del checkpoints[pos]
                return
            previous = checkpoints.get(current)
            if previous is None:            # replaced (and dropped) since the load: reload
                continue
            checkpoint.prev = current
            if latest.compare_exchange(current, pos) == current:
                break
        # Only the publisher that replaced ``previous`` gets here for it: each drop happens once.
        if previous.prev is not None:
            checkpoints.pop(previous.prev, None)
        self.log.forget_before(previous.entry)


class _Replica:
    """One thread's private copy of a symbol's book, with the last log entry applied."""

    __slots__ = ("book", "last")

    def __init__(self, book: OrderBook, last):
        self.book = book
        self.last = last


class ReplicatedEngine:
    """Multi-symbol engine with the reference engine's API and results, lock-free, one replica
    of each symbol's book per thread over a truncated command log (see module docstring).

    ``checkpoint_every``: K, commands between checkpoints (an int >= 1); the log of a symbol
    holds about K to 2K commands.
    """

    def __init__(self, instruments=(), *, record_events: bool = True,
                 checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY) -> None:
        if type(checkpoint_every) is not int:
            raise InvalidOrderType("checkpoint_every", checkpoint_every, "expected an int")
        if checkpoint_every < 1:
            raise InvalidOrder("checkpoint_every", checkpoint_every, "must be >= 1")
        self._symbols: dict[str, _Symbol] = {}
        self._record_events = record_events
        self._every = checkpoint_every
        self._local = threading.local()
        for instrument in instruments:
            self.add_instrument(instrument)

    # ------------------------------------------------------------------ plumbing

    def _symbol(self, symbol: str) -> _Symbol:
        try:
            return self._symbols[symbol]
        except (KeyError, TypeError):
            return lookup_symbol(self._symbols, symbol)   # raises the API's error

    def _replica(self, symbol: str, state: _Symbol) -> _Replica:
        try:
            return self._local.replicas[symbol]
        except AttributeError:
            self._local.replicas = {}
        except KeyError:
            pass
        replica = self._local.replicas[symbol] = _Replica(*state.restore())
        return replica

    @staticmethod
    def _run(state: _Symbol, replica: _Replica, mine):
        """Bring ``replica`` up to ``mine`` (an update's entry, linked after the replica's
        last entry; its result is returned) or, for ``mine=None``, to the end of the log
        (the book is returned)."""
        lookup, unset, every = state.lookup, _Unset, state.every
        book, entry = replica.book, replica.last
        try:
            while True:
                after = entry.next.load()
                if not after:               # the end of the log
                    if mine is not None:        # (never: mine is linked after the replica's entry)
                        return _recorded(mine.payload)
                    return book
                found = lookup(after)
                if found is None:           # forgotten: this replica fell behind a truncation
                    book, entry = state.restore()
                    if mine is not None and entry.pos >= mine.pos:
                        return _recorded(mine.payload)
                    continue
                entry, command = found, found.payload
                if found is mine:
                    try:
                        command.result = result = command.fn(book, *command.args)
                    except Exception as exc:
                        command.result = _Raised(_detached(exc))
                        raise
                    finally:
                        if not entry.pos % every:
                            state.checkpoint(book, entry)
                    return result
                if command.result is unset:
                    try:
                        command.result = command.fn(book, *command.args)
                    except Exception as exc:  # noqa: BLE001 - another thread's refused input: raised there
                        command.result = _Raised(exc.with_traceback(None))
                else:
                    try:
                        command.fn(book, *command.args)
                    except Exception:  # noqa: BLE001 - as above; changed nothing
                        pass
                if not entry.pos % every:
                    state.checkpoint(book, entry)
        finally:
            replica.book, replica.last = book, entry

    def _update(self, symbol: str, fn, args: tuple):
        state = self._symbol(symbol)
        replica = self._replica(symbol, state)     # before the append: its entry precedes ours
        return self._run(state, replica, state.log.append(_Command(fn, args)))

    def _read(self, symbol: str) -> OrderBook:
        state = self._symbol(symbol)
        return self._run(state, self._replica(symbol, state), None)

    # ------------------------------------------------------------------ instruments

    def add_instrument(self, instrument: Instrument) -> None:
        if not isinstance(instrument, Instrument):
            raise InvalidOrderType("instrument", instrument, "expected an Instrument")
        state = _Symbol(instrument, self._record_events, self._every)
        if self._symbols.setdefault(instrument.symbol, state) is not state:
            raise DuplicateInstrument(f"symbol={instrument.symbol!r}: already registered")

    def instrument(self, symbol: str) -> Instrument:
        return self._symbol(symbol).instrument

    def symbols(self) -> tuple[str, ...]:
        return tuple(self._symbols)

    def log_length(self, symbol: str) -> int:
        """How many commands the symbol's log holds now (after truncation)."""
        return len(self._symbol(symbol).log)

    def commands(self, symbol: str) -> int:
        """How many commands the symbol's log has linked since it was made."""
        return self._symbol(symbol).log.last().pos

    # ------------------------------------------------------------------ commands

    def submit(self, symbol, side, quantity, price=None, *, order_type=_LIMIT, time_in_force=None,
               post_only=False, owner="", client_id=None, stp=_STP_NONE):
        return self._update(symbol, OrderBook._submit,
                            (side, quantity, price, order_type, time_in_force, post_only, owner, client_id, stp))

    def cancel(self, symbol, order_id):
        return self._update(symbol, OrderBook._cancel, (order_id,))

    def modify(self, symbol, order_id, *, price=None, quantity=None):
        return self._update(symbol, _modify, (order_id, price, quantity))

    def mass_cancel(self, symbol, *, side=None, owner=None):
        return self._update(symbol, _mass_cancel, (side, owner))

    # ------------------------------------------------------------------ queries

    def best(self, symbol):
        return self._read(symbol).best()

    def depth(self, symbol, n):
        return self._read(symbol).depth(n)

    def snapshot(self, symbol):
        return self._read(symbol).snapshot()

    def order(self, symbol, order_id):
        return self._read(symbol).order(order_id)

    def orders(self, symbol):
        return self._read(symbol).orders()

    def events(self, symbol, after_seq=0):
        return self._read(symbol).events(after_seq)


def _detached(exc: BaseException) -> BaseException:
    """A copy of ``exc`` without its traceback, to record: the traceback's frames would hold
    the command, making a reference cycle only the cyclic GC frees."""
    try:
        return copy.copy(exc).with_traceback(None)
    except Exception:  # noqa: BLE001 - an exception that does not copy: record it as it is
        return exc


def _recorded(command: _Command):
    """The result another thread recorded for ``command`` (this replica restored past it)."""
    result = command.result
    if result is _Unset:
        raise RuntimeError("a checkpoint covers a command no thread recorded a result for")
    if type(result) is _Raised:
        raise result.exc
    return result
