"""The lock-free engine: one shared book per symbol, commands applied in idempotent steps anyone can finish.

``ReferenceEngine``'s contract (order ids and sequence numbers gap-free per
symbol, every result the reference's for one order of the commands) totally
orders each symbol's commands, so within a symbol only readers can run in
parallel, and across symbols everything can. Here nobody ever waits for
anybody: a thread stalled anywhere in a command is overtaken, and the others
finish its command for it.

Per symbol (:class:`~freeorder.engines.shared_book.SharedBook`): the book's
state in lock-free structures -- price levels in a ``SkipListMap`` per side,
each level's FIFO of order ids and total behind one versioned cell, orders in
an ``OrderIndex`` -- one epoch reclaimer for all of them, and a
:class:`~freeorder.lockfree.command_log.CommandLog` of commands.

**Update** (submit, cancel, modify, mass cancel): append the command to the
log -- the compare-exchange that links it is its **linearization point** --
then complete every command up to and including it, oldest first (another
thread's command after a short bounded wait for that thread, ``PATIENCE``). Completing
command ``k`` (:meth:`LockFreeEngine._complete`):

1. *plan*: once command ``k - 1`` is complete, the state cannot change until
   ``k``'s plan is installed, so any thread can compute that plan: the
   command's result and the fresh records and compare-exchanges that make its
   change (:mod:`freeorder.engines.planner`). The first plan installed by the
   compare-exchange of the command's ``chosen`` cell is *the* plan; others
   are dropped unused.
2. *announce*: ``applying`` moves from ``k - 1`` to ``k`` (readers see that a
   change is under way).
3. *apply*: every step of the plan, each idempotent (a compare-exchange from
   a stamp never reused, see ``shared_book``): helpers may run them in any
   interleaving, any number of times, late or not.
4. *complete*: the compare-exchange of the header from ``k - 1``'s record to
   ``k``'s. Its winner retires the replaced records.

A thread stalled between any two of these steps holds nothing others need:
the next thread to arrive performs the rest itself.

**Read** (best, depth, snapshot, order, orders, events): seqlock style, load
``applying`` and the header; if they disagree a command is half-applied: wait
``PATIENCE`` header loads for it, then help it complete; read the state; load them again: unchanged means the
read saw exactly the state after the header's command, its **linearization
point** being the first header load. Readers never block writers and write
nothing unless they find a command to help.

Errors: malformed input is refused before the command enters the log (as the
reference does, naming field and value, nothing changed); refusals that
depend on the state (an unknown order id, a duplicate live client id) are
decided by the plan and raised by the caller, the command changing nothing.

GC policy: none of its own; a long run keeps every order's record (as the
reference keeps every order), so long runs on 3.13t should raise the GC
thresholds or disable it (the benchmarks state theirs).
"""

from __future__ import annotations

from freeorder import atomic

from ..book.errors import DuplicateClientId, DuplicateInstrument, InvalidOrder, InvalidOrderType, UnknownOrder
from ..book.instrument import Instrument
from ..book.orders import Order, OrderType, SelfTradePrevention, Side, TimeInForce
from ..book.results import BookSnapshot, Depth, LevelInfo, LevelOrders, Quote, RestingOrder
from ..lockfree.command_log import CommandLog, Forgotten
from .api import check_events_query, lookup_symbol
from .planner import Planner
from .shared_book import SharedBook, StateMoved

__all__ = ["LockFreeEngine"]

_LIMIT = OrderType.LIMIT
_MARKET = OrderType.MARKET
_GTC = TimeInForce.GTC
_IOC = TimeInForce.IOC
_STP_NONE = SelfTradePrevention.NONE
_INT64_MAX = 9223372036854775807
TRUNCATE_EVERY = 1024  # the log forgets completed commands in batches of this many
# Header loads a thread makes, when the next command to complete is another thread's, before it
# helps: a running owner completes its command meanwhile, and nobody plans and applies it twice
# (helping a thread that is not stalled costs both); a stalled owner is helped after this bounded
# wait, so nobody waits for anybody longer than that. (Yielding the CPU while waiting was tried:
# on a machine busy with other processes a yield gives the time slice away, 3x slower at 2 threads.)
PATIENCE = 1024


def _waited_for(header, stamp: int) -> bool:
    """Whether ``header`` moved from ``stamp`` within ``PATIENCE`` loads (bounded: lock-free)."""
    load = header.load
    for _ in range(PATIENCE):
        if load() != stamp:
            return True
    return False


