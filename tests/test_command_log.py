"""CommandLog: sequential spec, real threads (nothing lost, pos order), front truncation,
and the model checker over two appenders and a reader (and a broken link it must catch)."""

import doctest
import threading

import pytest

from freeorder import atomic, verify
from freeorder.lockfree import CommandLog, Forgotten
from freeorder.lockfree import command_log as command_log_module
from freeorder.lockfree.command_log import Entry, oldest
from threadutil import run_threads


def chain(log):
    """Entries after ``first``, following ``next`` ids."""
    out, entry = [], log.first
    while (entry := log.successor(entry)) is not None:
        out.append(entry)
    return out


def test_doctests():
    assert doctest.testmod(command_log_module).failed == 0


def test_sequential_spec():
    log = CommandLog()
    sentinel = log.first
    assert sentinel.pos == 0 and sentinel.payload is None and sentinel.next.load() == 0
    assert log.last() is sentinel and log.successor(sentinel) is None and len(log) == 0
    appended = [log.append(("cmd", i)) for i in range(10)]
    assert [e.pos for e in appended] == list(range(1, 11))
    assert len({e.id for e in appended} | {sentinel.id}) == 11
    assert chain(log) == appended
    assert log.last() is appended[-1] and len(log) == 10
    assert log.to_list() == [("cmd", i) for i in range(10)]
    assert log.successor(appended[3]) is appended[4] and log.successor(appended[-1]) is None
    assert log.lookup(appended[5].id) is appended[5]
    assert log.link_retries.load() == 0


def test_forget_before_truncates_the_front():
    log = CommandLog()
    entries = [log.append(i) for i in range(8)]
    assert log.forget_before(entries[3]) == 4          # the sentinel and pos 1..3
    assert log.first is entries[3] and len(log) == 4 and log.held() == 5
    assert log.to_list() == [4, 5, 6, 7]
    assert log.forget_before(entries[2]) == 0          # older than first: nothing to do
    assert log.forget_before(entries[3]) == 0
    assert log.lookup(entries[1].id) is None
    # a holder of a forgotten entry can read it, but its successor is gone
    assert entries[1].payload == 1
    with pytest.raises(Forgotten, match="pos=2"):
        log.successor(entries[1])
    assert log.successor(entries[2]) is entries[3]     # still held: the new first
    # appends go on after a cut, also a cut at the very last entry (tail moved past the cut)
    assert log.forget_before(entries[-1]) == 4 and len(log) == 0 and log.held() == 1
    tail_entry = log.append(8)
    assert tail_entry.pos == 9 and log.last() is tail_entry and log.to_list() == [8]


def test_forget_before_rejects_a_foreign_entry_and_changes_nothing():
    log, other = CommandLog(), CommandLog()
    log.append("a")
    stranger = other.append("b")
    stranger.pos = 5
    with pytest.raises(ValueError, match="entry=Entry"):
        log.forget_before(stranger)
    assert log.to_list() == ["a"] and log.held() == 2


def test_forget_before_with_a_lagging_tail_moves_the_tail_first():
    log = CommandLog()
    a = log.append("a")
    b = Entry(log._ids.fetch_add(1), "b", log._new_cell(0))   # linked by hand, tail not swung:
    log._entries[b.id] = b                                   # an append stopped after its link
    b.pos = 2
    assert a.next.compare_exchange(0, b.id) == 0
    assert log._tail.load() == a.id
    assert log.forget_before(b) == 2
    assert log._tail.load() == b.id
    assert log.append("c").pos == 3 and log.to_list() == ["c"]


def test_oldest():
    log = CommandLog()
    a, b = log.append(1), log.append(2)
    assert oldest([b, None, a]) is a and oldest([None]) is None


