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

Capacity: ``capacity`` live ids plus the retired slots awaiting reclamation
(plus ``buckets`` sentinel slots), so ever-increasing ids with a bounded live
count run forever under ``EpochCollector`` or ``HazardRegistry``.

>>> index = OrderIndex(capacity=16, buckets=4)
>>> index.insert(7, "order 7"), index.insert(7, "again")
(True, False)
>>> index.get(7), 7 in index, len(index)
('order 7', True, 1)
>>> index.remove(7), index.pop(7, None)
('order 7', None)
"""

from __future__ import annotations

from freeorder import atomic
from freeorder.reclaim import EpochCollector
from freeorder.atomic import INT64_MAX, INT64_MIN, RELAXED

from .arena import INDEX_MASK, Arena
from .skiplist import _needs_protect, check_key

_MISSING = object()


class OrderIndex:
    """Lock-free int64 id -> payload map: insert-if-absent, get, remove. Default reclaimer: EpochCollector."""

    def __init__(self, capacity: int = 1 << 16, buckets: int | None = None, reclaimer=None,
                 arena_name: str = "OrderIndex", sanitize: bool | None = None):
        if reclaimer is None:
            reclaimer = EpochCollector()
        if buckets is None:
            buckets = max(16, capacity // 2)
        if buckets < 1:
            raise ValueError(f"buckets={buckets!r} must be >= 1")
        self._hp = _needs_protect(reclaimer)
        if self._hp and getattr(reclaimer, "hazards_per_thread", 3) < 3:
            raise ValueError("OrderIndex needs a HazardRegistry with hazards_per_thread >= 3")
        self.reclaimer = reclaimer
        self.buckets = buckets
        self.arena = arena = Arena(capacity + buckets, fields=("key", "next"), name=arena_name, sanitize=sanitize)
        self._key, self._next = arena.key, arena.next
        self._heads = [(arena.alloc(None) >> 1) & INDEX_MASK for _ in range(buckets)]
        self._len = atomic.AtomicInt(0)

    def __repr__(self) -> str:
        return f"OrderIndex(len~{len(self)}, buckets={self.buckets}, reclaimer={self.reclaimer.name})"

    def _find(self, key: int, g, head: int):
        """(pred index, cur ref) with pred.key < key <= cur.key in bucket ``head``.

        Unlinks (and retires) every marked node it passes; restarts if an
        unlink loses a race. With hazard pointers pred and cur stay protected
        (cells ``cp``/``cc``, returned as well); cur's key is checked by the caller.
        """
        nxt = self._next
        nxt_load, cas = nxt.load, nxt.compare_exchange
        key_load = self._key.load
        hp = self._hp
        protect = g.protect
        arena = self.arena
        san = arena.sanitize
        while True:
            pred = head
            cp, cc, cn = 0, 1, 2
            cur = protect(cc, nxt, head) if hp else nxt_load(head)
            while cur:
                if san:
                    arena.check(cur)
                ci = (cur >> 1) & INDEX_MASK
                succ = protect(cn, nxt, ci) if hp else nxt_load(ci)
                if succ & 1:
                    succ -= 1
                    if cas(pred, cur, succ) == cur:
                        g.retire(arena, cur)
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

    def insert(self, key, payload) -> bool:
        """Add ``key`` -> ``payload``; False (and no change) if ``key`` is present.

        Linearization point: the compare-exchange linking the node (True), or
        the validated load of the existing node's unmarked ``next`` (False).
        """
        if type(key) is not int or not INT64_MIN <= key <= INT64_MAX:
            key = check_key(key, "id")
        head = self._heads[key % self.buckets]
        arena = self.arena
        nxt = self._next
        g = self.reclaimer.pin()
        try:
            ref = 0
            while True:
                pred, cur, _, _ = self._find(key, g, head)
                if cur and self._key.load((cur >> 1) & INDEX_MASK) == key:
                    if ref:  # never published: straight back to the arena
                        if arena.sanitize:
                            arena.mark_retired(ref)
                        arena.free(ref)
                    return False
                if not ref:
                    ref = arena.alloc(payload)
                    self._key.store((ref >> 1) & INDEX_MASK, key)
                nxt.store((ref >> 1) & INDEX_MASK, cur)
                if nxt.compare_exchange(pred, cur, ref) == cur:
                    self._len.fetch_add(1, RELAXED)
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
            _, cur, _, _ = self._find(key, g, head)
            if cur:
                ci = (cur >> 1) & INDEX_MASK
                if self._key.load(ci) == key:
                    return self.arena.payload[ci]
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
        arena = self.arena
        g = self.reclaimer.pin()
        try:
            pred, cur, _, _ = self._find(key, g, head)
            if cur:
                ci = (cur >> 1) & INDEX_MASK
                if self._key.load(ci) == key:
                    succ = nxt.load(ci)
                    while not succ & 1:
                        witnessed = nxt.compare_exchange(ci, succ, succ | 1)
                        if witnessed == succ:
                            payload = arena.payload[ci]
                            self._len.fetch_sub(1, RELAXED)
                            if nxt.compare_exchange(pred, cur, succ) == cur:
                                g.retire(arena, cur)
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
        payload = arena.payload
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
                    if arena.sanitize:
                        arena.check(cur)
                    ci = (cur >> 1) & INDEX_MASK
                    succ = g.protect(cn, nxt, ci) if hp else nxt.load(ci)
                    if succ & 1:
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
                if ref & 1:
                    raise AssertionError(f"marked pointer reachable in bucket {b} at rest")
                if not self.arena.is_current(ref):
                    raise AssertionError(f"stale reference {ref:#x} in bucket {b}")
                index = (ref >> 1) & INDEX_MASK
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
        if self.arena.sanitize:
            leaked = self.arena.leaks(reachable)
            if leaked:
                raise AssertionError(f"leaked slots (allocated, unreachable, never retired): {leaked[:10]}")
        if self._len.load() != live:
            raise AssertionError(f"length counter {self._len.load()} != live nodes {live}")
        return {"length": live, "longest_bucket": longest, "in_use": self.arena.in_use,
                "peak": self.arena.peak}
