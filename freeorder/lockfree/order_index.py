"""OrderIndex: a lock-free hash map from int64 ids to payloads (Michael 2002).

A fixed array of buckets, each a Harris sorted linked list of arena nodes
(``key``, ``next``, payload). A bucket's head is a sentinel slot of the same
arena, so every link lives in ``arena.next`` and an unlink is one
compare-exchange there. Removal marks the node's ``next`` (the logical
delete), then unlinks it; searches unlink every marked node they pass, and
the thread whose compare-exchange unlinks a node retires it, exactly once.
Traversal is hand-over-hand: with ``HazardRegistry`` it protects the
predecessor, the current and the next node (3 hazard cells), validating each
link after publishing, and never steps past a marked node without unlinking
it first (Michael's hazard-pointer list).

Invariant: each bucket list is strictly increasing by key; an id is
**present** iff an unmarked node with that id is linked in its bucket, and
there is at most one such node. Payloads never change while linked.

Consistency: ``insert``, ``get``, ``remove``/``pop`` and ``__contains__``
are linearizable; ``items`` is weakly consistent (every pair yielded was
present at some moment during the iteration, every id present throughout is
yielded, each once); ``len`` is a counter, exact at rest.

Capacity: the arena grows on demand; with ``max_capacity`` it holds at most
that many live ids plus the retired slots awaiting reclamation (plus
``buckets`` sentinel slots), so ever-increasing ids with a bounded live
count run forever under ``EpochCollector`` or ``HazardRegistry``. The bucket
count is fixed at construction (default: ``max_capacity // 2``, or
``DEFAULT_BUCKETS`` without one), so size it for the ids expected live.

Reclamation: **a reclaimer is required** (``EpochCollector`` by default,
``HazardRegistry``, or ``NoReclaim``). Counted pointers alone (versioned
references validated by a compare-exchange, as the Treiber stack and the
queue use) do not suffice: ``get`` reaches nodes by traversal and returns
a payload and key it read on the way with no compare-exchange to validate
them, and an insert decides where to link from keys it read several steps
earlier. A node is freed only once no pinned (epoch) or protecting
(hazard) thread can still hold its reference.

Memory orders: loads use the default SEQ_CST (on x86-64 and AArch64 a
SEQ_CST load costs what an ACQUIRE load does, and a call with no order
argument is the cheapest); publishing compare-exchanges are SEQ_CST; the
RELAXED operations each say why they are enough.

Where CPython still serialises: writing a slot's payload (``alloc``, and
``free`` clearing it) takes the payload list's per-object lock on 3.13t;
reads take none.

>>> index = OrderIndex(max_capacity=16, buckets=4)
>>> index.insert(7, "order 7"), index.insert(7, "again")
(True, False)
>>> index.get(7), 7 in index, len(index)
('order 7', True, 1)
>>> index.remove(7), index.pop(7, None)
('order 7', None)
"""

from __future__ import annotations

from freeorder import atomic
from freeorder.atomic import INT64_MAX, INT64_MIN
from freeorder.reclaim import EpochCollector

from .arena import INDEX_MASK, INDEX_SHIFT, MARK, Arena
from .skiplist import _needs_protect, check_key

_RELAXED = int(atomic.RELAXED)
_MISSING = object()
DEFAULT_BUCKETS = 1024