THREADS = 4
PER_THREAD = 2000


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_threads_appending_lose_nothing_and_order_by_pos():
    log = CommandLog()
    mine = [[] for _ in range(THREADS)]

    def work(i):
        for k in range(PER_THREAD):
            mine[i].append(log.append((i, k)))

    run_threads(THREADS, work)
    entries = chain(log)
    assert [e.pos for e in entries] == list(range(1, THREADS * PER_THREAD + 1))
    assert sorted(e.payload for e in entries) == sorted((i, k) for i in range(THREADS) for k in range(PER_THREAD))
    for i in range(THREADS):
        # each appended entry appears once, and one thread's entries are in its program order
        assert [e.payload for e in mine[i]] == [(i, k) for k in range(PER_THREAD)]
        assert [e.pos for e in mine[i]] == sorted(e.pos for e in mine[i])
    assert log.last() is entries[-1]


@pytest.mark.thread_unsafe(reason="starts its own threads")
def test_threads_appending_while_others_truncate_and_read():
    """Appenders, a reader following ``next`` ids and a truncator cutting behind the reader:
    nothing lost, the reader sees every entry once in pos order, memory stays bounded."""
    log = CommandLog()
    done = threading.Event()
    reader_pos = [log.first]
    seen, max_held = [], [0]

    def appender(i):
        for k in range(PER_THREAD):
            log.append((i, k))

    def reader():
        entry = log.first
        while True:
            after = log.successor(entry)
            if after is None:
                if done.is_set() and log.successor(entry) is None:
                    return
                continue
            seen.append(after.payload)
            entry = reader_pos[0] = after

    def truncator():
        while not done.is_set():
            log.forget_before(reader_pos[0])   # the reader is the only thread behind the tail
            max_held[0] = max(max_held[0], log.held())

    threads = [threading.Thread(target=appender, args=(i,)) for i in range(2)]
    others = [threading.Thread(target=reader), threading.Thread(target=truncator)]
    for t in threads + others:
        t.start()
    for t in threads:
        t.join(120)
    done.set()
    for t in others:
        t.join(120)
        assert not t.is_alive()
    assert sorted(seen) == sorted((i, k) for i in range(2) for k in range(PER_THREAD))
    for i in range(2):
        assert [k for j, k in seen if j == i] == list(range(PER_THREAD))
    log.forget_before(log.last())
    assert log.held() == 1 and log.last().pos == 2 * PER_THREAD


# ---------------------------------------------------------------- model checked

class ModelledLookup(dict):
    """The log's id -> entry dict, visible to the model checker: each access is an operation
    on one model cell (a read for lookups, a write for insertions and deletions), so schedules
    that reorder a lookup and a deletion are explored rather than pruned as independent."""

    def __init__(self, entries):
        super().__init__(entries)
        self.cell = atomic.AtomicInt(0)

    def get(self, key, default=None):
        self.cell.load()
        return super().get(key, default)

    def __getitem__(self, key):
        self.cell.load()
        return super().__getitem__(key)

    def __setitem__(self, key, value):
        self.cell.fetch_add(1)
        super().__setitem__(key, value)

    def __delitem__(self, key):
        self.cell.fetch_add(1)
        super().__delitem__(key)


class ModelledLog(CommandLog):
    """CommandLog with its lookup made visible to the model checker (see ModelledLookup)."""

    __slots__ = ()

    def __init__(self):
        super().__init__()
        self._entries = ModelledLookup(self._entries)
        self.lookup = self._entries.get
        self.append, self.successor, self.last = command_log_module._ops(self)


def two_appenders_and_a_reader(make_log):
    def body():
        log = make_log()
        appenders = [verify.spawn(log.append, name) for name in ("a", "b")]

        def read():
            out, entry = [], log.first
            while (entry := log.successor(entry)) is not None:
                out.append((entry.pos, entry.payload))
            return out

        reader = verify.spawn(read)
        linked = [h.join() for h in appenders]
        seen = reader.join()
        final = [(e.pos, e.payload) for e in chain(log)]
        assert sorted(e.payload for e in linked) == ["a", "b"]
        assert final == sorted((e.pos, e.payload) for e in linked), f"lost or doubled: {final}"
        assert [p for p, _ in final] == [1, 2]
        assert seen == final[:len(seen)], f"reader saw {seen}, not a prefix of {final}"
        assert log.last().pos == 2

    return body


