"""Small model-checking harnesses of the product's structures, for ``memory="c11"``.

Each harness is a body for ``verify.model``: two or three model threads use one
structure a few times and the body checks what they saw (nothing lost, doubled,
torn or reordered). Under ``memory="c11"`` a too-weak ordering shows as a failed
check, a data race on an arena payload, or a sanitizer error. ``HARNESSES`` maps a
name to (body factory, bounds); the bounds are the ones every check here uses.
"""

from __future__ import annotations

from freeorder import atomic, verify
from freeorder.lockfree import Arena, CommandLog, MSQueue, OrderIndex, SeqLock, SkipListMap, TreiberStack
from freeorder.lockfree import command_log as command_log_module
from freeorder.lockfree import skiplist as skiplist_module
from freeorder.lockfree.arena import next_incarnation, ref_index
from freeorder.lockfree.command_log import Entry
from freeorder.reclaim import make_reclaimer

CAPACITY = dict(max_capacity=64, initial_capacity=8)  # fresh slots never run out: no stealing


def reclaimer(name: str):
    """A reclaimer with tiny thresholds, so slots are freed (and reused) inside an execution."""
    if name == "none":
        return None
    options = {"epoch": {"bag_size": 1, "advance_every": 1}, "hazard": {"min_scan": 1}}[name]
    return make_reclaimer(name, max_threads=4, **options)


def spawn(fn, *args):
    return verify.spawn(fn, *args)


def treiber(rec_name: str):
    """[1, 2] on the stack; one thread pops; another pops and pushes 3 (reusing the slot it freed)."""

    def body():
        rec = reclaimer(rec_name)
        s = TreiberStack(reclaimer=rec, **CAPACITY)
        s.push(1)
        s.push(2)
        a = spawn(lambda: [s.pop(None)])
        b = spawn(lambda: [s.pop(None), s.push(3)][:1])
        got = a.join() + b.join()
        rest = s.to_list()
        assert None not in got, f"a pop found the stack empty: {got}, left {rest}"
        assert sorted(got + rest) == [1, 2, 3], f"popped {got}, left {rest}"

    return body


def msqueue(rec_name: str):
    """[1] queued; one thread enqueues 2 and 3; another dequeues twice: FIFO, nothing lost."""

    def body():
        rec = reclaimer(rec_name)
        q = MSQueue(reclaimer=rec, **CAPACITY)
        q.enqueue(1)
        producer = spawn(lambda: (q.enqueue(2), q.enqueue(3)))
        consumer = spawn(lambda: [q.dequeue(None), q.dequeue(None)])
        taken = consumer.join()
        producer.join()
        rest = q.to_list()
        got = [x for x in taken if x is not None]
        assert got[:1] == [1] and got + rest == [1, 2, 3], f"dequeued {taken}, left {rest}"

    return body


def seqlock_reader():
    """A writer writes (1, 1) then (2, 2); a reader reads once: never a torn or mixed copy."""

    def body():
        s = SeqLock(2, [0, 0])
        writer = spawn(lambda: (s.write([1, 1]), s.write([2, 2])))
        reader = spawn(s.read)
        seen = reader.join()
        writer.join()
        assert seen in ((0, 0), (1, 1), (2, 2)), f"torn read {seen}"

    return body


def seqlock_writers():
    """Two updates increment both fields: neither is lost, and a reader sees (n, n)."""

    def body():
        s = SeqLock(2, [0, 0])
        writers = [spawn(lambda: s.update(lambda v: (v[0] + 1, v[1] + 1))) for _ in range(2)]
        for w in writers:
            w.join()
        assert s.read() == (2, 2), f"an update was lost: {s.read()}"

    return body


def arena_free_list():
    """Thread A frees two slots and spills them onto the shared free chain; thread B takes
    them off the chain and reuses them: each slot is handed out once, and B's payload writes
    are ordered after A's (the chain's compare-exchanges publish the slots)."""

    def body():
        arena = Arena(fields=("next",), **CAPACITY)

        def give():
            slots = arena.local()
            refs = [slots.alloc(f"a{i}") for i in range(2)]
            for ref in refs:
                slots._payload[ref_index(ref)] = None         # as ThreadSlots.free does
            arena.spill([0, 0] + [next_incarnation(ref) for ref in refs])  # spill moves the top half
            return refs

        def take():
            cache: list = []
            if arena._take_chain(cache):
                slots = arena.local()
                for ref in cache:
                    slots._payload[ref_index(ref)] = "b"      # as ThreadSlots.alloc does
            return cache

        a, b = spawn(give), spawn(take)
        given, taken = a.join(), b.join()
        assert sorted(taken) in ([], sorted(next_incarnation(r) for r in given)), (given, taken)

    return body


