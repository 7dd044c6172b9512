"""CommandLog: a lock-free, append-only log of Python objects, truncatable at the front.

The log orders commands: ``append(payload)`` links a new ``Entry`` after the
last one, Michael–Scott style, and returns it once linked; entries carry
``pos`` 1, 2, 3, … in link order. It is the total order a universal
construction (``ReplicatedEngine``) or a helping engine applies commands in.

Structure. Entries are linked by ids, not references: ``entry.next`` is an
``AtomicInt`` holding the id of the next entry (0: none yet), and the log
keeps an id -> entry lookup (a dict). ``tail`` (an ``AtomicInt``) names the
last entry or its predecessor; ``first`` names the oldest entry still kept.
A new log holds one sentinel entry, pos 0, payload None.

Invariants:

- the entries reachable from ``first`` through ``next`` ids are the log's
  entries in link order, with ``pos`` increasing by one per link, each linked
  once; ids are never reused (a counter hands them out);
- an entry is registered in the lookup *before* it is linked, so any id read
  from a ``next`` cell resolves — unless ``forget_before`` has since dropped
  it, which ``successor`` reports as ``Forgotten``;
- ``tail`` names the last entry or its predecessor, and never an entry older
  than ``first`` once ``forget_before`` has returned (it moves ``tail`` past
  the cut before it drops anything); both only move forward.

Operations and linearization points:

- ``append(payload) -> Entry``: the compare-exchange that links the entry
  into its predecessor's ``next`` (0 -> id). Lock-free: a failed link means
  another append linked; a lagging tail is swung forward by whoever sees it.
- ``successor(entry) -> Entry | None``: the load of ``entry.next``.
- ``last() -> Entry``: the load of ``next`` that found no successor, walking
  forward from ``tail``.
- ``first`` (property): the load of the ``first`` cell.
- ``forget_before(entry) -> int``: the compare-exchange that moves ``first``
  to ``entry``; the claimer then drops the claimed entries from the lookup.
  Concurrent calls are safe: each claims a disjoint range, and drops only
  that range (never looking up its own end entry, which the next cut may
  already be dropping).
- ``len(log)``: entries held after ``first`` (``last().pos - first.pos``);
  ``last().pos`` counts every entry ever linked.

Truncation rule (the caller's): ``forget_before(entry)`` drops the entries
older than ``entry``. A thread holding one of them can still read its
payload, and its ``next`` id, but that id may no longer resolve:
``successor`` then raises ``Forgotten``. So a caller either guarantees that
no thread is behind ``entry`` — forget before the oldest position any thread
still needs (the minimum of the per-thread positions, ``oldest(...)``) — or,
as ``ReplicatedEngine`` does, lets a thread that meets ``Forgotten`` recover
from elsewhere (a checkpoint). Entries are not referenced by each other, so
a forgotten entry is freed as soon as no thread holds it: a stalled thread
pins the one entry it holds, never the chain after it.

Memory orderings: every atomic operation here uses the default SEQ_CST.
What each needs is weaker: the link compare-exchange must release (the
entry's ``pos``, payload and lookup registration were written before it);
loads of ``next`` and ``tail`` must acquire (to see them); the id counter
could be RELAXED (only uniqueness matters) and is, being on every append.
On x86 a SEQ_CST load is a plain load and the compare-exchange a locked
instruction either way, and a call without an order argument is the cheaper
call on 3.13t, so the stronger default costs nothing.

Where CPython still serialises: the lookup dict's per-object lock on 3.13t,
taken by registration and by ``forget_before``'s deletions (reads take none).
The hot operations are closures made once per log over bound methods (on
3.13t every attribute or global lookup costs 15-30 ns).

>>> log = CommandLog()
>>> a = log.append("buy"); b = log.append("sell")
>>> (a.pos, b.pos), log.successor(a) is b, log.last() is b, len(log)
((1, 2), True, True, 2)
>>> log.forget_before(b), log.first is b, len(log)
(2, True, 0)
"""

from __future__ import annotations

from freeorder import atomic

__all__ = ["CommandLog", "Entry", "Forgotten", "oldest"]

_RELAXED = int(atomic.RELAXED)


class Forgotten(LookupError):
    """An id read from a ``next`` cell names an entry ``forget_before`` has dropped."""


class Entry:
    """One log entry. ``id``: unique, never reused; ``pos``: 1, 2, 3, … in link order
    (0 for the sentinel); ``payload``: the caller's object; ``next``: an ``AtomicInt``
    holding the next entry's id (0: none yet). Immutable once linked, but for ``next``."""

    __slots__ = ("id", "pos", "payload", "next")

    def __init__(self, ident: int, payload, cell):
        self.id = ident
        self.pos = 0
        self.payload = payload
        self.next = cell

    def __repr__(self) -> str:
        return f"Entry(id={self.id}, pos={self.pos}, payload={self.payload!r})"


def oldest(entries):
    """The entry with the smallest ``pos`` among ``entries`` (None ignored; None if none):
    the point a caller tracking every thread's position may ``forget_before``."""
    found = None
    for entry in entries:
        if entry is not None and (found is None or entry.pos < found.pos):
            found = entry
    return found