def test_model_two_appenders_and_a_reader():
    report = verify.model(two_appenders_and_a_reader(ModelledLog), max_preemptions=2)
    assert report.complete and report.executions > 1


def appender_and_truncator_body():
    """An append racing a cut at the last entry (the tail must be moved past the cut
    before it is dropped, or the append never finds a tail)."""
    log = ModelledLog()
    a = log.append("a")
    appender = verify.spawn(log.append, "b")
    cutter = verify.spawn(log.forget_before, a)
    b = appender.join()
    assert cutter.join() == 1
    assert log.first is a and log.to_list() == ["b"] and b.pos == 2 and log.last() is b


def test_model_append_racing_a_cut():
    report = verify.model(appender_and_truncator_body, max_preemptions=2)
    assert report.complete and report.executions > 1


def two_cuts_and_an_append_body():
    """Two overlapping cuts claim disjoint ranges: every old entry is dropped exactly once."""
    log = ModelledLog()
    a, b = log.append("a"), log.append("b")
    cuts = [verify.spawn(log.forget_before, e) for e in (a, b)]
    appender = verify.spawn(log.append, "c")
    assert sum(h.join() for h in cuts) == 2          # the sentinel and a
    appender.join()
    assert log.first is b and log.to_list() == ["c"] and log.held() == 2


def test_model_two_cuts_and_an_append():
    report = verify.model(two_cuts_and_an_append_body, max_preemptions=2)
    assert report.complete and report.executions > 1


def reader_racing_a_cut_body():
    """A reader holding an old entry while a cut drops it and an append goes on: its
    successor is the right entry or ``Forgotten``, never a wrong one; ``last`` after the
    append is the appended entry."""
    log = ModelledLog()
    a, _, c = log.append("a"), log.append("b"), log.append("c")

    def read():
        try:
            return log.successor(a).payload
        except Forgotten:
            return "forgotten"

    reader = verify.spawn(read)
    cutter = verify.spawn(log.forget_before, c)
    appender = verify.spawn(lambda: (log.append("d"), log.last().payload))
    assert reader.join() in ("b", "forgotten")
    assert cutter.join() == 3
    d, last = appender.join()
    assert last == "d"
    assert log.first is c and log.to_list() == ["d"] and d.pos == 4


def test_model_a_reader_racing_a_cut():
    report = verify.model(reader_racing_a_cut_body, max_preemptions=2)
    assert report.complete and report.executions > 1


@pytest.mark.slow
@pytest.mark.parametrize("body", [two_appenders_and_a_reader(ModelledLog), appender_and_truncator_body])
def test_model_bound_three(body):
    assert verify.model(body, max_preemptions=3).complete


class PlainStoreLog(ModelledLog):
    """Broken on purpose: links with a load-then-store of ``next`` instead of a compare-exchange."""

    __slots__ = ()

    def __init__(self):
        super().__init__()

        def append(payload):
            entry = Entry(self._ids.fetch_add(1), payload, self._new_cell(0))
            self._entries[entry.id] = entry
            while True:
                tail_id = self._tail.load()
                last = self._entries[tail_id]
                after = last.next.load()
                if after:
                    self._tail.compare_exchange(tail_id, after)
                    continue
                entry.pos = last.pos + 1
                last.next.store(entry.id)      # bug: another append may have linked meanwhile
                self._tail.compare_exchange(tail_id, entry.id)
                return entry

        self.append = append


def test_model_catches_a_plain_store_link():
    with pytest.raises(verify.ModelFailure) as failure:
        verify.model(two_appenders_and_a_reader(PlainStoreLog), max_preemptions=2)
    assert failure.value.schedule is not None
    assert "lost or doubled" in str(failure.value)