def node_in_cell(rec):
    """A cell holding a node whose payload is "first", and two operations on it: ``read`` (pin,
    protect the cell, read the payload, unpin) and ``replace`` (pin, swap in a node holding
    "second", retire the old one, unpin)."""
    arena = Arena(fields=(), reclaimer=rec, **CAPACITY)
    cell = atomic.AtomicIntArray(1)
    first, second = arena.alloc("first"), arena.alloc("second")
    cell.store(0, first)

    def read():
        g = rec.pin()
        try:
            return arena.payload[ref_index(g.protect(0, cell, 0))]
        finally:
            g.unpin()

    def replace():
        g = rec.pin()
        try:
            old = cell.swap(0, second)
            g.retire(arena.free, old, old)
        finally:
            g.unpin()

    return read, replace


def check_read(seen) -> None:
    assert seen in ("first", "second"), f"the reader saw a reclaimed payload: {seen!r}"


def reclaim(rec_name: str):
    """The reclaimer protocol alone: a reader protects the node in a cell and reads its payload; a
    writer replaces the node, retires the old one and reclaims what it can (the free clears the
    payload). The reader must never see a freed payload (a race, or the cleared value)."""

    def body():
        rec = reclaimer(rec_name)
        read, replace = node_in_cell(rec)
        r, w = spawn(read), spawn(lambda: (replace(), rec.flush()))
        seen = r.join()
        w.join()
        check_read(seen)

    return body


def epoch_label():
    """Epochs with a third thread advancing: the writer pins, another thread advances the epoch, a
    reader pins in the new epoch and reads the node the writer then retires. The writer's bag must
    be labelled with the new epoch, or its own next advance frees the node under the reader."""

    def body():
        rec = make_reclaimer("epoch", max_threads=3, bag_size=1, advance_every=1 << 30)
        read, replace = node_in_cell(rec)  # bag_size=1: the retire seals the bag
        w = spawn(lambda: (replace(), rec.try_advance(), rec.local()._collect()))
        a, r = spawn(rec.try_advance), spawn(read)
        w.join()
        a.join()
        check_read(r.join())

    return body


def order_index(rec_name: str):
    """One bucket: a thread inserts 2; another removes 1 and reads 2: each sees a state that was."""

    def body():
        rec = reclaimer(rec_name)
        index = OrderIndex(buckets=1, reclaimer=rec, **CAPACITY)
        index.insert(1, "one")
        a = spawn(lambda: index.insert(2, "two"))
        b = spawn(lambda: (index.pop(1, None), index.get(2)))
        inserted = a.join()
        popped, got = b.join()
        assert inserted and popped == "one", (inserted, popped)
        assert got in (None, "two"), f"get(2) returned {got!r}"
        assert sorted(index.items()) == [(2, "two")]
        index.audit()

    return body


TALL, SHORT = 0, 1  # skiplist._getrandbits results that give height 2 and height 1 with max_height=2


def skiplist(rec_name: str):
    """{1: 'a' (two levels), 3: 'c' (one)}: one thread inserts 2 (two levels, after 1 at both) and
    replaces 3's value; another removes 1 (2's predecessor at both levels) and gets 2 and 3.
    Each read is a value that was there, and the final map is {2: 'b', 3: 'C'}."""

    def body():
        heights = [TALL, SHORT, TALL]  # 1, 3, then 2: tower heights in insertion order
        saved = skiplist_module._getrandbits
        skiplist_module._getrandbits = lambda bits: heights.pop(0) if heights else SHORT
        try:
            rec = reclaimer(rec_name)
            m = SkipListMap(reclaimer=rec, max_height=2, sanitize=False, **CAPACITY)
            m.insert(1, "a")
            m.insert(3, "c")
            a = spawn(lambda: (m.insert(2, "b"), m.insert(3, "C")))
            b = spawn(lambda: (m.pop(1, None), m.get(2), m.get(3)))
            new2, new3 = a.join()
            popped, got2, got3 = b.join()
        finally:
            skiplist_module._getrandbits = saved
        assert new2 and not new3 and popped == "a", (new2, new3, popped)
        assert got2 in (None, "b") and got3 in ("c", "C"), f"get(2) {got2!r}, get(3) {got3!r}"
        assert list(m.items()) == [(2, "b"), (3, "C")], list(m.items())
        m.audit()

    return body


class VisibleLookup(dict):
    """CommandLog's id -> entry dict with a scheduling point at each access (a RELAXED operation
    on one model cell, so it orders nothing), so the model explores a lookup racing a deletion."""

    def __init__(self, entries):
        super().__init__(entries)
        self.cell = atomic.AtomicInt(0)

    def get(self, key, default=None):
        self.cell.load(atomic.RELAXED)
        return super().get(key, default)

    def __getitem__(self, key):
        self.cell.load(atomic.RELAXED)
        return super().__getitem__(key)

    def __setitem__(self, key, value):
        self.cell.fetch_add(1, atomic.RELAXED)
        super().__setitem__(key, value)

    def __delitem__(self, key):
        self.cell.fetch_add(1, atomic.RELAXED)
        super().__delitem__(key)