class OrderIndex:
    """Lock-free int64 id -> payload map: insert-if-absent, get, remove. Default reclaimer: EpochCollector."""

    def __init__(self, max_capacity: int | None = None, buckets: int | None = None, reclaimer=None,
                 arena_name: str = "OrderIndex", sanitize: bool | None = None,
                 initial_capacity: int | None = None):
        if reclaimer is None:
            reclaimer = EpochCollector()
        if buckets is None:
            buckets = DEFAULT_BUCKETS if max_capacity is None else max(16, max_capacity // 2)
        if buckets < 1:
            raise ValueError(f"buckets={buckets!r} must be >= 1")
        self._hp = _needs_protect(reclaimer)
        if self._hp and getattr(reclaimer, "hazards_per_thread", 3) < 3:
            raise ValueError("OrderIndex needs a HazardRegistry with hazards_per_thread >= 3")
        self.reclaimer = reclaimer
        self.buckets = buckets
        arena_max = None if max_capacity is None else max_capacity + buckets
        if initial_capacity is not None:
            initial_capacity += buckets
            if arena_max is not None:
                initial_capacity = min(initial_capacity, arena_max)
        self.arena = arena = Arena(arena_max, fields=("key", "next"), name=arena_name, sanitize=sanitize,
                                   initial_capacity=initial_capacity, reclaimer=reclaimer)
        self._san = arena.sanitize
        self._fast = not (self._hp or self._san)  # plain loads, no checks: get's inline walk
        self._key, self._next = arena.key, arena.next
        self._payload = arena.payload
        slots = arena.local()
        self._heads = [(slots.alloc(None) >> INDEX_SHIFT) & INDEX_MASK for _ in range(buckets)]
        self._len = atomic.AtomicInt(0)

    def __repr__(self) -> str:
        return f"OrderIndex(len~{len(self)}, buckets={self.buckets}, reclaimer={self.reclaimer.name})"

    def _find(self, key: int, g, head: int):
        """(pred index, cur ref, cp, cc) with pred.key < key <= cur.key in bucket ``head``.

        Unlinks (and retires) every marked node it passes; restarts if an
        unlink loses a race. With hazard pointers pred and cur stay protected
        (cells ``cp``/``cc``, returned as well); cur's key is checked by the caller.
        """
        nxt = self._next
        key_load = self._key.load
        hp = self._hp
        protect = g.protect
        arena = self.arena
        san = self._san
        IS, IM = INDEX_SHIFT, INDEX_MASK
        while True:
            pred = head
            cp, cc, cn = 0, 1, 2
            cur = protect(cc, nxt, head) if hp else nxt.load(head)
            while cur:
                if san:
                    arena.check(cur)
                ci = (cur >> IS) & IM
                succ = protect(cn, nxt, ci) if hp else nxt.load(ci)
                if succ & 1:
                    succ -= 1
                    if nxt.compare_exchange(pred, cur, succ) == cur:
                        self._retire(g, cur)  # this thread unlinked it: it retires it
                        cur = succ
                        cc, cn = cn, cc
                        continue
                    break  # restart
                if key_load(ci) >= key:
                    return pred, cur, cp, cc
                pred = ci
                cur = succ
                cp, cc, cn = cc, cn, cp
            else:
                return pred, 0, cp, cc

    def _find_fast(self, key: int, g, head: int):
        """``_find`` under an epoch (or no) reclaimer and no sanitizer: (pred index, cur ref),
        the same search with plain loads, no hazard cells and no checks."""
        nxt = self._next
        key_load = self._key.load
        IS, IM = INDEX_SHIFT, INDEX_MASK
        while True:
            pred = head
            cur = nxt.load(head)
            while cur:
                ci = (cur >> IS) & IM
                succ = nxt.load(ci)
                if succ & 1:
                    succ -= 1
                    if nxt.compare_exchange(pred, cur, succ) == cur:
                        self._retire(g, cur)
                        cur = succ
                        continue
                    break  # restart
                if key_load(ci) >= key:
                    return pred, cur
                pred = ci
                cur = succ
            else:
                return pred, 0

    def _retire(self, g, ref: int) -> None:
        """Retire node ``ref``, which this thread unlinked (unmarked: its own ``key_of``)."""
        arena = self.arena
        if self._san:
            arena.mark_retired(ref)
        g.retire(arena.free, ref, ref)

    def insert(self, key, payload) -> bool:
        """Add ``key`` -> ``payload``; False (and no change) if ``key`` is present.

        Linearization point: the compare-exchange linking the node (True), or
        the validated load of the existing node's unmarked ``next`` (False).
        """
        if type(key) is not int or not INT64_MIN <= key <= INT64_MAX:
            key = check_key(key, "id")
        head = self._heads[key % self.buckets]
        nxt = self._next
        g = self.reclaimer.pin()
        try:
            ref = ni = 0
            slots = None
            fast = self._fast
            while True:
                if fast:
                    pred, cur = self._find_fast(key, g, head)
                else:
                    pred, cur, _, _ = self._find(key, g, head)
                if cur and self._key.load((cur >> INDEX_SHIFT) & INDEX_MASK) == key:
                    if ref:  # never published: straight back to the arena
                        if self._san:
                            self.arena.mark_retired(ref)
                        slots.free(ref)
                    return False
                if not ref:
                    slots = self.arena.local()
                    ref = slots.alloc(payload)
                    ni = (ref >> INDEX_SHIFT) & INDEX_MASK
                    # RELAXED: the SEQ_CST compare-exchange linking the node publishes it
                    self._key.store(ni, key, _RELAXED)
                # RELAXED: as the key store (a retry rewrites it before its own compare-exchange)
                nxt.store(ni, cur, _RELAXED)
                if nxt.compare_exchange(pred, cur, ref) == cur:
                    self._len.fetch_add(1, _RELAXED)  # RELAXED: a statistic, exact only at rest
                    return True
        finally:
            g.unpin()

    def get(self, key, default=None):
        """The payload for ``key``, or ``default``. Linearization point: the validated
        load of the node's unmarked ``next`` (absent: the load past where it would be)."""
        if type(key) is not int or not INT64_MIN <= key <= INT64_MAX:
            key = check_key(key, "id")
        head = self._heads[key % self.buckets]
        g = self.reclaimer.pin()
        try:
            if self._fast:
                # the search inlined, read-only: each node's next is loaded before the node
                # is stepped past or reported; a marked one sends us to _find (which unlinks)
                nxt = self._next
                key_load = self._key.load
                IS, IM = INDEX_SHIFT, INDEX_MASK
                cur = nxt.load(head)  # a sentinel's next is never marked
                while cur:
                    ci = (cur >> IS) & IM
                    ck = key_load(ci)
                    if ck > key:
                        # pred's unmarked next was cur: key was absent at that load
                        return default
                    succ = nxt.load(ci)
                    if succ & 1:
                        break  # cur is being removed: search again, helping
                    if ck == key:
                        return self._payload[ci]  # cur's next was unmarked: present at that load
                    cur = succ
                else:
                    return default
            _, cur, _, _ = self._find(key, g, head)
            if cur:
                ci = (cur >> INDEX_SHIFT) & INDEX_MASK
                if self._key.load(ci) == key:
                    return self._payload[ci]
            return default
        finally:
            g.unpin()

    def __contains__(self, key) -> bool:
        return self.get(key, _MISSING) is not _MISSING

    def __getitem__(self, key):
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def remove(self, key):
        """Remove ``key`` and return its payload; KeyError if absent.

        Linearization point: the compare-exchange that marks the node's
        ``next`` (absent: as ``get``, or the load that saw it marked by another).
        """
        value = self.pop(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def pop(self, key, default=_MISSING):
        """Remove ``key`` and return its payload, or ``default`` (KeyError if not given)."""
        if type(key) is not int or not INT64_MIN <= key <= INT64_MAX:
            key = check_key(key, "id")
        head = self._heads[key % self.buckets]
        nxt = self._next
        g = self.reclaimer.pin()
        try:
            if self._fast:
                pred, cur = self._find_fast(key, g, head)
            else:
                pred, cur, _, _ = self._find(key, g, head)
            if cur:
                ci = (cur >> INDEX_SHIFT) & INDEX_MASK
                if self._key.load(ci) == key:
                    succ = nxt.load(ci)
                    while not succ & MARK:
                        witnessed = nxt.compare_exchange(ci, succ, succ | MARK)
                        if witnessed == succ:
                            payload = self._payload[ci]
                            self._len.fetch_sub(1, _RELAXED)  # RELAXED: a statistic, exact only at rest
                            if nxt.compare_exchange(pred, cur, succ) == cur:
                                # this thread unlinked it: it retires it (unmarked: its own key_of)
                                if self._san:
                                    self.arena.mark_retired(cur)
                                g.retire(self.arena.free, cur, cur)
                            else:
                                self._find(key, g, head)  # unlinks (and retires) it
                            return payload
                        succ = witnessed
        finally:
            g.unpin()
        if default is _MISSING:
            raise KeyError(key)
        return default

    def __delitem__(self, key) -> None:
        self.remove(key)

    def __len__(self) -> int:
        """Approximate: inserts minus removes so far (exact at rest)."""
        return max(0, self._len.load())

    def items(self):
        """(id, payload) pairs, bucket by bucket, weakly consistent; no pin is held across a yield."""
        nxt = self._next
        key_load = self._key.load
        hp = self._hp
        arena = self.arena
        san = self._san
        payload = self._payload
        for head in self._heads:
            g = self.reclaimer.pin()
            try:
                batch = []
                # bucket lists are short: a fresh search to the end unlinks marked nodes,
                # then a protected walk collects the unmarked ones
                self._find(INT64_MAX + 1, g, head)
                cp, cc, cn = 0, 1, 2
                cur = g.protect(cc, nxt, head) if hp else nxt.load(head)
                while cur:
                    if san:
                        arena.check(cur)
                    ci = (cur >> INDEX_SHIFT) & INDEX_MASK
                    succ = g.protect(cn, nxt, ci) if hp else nxt.load(ci)
                    if succ & MARK:
                        # removed under us: restart this bucket from a fresh search
                        # past the keys already collected
                        last = batch[-1][0] if batch else INT64_MIN - 1
                        pred, cur, cp, cc = self._find(last + 1, g, head)
                        cn = 3 - cp - cc
                        continue
                    batch.append((key_load(ci), payload[ci]))
                    cur = succ
                    cp, cc, cn = cc, cn, cp
            finally:
                g.unpin()
            yield from batch

    def keys(self):
        for key, _ in self.items():
            yield key

    def __iter__(self):
        return self.keys()

    def audit(self) -> dict[str, int]:
        """Quiescent check: buckets sorted, ids in their bucket, no marks or cycles, no leaks (sanitizer)."""
        nxt = self._next
        arena = self.arena
        g = self.reclaimer.pin()
        try:
            for head in self._heads:
                self._find(INT64_MAX + 1, g, head)
        finally:
            g.unpin()
        reachable = set(self._heads)
        live = 0
        longest = 0
        for b, head in enumerate(self._heads):
            ref = nxt.load(head)
            prev = None
            length = 0
            while ref:
                if ref & MARK:
                    raise AssertionError(f"marked pointer reachable in bucket {b} at rest")
                if arena.sanitize and not arena.is_current(ref):
                    raise AssertionError(f"stale reference {ref:#x} in bucket {b}")
                index = (ref >> INDEX_SHIFT) & INDEX_MASK
                if index in reachable:
                    raise AssertionError(f"cycle or shared node at slot {index}")
                reachable.add(index)
                key = self._key.load(index)
                if key % self.buckets != b:
                    raise AssertionError(f"id {key} in bucket {b}, belongs in {key % self.buckets}")
                if prev is not None and key <= prev:
                    raise AssertionError(f"bucket {b} not strictly increasing: {prev} then {key}")
                prev = key
                length += 1
                ref = nxt.load(index)
            live += length
            longest = max(longest, length)
        arena.assert_no_leaks(reachable)
        if self._len.load() != live:
            raise AssertionError(f"length counter {self._len.load()} != live nodes {live}")
        return {"length": live, "longest_bucket": longest, "in_use": arena.in_use, "peak": arena.peak}