class _Command:
    """A log entry's payload: the book method and its validated arguments, and the chosen plan.

    ``chosen`` holds the ``header`` stamp of the installed plan (0: none yet);
    ``plans`` maps each proposed plan's stamp to it (written before the
    compare-exchange that may choose it, so the chosen one is always found),
    until the command completes: then the completer drops them (``None``),
    which also breaks the cycle entry -> command -> plan -> header record ->
    entry, so a finished command is freed by reference counting alone, GC or
    not. ``result``/``error`` are the chosen plan's, copied by every helper
    before its completing compare-exchange (the same values each time).
    """

    __slots__ = ("method", "args", "chosen", "plans", "result", "error")

    def __init__(self, method: str, args: tuple) -> None:
        self.method = method
        self.args = args
        self.chosen = atomic.AtomicInt(0)
        self.plans: dict | None = {}
        self.result = None
        self.error = None


def _check_enum(name: str, value: object, enum_type: type) -> None:
    if type(value) is not enum_type:
        raise InvalidOrderType(name, value, f"expected a {enum_type.__name__} member")


class LockFreeEngine:
    """Multi-symbol engine with the reference engine's API and results, lock-free (see module docstring)."""

    def __init__(self, instruments=(), *, record_events: bool = True, reclaimer_factory=None) -> None:
        """``reclaimer_factory()``, if given, makes each book's reclaimer (default: an EpochCollector)."""
        self._books: dict[str, SharedBook] = {}
        self._record_events = record_events
        self._reclaimer_factory = reclaimer_factory
        # tests and the freeze test: on_step(name, entry) is called at each named step
        # ("linked", "planned", "announced", "applied") of a command's completion
        self.on_step = None
        for instrument in instruments:
            self.add_instrument(instrument)

    # ------------------------------------------------------------------ instruments

    def add_instrument(self, instrument: Instrument) -> None:
        if not isinstance(instrument, Instrument):
            raise InvalidOrderType("instrument", instrument, "expected an Instrument")
        factory = self._reclaimer_factory
        book = SharedBook(instrument, CommandLog(), self._record_events, None if factory is None else factory())
        if self._books.setdefault(instrument.symbol, book) is not book:
            raise DuplicateInstrument(f"symbol={instrument.symbol!r}: already registered")

    def instrument(self, symbol: str) -> Instrument:
        return lookup_symbol(self._books, symbol).instrument

    def symbols(self) -> tuple[str, ...]:
        return tuple(self._books)

    def log_length(self, symbol: str) -> int:
        """How many commands the symbol's log still holds (completed ones are forgotten in batches)."""
        return len(lookup_symbol(self._books, symbol).log)

    # ------------------------------------------------------------------ the helping protocol

    def _update(self, book: SharedBook, method: str, args: tuple):
        entry = book.log.append(_Command(method, args))
        if self.on_step is not None:
            self.on_step("linked", entry)
        guard = book.reclaimer.pin()
        try:
            self._complete_through(book, entry, guard)
        finally:
            guard.unpin()
        command = entry.payload
        if command.error is not None:
            raise command.error
        return command.result

    def _complete_through(self, book: SharedBook, target, guard) -> None:
        """Complete every command of ``book`` up to and including log entry ``target``."""
        records, header = book.records, book.header
        successor = book.log.successor
        while True:
            stamp = header.load()
            head = records.get(stamp)
            if head is None:
                continue  # replaced and reclaimed since the load: reload
            if head[0] >= target.pos:
                return
            try:
                entry = successor(head[3])
            except Forgotten:
                continue  # the header moved on and the log was cut: reload
            if entry is not target and _waited_for(header, stamp):
                continue  # its own thread completed it meanwhile
            self._complete(book, entry, stamp, head, guard)

    def _complete(self, book: SharedBook, entry, head_stamp: int, head: tuple, guard) -> None:
        """Complete command ``entry``, the one after header ``head`` (see the module docstring)."""
        command = entry.payload
        step = self.on_step
        plans = command.plans
        if plans is None:
            return  # completed (and cleaned up) since the header load
        token = command.chosen.load()
        if not token:
            try:
                plan = Planner(book, head, entry).plan(command.method, command.args)
            except (StateMoved, KeyError, AttributeError, IndexError, ValueError, TypeError):
                if command.chosen.load() or book.header.load() != head_stamp:
                    return  # read a state another thread was already changing: its plan stands
                raise
            plans[plan.header] = plan
            if step is not None:
                step("planned", entry)
            token = command.chosen.compare_exchange(0, plan.header) or plan.header
        plan = plans[token]
        book.applying.compare_exchange(entry.pos - 1, entry.pos)
        if step is not None:
            step("announced", entry)
        book.apply(plan)
        if step is not None:
            step("applied", entry)
        command.result, command.error = plan.result, plan.error
        if book.header.compare_exchange(head_stamp, plan.header) == head_stamp:
            command.plans = None
            plan.retired.append(head_stamp)
            book.retire(guard, plan.retired)
            if entry.pos % TRUNCATE_EVERY == 0:
                book.log.forget_before(entry)

    def _read(self, book: SharedBook, read):
        """``read(book, head)`` on a state no command is changing (see the module docstring)."""
        records, header, applying = book.records, book.header, book.applying
        guard = book.reclaimer.pin()
        try:
            while True:
                stamp = header.load()
                head = records.get(stamp)
                if head is None:
                    continue
                if applying.load() != head[0]:
                    # a command is half-applied: give its writer a moment, then finish it ourselves
                    if not _waited_for(header, stamp):
                        try:
                            entry = book.log.successor(head[3])
                        except Forgotten:
                            continue
                        if entry is not None:
                            self._complete(book, entry, stamp, head, guard)
                    continue
                try:
                    value = read(book, head)
                except (StateMoved, KeyError, AttributeError, TypeError):
                    continue  # a record replaced under us: the state moved on
                if header.load() == stamp and applying.load() == head[0]:
                    return value
        finally:
            guard.unpin()

    # ------------------------------------------------------------------ commands

    def submit(self, symbol, side, quantity, price=None, *, order_type=_LIMIT, time_in_force=None,
               post_only=False, owner="", client_id=None, stp=_STP_NONE):
        book = lookup_symbol(self._books, symbol)
        instrument = book.instrument
        if side is not Side.BUY and side is not Side.SELL:
            _check_enum("side", side, Side)
        int_units = book.int_units
        if order_type is _LIMIT:
            if type(price) is int and 0 < price <= _INT64_MAX and int_units:
                px = price  # already in units and on the grid (as the reference's fast path)
            elif price is None:
                raise InvalidOrder("price", None, "a limit order needs a price")
            else:
                px = instrument.parse_price(price)
        elif order_type is _MARKET:
            if price is not None:
                raise InvalidOrder("price", price, "a market order takes no price")
            px = None
        else:
            _check_enum("order_type", order_type, OrderType)
        if type(quantity) is int and 0 < quantity <= _INT64_MAX and int_units:
            qty = quantity
        else:
            qty = instrument.parse_quantity(quantity)
        if time_in_force is None:
            tif = _GTC if px is not None else _IOC
        else:
            _check_enum("time_in_force", time_in_force, TimeInForce)
            tif = time_in_force
            if px is None and tif is _GTC:
                raise InvalidOrder("time_in_force", tif, "a market order cannot rest: use IOC or FOK")
        if post_only is not False:
            if post_only is not True:
                raise InvalidOrderType("post_only", post_only, "expected a bool")
            if px is None or tif is not _GTC:
                raise InvalidOrder("post_only", post_only, "post-only needs a GTC limit order")
        if type(owner) is not str:
            raise InvalidOrderType("owner", owner, "expected a str")
        if client_id is not None and type(client_id) is not str:
            raise InvalidOrderType("client_id", client_id, "expected a str or None")
        if stp is not _STP_NONE and type(stp) is not SelfTradePrevention:
            # the reference checks a duplicate client id first: answer that, if it applies, as a read
            if client_id is not None and self._read(book, lambda b, h: _client_taken(b, h, owner, client_id)):
                raise DuplicateClientId("client_id", client_id, f"owner {owner!r} has a live order with it")
            _check_enum("stp", stp, SelfTradePrevention)
        return self._update(book, "submit", (side, qty, px, order_type, tif, post_only, owner, client_id, stp))

    def cancel(self, symbol, order_id):
        book = lookup_symbol(self._books, symbol)
        if type(order_id) is not int:
            raise InvalidOrderType("order_id", order_id, "expected an int")
        self._check_issued(book, order_id)
        return self._update(book, "cancel", (order_id,))

    def modify(self, symbol, order_id, *, price=None, quantity=None):
        book = lookup_symbol(self._books, symbol)
        if type(order_id) is not int:
            raise InvalidOrderType("order_id", order_id, "expected an int")
        self._check_issued(book, order_id)
        if price is None and quantity is None:
            raise InvalidOrder("quantity", None, "modify needs a new price or quantity")
        instrument = book.instrument
        new_px = None if price is None else instrument.parse_price(price)
        new_qty = None if quantity is None else instrument.parse_quantity(quantity)
        return self._update(book, "modify", (order_id, new_px, new_qty))

    def mass_cancel(self, symbol, *, side=None, owner=None):
        book = lookup_symbol(self._books, symbol)
        if side is not None:
            _check_enum("side", side, Side)
        if owner is not None and type(owner) is not str:
            raise InvalidOrderType("owner", owner, "expected a str or None")
        return self._update(book, "mass_cancel", (side, owner))

    def _check_issued(self, book: SharedBook, order_id: int) -> None:
        """UnknownOrder unless ``order_id`` was issued: a read, linearized at its header load (ids
        once issued stay issued, so a known id needs no further check)."""
        if not 0 < order_id <= book.head()[2]:
            raise UnknownOrder("order_id", order_id, f"no such order on {book.symbol}")

    # ------------------------------------------------------------------ queries

    def best(self, symbol):
        return self._read(lookup_symbol(self._books, symbol), _best)

    def depth(self, symbol, n):
        if type(n) is not int:
            raise InvalidOrderType("n", n, "expected an int")
        if n < 0:
            raise InvalidOrder("n", n, "must be >= 0")
        return self._read(lookup_symbol(self._books, symbol), lambda book, head: _depth(book, head, n))

    def snapshot(self, symbol):
        return self._read(lookup_symbol(self._books, symbol), _snapshot)

    def order(self, symbol, order_id):
        book = lookup_symbol(self._books, symbol)
        if type(order_id) is not int:
            raise InvalidOrderType("order_id", order_id, "expected an int")
        self._check_issued(book, order_id)
        return Order.info(self._read(book, lambda b, h: b.order_record(order_id)), book.symbol)

    def orders(self, symbol):
        book = lookup_symbol(self._books, symbol)
        symbol = book.symbol
        return tuple(Order.info(record, symbol) for record in self._read(book, _order_records))

    def events(self, symbol, after_seq=0):
        book = lookup_symbol(self._books, symbol)
        check_events_query(book.events is not None, after_seq)
        events = book.events
        return self._read(book, lambda b, head: tuple(events[s] for s in range(after_seq + 1, head[1] + 1)))