class VisibleEntry(Entry):
    """An Entry whose ``pos`` and ``payload`` are non-atomic locations of the model (as arena
    payloads are): a thread that reads one without being ordered after its write (the link
    compare-exchange publishes them) sees a data race."""

    __slots__ = ("_fields",)

    def __init__(self, ident: int, payload, cell):
        self._fields = atomic.current_backend().NonAtomicList([0, None])
        super().__init__(ident, payload, cell)

    pos = property(lambda self: self._fields[0], lambda self, value: self._fields.__setitem__(0, value))
    payload = property(lambda self: self._fields[1], lambda self, value: self._fields.__setitem__(1, value))


def visible_log() -> CommandLog:
    """A CommandLog whose lookup and appended entries the model sees (VisibleLookup, VisibleEntry)."""
    log = CommandLog()
    log._entries = VisibleLookup(log._entries)
    log.lookup = log._entries.get
    saved, command_log_module.Entry = command_log_module.Entry, VisibleEntry  # what _ops's append makes
    try:
        log.append, log.successor, log.last = command_log_module._ops(log)
    finally:
        command_log_module.Entry = saved
    return log


def linked_entries(log: CommandLog) -> list:
    """(pos, payload) of each entry after ``first``, following the links."""
    out, entry = [], log.first
    while (entry := log.successor(entry)) is not None:
        out.append((entry.pos, entry.payload))
    return out


def command_log():
    """Two appenders ("a", "b") and a reader following next ids from first: positions 1, 2 in
    link order, each entry linked once, and the reader sees a prefix of the final log."""

    def body():
        log = visible_log()
        appenders = [spawn(log.append, name) for name in ("a", "b")]
        reader = spawn(linked_entries, log)
        linked = [h.join() for h in appenders]
        seen = reader.join()
        final = linked_entries(log)
        assert sorted(e.payload for e in linked) == ["a", "b"], linked
        assert final == sorted((e.pos, e.payload) for e in linked), f"lost or doubled: {final}"
        assert [p for p, _ in final] == [1, 2], final
        assert seen == final[:len(seen)], f"reader saw {seen}, not a prefix of {final}"
        assert log.last().pos == 2

    return body


def command_log_cut():
    """"a" appended; one thread appends "b" and then reads a's successor; another cuts the log at
    "a" (moving the tail past the cut first): "b" is linked once at pos 2 and found after "a", and
    the cut drops the sentinel only."""

    def body():
        log = visible_log()
        a = log.append("a")
        appender = spawn(lambda: (log.append("b"), log.successor(a)))
        cutter = spawn(log.forget_before, a)
        b, after = appender.join()
        assert cutter.join() == 1
        assert after is b and b.pos == 2, (b, after)
        assert log.first is a and log.to_list() == ["b"] and log.last() is b and log.held() == 2

    return body


# name -> (body factory, model() arguments). The reclaim harnesses read payloads only while
# protected, so they also check writes after unordered reads (strict_races).
HARNESSES = {
    "treiber/none": (lambda: treiber("none"), dict(max_preemptions=2, max_stale=1)),
    "treiber/epoch": (lambda: treiber("epoch"), dict(max_preemptions=1, max_stale=1)),
    "treiber/hazard": (lambda: treiber("hazard"), dict(max_preemptions=1, max_stale=1)),
    "msqueue/none": (lambda: msqueue("none"), dict(max_preemptions=2, max_stale=1)),
    "msqueue/epoch": (lambda: msqueue("epoch"), dict(max_preemptions=1, max_stale=1)),
    "msqueue/hazard": (lambda: msqueue("hazard"), dict(max_preemptions=1, max_stale=1)),
    "seqlock/reader": (seqlock_reader, dict(max_preemptions=2, max_stale=1)),
    "seqlock/writers": (seqlock_writers, dict(max_preemptions=2, max_stale=1)),
    "arena/free-list": (arena_free_list, dict(max_preemptions=2, max_stale=1)),
    "reclaim/epoch": (lambda: reclaim("epoch"), dict(max_preemptions=1, max_stale=2, strict_races=True)),
    "reclaim/hazard": (lambda: reclaim("hazard"), dict(max_preemptions=1, max_stale=2, strict_races=True)),
    "reclaim/epoch-label": (epoch_label, dict(max_preemptions=1, max_stale=2, strict_races=True)),
    "order_index/epoch": (lambda: order_index("epoch"), dict(max_preemptions=1, max_stale=1)),
    "order_index/hazard": (lambda: order_index("hazard"), dict(max_preemptions=1, max_stale=1)),
    "skiplist/epoch": (lambda: skiplist("epoch"), dict(max_preemptions=1, max_stale=1)),
    "skiplist/hazard": (lambda: skiplist("hazard"), dict(max_preemptions=1, max_stale=1)),
    "command_log": (command_log, dict(max_preemptions=1, max_stale=1)),
    "command_log/cut": (command_log_cut, dict(max_preemptions=2, max_stale=1)),
}


def check(name: str, **overrides):
    """Run harness ``name`` under memory="c11" at its bounds (``overrides`` replace model() arguments)."""
    make, kwargs = HARNESSES[name]
    kwargs = dict(kwargs, memory="c11")
    kwargs.update(overrides)
    return verify.model(make(), **kwargs)