class CommandLog:
    """Lock-free append-only log with front truncation (see the module docstring).

    Attributes: ``append``, ``successor``, ``last`` (closures, see the module
    docstring), ``lookup(id) -> Entry | None`` (the lookup's ``get``: for hot loops
    that follow ``next`` ids themselves; None means forgotten), ``link_retries``
    (``AtomicInt``: links lost to another append).
    """

    __slots__ = ("append", "successor", "last", "lookup", "link_retries", "_entries", "_tail", "_first", "_ids",
                 "_new_cell")

    def __init__(self) -> None:
        backend = atomic.current_backend()
        self._new_cell = backend.AtomicInt
        sentinel = Entry(1, None, self._new_cell(0))
        self._entries = {1: sentinel}
        self._tail = backend.AtomicInt(1)
        self._first = backend.AtomicInt(1)
        self._ids = backend.AtomicInt(2)
        self.link_retries = backend.AtomicInt(0)
        self.lookup = self._entries.get
        self.append, self.successor, self.last = _ops(self)

    @property
    def first(self) -> Entry:
        """The oldest entry still kept. Linearization point: the load of the ``first`` cell."""
        get, first_load = self.lookup, self._first.load
        while True:
            entry = get(first_load())
            if entry is not None:    # else dropped by a forget_before since the load: reload
                return entry

    def __len__(self) -> int:
        """Entries held after ``first`` (a lower bound while appends are in flight)."""
        first = self.first
        return max(0, self.last().pos - first.pos)

    def forget_before(self, entry: Entry) -> int:
        """Drop the entries older than ``entry`` from the lookup; ``entry`` becomes ``first``.

        Returns how many entries this call dropped (0 if ``entry`` is not newer than
        ``first``). ``entry`` must be an entry of this log returned by ``append``,
        ``successor``, ``last`` or ``first``. Caller's rule: see the module docstring.
        Linearization point: the compare-exchange moving ``first`` to ``entry``.
        """
        get, entries, target = self.lookup, self._entries, entry.pos
        if get(entry.id) is not entry:
            if entry.pos <= self.first.pos:
                return 0             # already forgotten, by someone else's cut
            raise ValueError(f"entry={entry!r}: not an entry of this log")
        tail_load, tail_cas = self._tail.load, self._tail.compare_exchange
        while True:                  # 1. move tail to entry or later, so it never names a dropped entry
            tail_id = tail_load()
            tail = get(tail_id)
            if tail is None:
                continue             # dropped by a concurrent cut: tail has moved past it
            if tail.pos >= target:
                break
            tail_cas(tail_id, tail.next.load())   # tail precedes a linked entry: it has a successor
        first_load, first_cas = self._first.load, self._first.compare_exchange
        while True:                  # 2. claim [first, entry)
            first_id = first_load()
            old = get(first_id)
            if old is None:
                continue
            if old.pos >= target:
                return 0
            if first_cas(first_id, entry.id) == first_id:
                break
        # 3. drop the claimed range [old, entry): nobody else deletes these ids. ``entry`` itself
        # is never looked up: a later cut may claim (and drop) it as soon as ``first`` names it.
        dropped, stop = 0, entry.id
        while True:
            after = old.next.load()
            del entries[old.id]
            dropped += 1
            if after == stop:
                return dropped
            old = entries[after]

    def held(self) -> int:
        """Entries in the lookup (``first`` and those after it, plus any being appended)."""
        return len(self._entries)

    def to_list(self) -> list:
        """Payloads after ``first``, in order. Quiescent use only (tests, audits)."""
        out, entry = [], self.first
        while (entry := self.successor(entry)) is not None:
            out.append(entry.payload)
        return out


def _ops(log: CommandLog):
    """append, successor and last as closures over the log's cells and lookup."""
    entries = log._entries
    get = entries.get
    new_cell, new_entry = log._new_cell, Entry
    tail_load, tail_cas = log._tail.load, log._tail.compare_exchange
    next_id, retried = log._ids.fetch_add, log.link_retries.fetch_add
    relaxed = _RELAXED + 0

    def append(payload) -> Entry:
        """Link a new entry holding ``payload`` at the end and return it.

        Linearization point: the successful compare-exchange of the predecessor's ``next``."""
        entry = new_entry(next_id(1, relaxed), payload, new_cell(0))
        ident = entry.id
        entries[ident] = entry       # registered before it is linked: any id read from a next resolves
        while True:
            tail_id = tail_load()
            last = get(tail_id)
            if last is None:
                continue             # forgotten since the load: forget_before moved tail on first
            cell = last.next
            after = cell.load()
            if after:
                tail_cas(tail_id, after)             # help a lagging tail
                continue
            entry.pos = last.pos + 1                 # published by the compare-exchange below
            if cell.compare_exchange(0, ident) == 0:
                tail_cas(tail_id, ident)             # swing; others help if we stop here
                return entry
            retried(1, relaxed)

    def successor(entry: Entry) -> Entry | None:
        """The entry linked after ``entry``, or None. Raises ``Forgotten`` if it was dropped.

        Linearization point: the load of ``entry.next``."""
        after = entry.next.load()
        if not after:
            return None
        found = get(after)
        if found is None:
            raise Forgotten(f"entry id={after} after pos={entry.pos} was dropped by forget_before")
        return found

    def last() -> Entry:
        """The last linked entry. Linearization point: the load of ``next`` that found none."""
        while True:
            entry = get(tail_load())
            if entry is None:
                continue             # forgotten since the load: tail has moved on
            while after := entry.next.load():
                found = get(after)
                if found is None:    # a cut overtook the walk: restart from the tail
                    break
                entry = found
            else:
                return entry

    return append, successor, last