# ---------------------------------------------------------------------- reads of one consistent state

def _client_taken(book: SharedBook, head: tuple, owner: str, client_id: str) -> bool:
    cell = book.clients.get((owner, client_id))
    holder = 0 if cell is None else cell.load()
    return bool(holder) and book.order_record(holder)[3].is_live


def _level_qty(book: SharedBook, buy: bool, price: int | None) -> int:
    return 0 if price is None else book.level_record(book.level_at(buy, price))[0]


def _best(book: SharedBook, head: tuple) -> Quote:
    bid, ask = head[4], head[5]
    return Quote(bid, _level_qty(book, True, bid), ask, _level_qty(book, False, ask))


def _depth(book: SharedBook, head: tuple, n: int) -> Depth:
    sides = []
    for buy in (True, False):
        levels = []
        if n:
            for price, _level, (qty, fifo) in book.live_levels(buy):
                levels.append(LevelInfo(price, qty, len(fifo)))
                if len(levels) == n:
                    break
        sides.append(tuple(levels))
    return Depth(*sides)


def _snapshot(book: SharedBook, head: tuple) -> BookSnapshot:
    sides = []
    for buy in (True, False):
        levels = []
        for price, _level, (qty, fifo) in book.live_levels(buy):
            orders = []
            for cell in fifo:
                record = book.record(cell)
                orders.append(RestingOrder(record[0], record[7], record[1], record[4]))
            levels.append(LevelOrders(price, qty, len(fifo), tuple(orders)))
        sides.append(tuple(levels))
    return BookSnapshot(book.symbol, head[1], head[2], sides[0], sides[1])


def _order_records(book: SharedBook, head: tuple) -> list:
    return [book.order_record(order_id) for order_id in range(1, head[2] + 1)]
