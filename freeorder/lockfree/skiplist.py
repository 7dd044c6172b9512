"""SkipListMap: a lock-free ordered map from int64 keys to Python objects.

The algorithm is Fraser's / crossbeam-skiplist's: a sorted linked list at
level 0 with express lanes above it, Harris-style marks on the next pointers
(a node whose next pointer at level ``l`` is marked is being unlinked at
``l``), and searches that help unlink marked nodes as they pass them. Two
additions make insert-or-replace atomic:

* every node has a **value cell** ``val``: 0 means "the value is this node's
  own payload"; otherwise it holds the reference of a *value slot* (a slot of
  the same arena used only for its payload). Its low bit is the **dead bit**.
  Replacing a value is one compare-exchange of this cell; removing a key is
  the compare-exchange that sets the dead bit, so replace and remove of one
  node are totally ordered by that cell.
* a node's tower is marked (top-down, then level 0) only *after* its dead bit
  is set, and a node is unlinked at a level only after that level is marked.

Invariant (at every instant): the keys on level 0 are strictly increasing;
every level above 0 is a sub-list of the one below it, in the same order; a
key is **present** iff a node with that key is linked at level 0 and its
value cell's dead bit is clear -- there is at most one such node per key.

Reclamation: each node carries a reference count, as in crossbeam-skiplist:
one for the inserting thread while its insert runs, one per level it is
linked at. The thread whose compare-exchange unlinks the node at a level
drops that level's count; whichever thread drops it to zero retires the node
(and its last value slot) through its guard, exactly once. A value slot
replaced by ``insert`` is retired by the thread whose compare-exchange
replaced it. Works with ``EpochCollector`` (the default), ``HazardRegistry``
(needs ``hazards_per_thread >= 4``: pred, current, next and value; traversal
is hand-over-hand with publish-then-revalidate, and never steps past a marked
node without unlinking it) and ``NoReclaim``.

Consistency: ``get``, ``insert``, ``get_or_insert``, ``remove``/``pop``,
``__contains__`` are linearizable (each docstring names its linearization
point). ``pop_first``/``pop_last``/``first``/``last`` are linearizable as an
operation on the key they return, which was the least (greatest) present key
when the search read it; a smaller (greater) key inserted concurrently may
be present at the instant of removal, as in crossbeam-skiplist.
Iteration (``items``, ``keys``, ``range``) is weakly consistent: keys come in
strictly increasing (decreasing) order, every key yielded was present with
the value yielded at some moment during the iteration, and every key present
throughout the iteration is yielded. ``len`` is a counter, exact only at rest.

>>> m = SkipListMap(capacity=64)
>>> m.insert(3, "c"), m.insert(1, "a"), m.insert(3, "C")
(True, True, False)
>>> list(m.items())
[(1, 'a'), (3, 'C')]
>>> m.pop_first()
(1, 'a')
>>> m.remove(3), len(m)
('C', 0)
"""

from __future__ import annotations

import random

from freeorder import atomic
from freeorder.atomic import INT64_MAX, INT64_MIN, RELAXED
from freeorder.reclaim import EpochCollector, NoReclaim

from .arena import INDEX_MASK, Arena

_MISSING = object()
_getrandbits = random.getrandbits

# hazard cells used by a traversal (HazardRegistry needs >= 4 per thread)
_HZ_VAL = 3
_BATCH = 64


def check_key(key, name: str = "key") -> int:
    """``key`` as an int64, or TypeError/OverflowError naming the argument and value."""
    if type(key) is not int:
        if isinstance(key, bool) or not isinstance(key, int):
            raise TypeError(f"{name}={key!r} must be an int, not {type(key).__name__}")
        key = int(key)
    if not INT64_MIN <= key <= INT64_MAX:
        raise OverflowError(f"{name}={key!r} is outside int64 [{INT64_MIN}, {INT64_MAX}]")
    return key


def _needs_protect(reclaimer) -> bool:
    """True unless the reclaimer's ``protect`` is a plain load (epoch, none)."""
    return not isinstance(reclaimer, (EpochCollector, NoReclaim))


class SkipListMap:
    """Lock-free ordered map int64 -> object (see the module docstring for the invariant).

    ``capacity`` bounds live nodes plus replaced values and slots awaiting
    reclamation (one slot is the head). ``max_height`` defaults to a height
    that suits ``capacity`` (towers grow with probability 1/4 per level).
    """

    def __init__(self, capacity: int = 1 << 16, reclaimer=None, max_height: int | None = None,
                 arena_name: str = "SkipListMap", sanitize: bool | None = None):
        if reclaimer is None:
            reclaimer = EpochCollector()
        if max_height is None:
            max_height = max(4, min(32, (max(capacity, 4).bit_length() + 1) // 2 + 1))
        if not 1 <= max_height <= 32:
            raise ValueError(f"max_height={max_height!r} must be in 1..32")
        self._hp = _needs_protect(reclaimer)
        if self._hp and getattr(reclaimer, "hazards_per_thread", 4) < 4:
            raise ValueError("SkipListMap needs a HazardRegistry with hazards_per_thread >= 4")
        self.reclaimer = reclaimer
        self.max_height = H = max_height
        self.arena = arena = Arena(capacity + 1, fields=("key", "height", "refs", "val"),
                                   name=arena_name, sanitize=sanitize)
        self._next = atomic.AtomicIntArray((capacity + 2) * H)
        # keys are immutable while a node is reachable: hot paths read this plain list
        # (one subscript instead of an atomic call); arena.key keeps a copy for audit/sanitizer
        self._keys = [0] * (capacity + 2)
        self._key, self._height, self._refs, self._val = arena.key, arena.height, arena.refs, arena.val
        head = arena.alloc(None)
        self._head = (head >> 1) & INDEX_MASK
        self._height.store(self._head, H)
        self._refs.store(self._head, 1)
        self._top = atomic.AtomicInt(1)  # levels in use (only grows)
        self._len = atomic.AtomicInt(0)
        # random heights: P(height > h) = 4**-h
        self._hbits = 2 * (H - 1)

    def __repr__(self) -> str:
        return f"SkipListMap(len~{len(self)}, capacity={self.arena.capacity - 1}, reclaimer={self.reclaimer.name})"

    # -- core ---------------------------------------------------------------

    def _unref(self, g, ref: int) -> None:
        """Drop one reference to node ``ref``; the thread that drops the last retires it."""
        index = (ref >> 1) & INDEX_MASK
        if self._refs.fetch_sub(index, 1) == 1:
            arena = self.arena
            value_ref = self._val.load(index) & ~1
            if value_ref:
                g.retire(arena, value_ref)
            g.retire(arena, ref & ~1)

    def _find(self, key: int, g, preds, succs, stop: int = 0) -> int:
        """Search for ``key`` from the top level down to level ``stop``.

        Returns the reference of the node with ``key`` at level ``stop`` (0 if
        none); fills ``preds[l]`` (index) / ``succs[l]`` (reference) for
        ``l >= stop`` if given (lists of ``max_height + 1``: the last items
        name the hazard cells that guard ``preds[stop]``/``succs[stop]``,
        which stay protected until the next traversal). Unlinks every marked node it passes; restarts
        if a compare-exchange fails or a predecessor turns out to be marked.
        With hazard pointers each step's ``protect`` validates that the link
        it followed is unchanged (and unmarked, so the node is still linked).
        """
        H = self.max_height
        nxt = self._next
        nxt_load, cas = nxt.load, nxt.compare_exchange
        keys = self._keys
        key_load = keys.__getitem__
        hp = self._hp
        protect = g.protect
        arena = self.arena
        san = arena.sanitize
        head = self._head
        while True:
            pred = head
            cp, cc, cn = 0, 1, 2
            level = self._top.load() - 1
            found = 0
            restart = False
            while level >= stop:
                cur = protect(cc, nxt, pred * H + level) if hp else nxt_load(pred * H + level)
                if cur & 1:
                    restart = True
                    break
                while cur:
                    if san:
                        arena.check(cur)
                    ci = (cur >> 1) & INDEX_MASK
                    succ = protect(cn, nxt, ci * H + level) if hp else nxt_load(ci * H + level)
                    if succ & 1:
                        succ -= 1
                        if cas(pred * H + level, cur, succ) == cur:
                            self._unref(g, cur)
                            cur = succ
                            cc, cn = cn, cc
                            continue
                        restart = True
                        break
                    ck = keys[ci]
                    if ck >= key:
                        break
                    pred = ci
                    cur = succ
                    cp, cc, cn = cc, cn, cp
                if restart:
                    break
                if preds is not None:
                    preds[level] = pred
                    succs[level] = cur
                level -= 1
            if restart:
                continue
            if preds is not None:
                preds[H] = cp  # the hazard cells guarding pred and succ of level ``stop``
                succs[H] = cc
            if cur and keys[(cur >> 1) & INDEX_MASK] == key:
                found = cur
            return found

    def _value(self, g, index: int):
        """(dead, value) of node ``index``; the value read under protection."""
        val = g.protect(_HZ_VAL, self._val, index) if self._hp else self._val.load(index)
        if val & 1:
            return True, None
        arena = self.arena
        if val:
            if arena.sanitize:
                arena.check(val)
            return False, arena.payload[(val >> 1) & INDEX_MASK]
        return False, arena.payload[index]

    def _mark_tower(self, index: int) -> bool:
        """Mark node ``index``'s next pointers top-down; True if this call marked level 0."""
        H = self.max_height
        fetch_or = self._next.fetch_or
        base = index * H
        for level in range(self._height.load(index) - 1, 0, -1):
            fetch_or(base + level, 1)
        return not fetch_or(base, 1) & 1

    def _random_height(self) -> int:
        bits = self._hbits
        if not bits:
            return 1
        r = _getrandbits(bits) | (1 << bits)
        return (((r & -r).bit_length() - 1) >> 1) + 1

    # -- point operations --------------------------------------------------

    def get(self, key, default=None):
        """The value for ``key``, or ``default``.

        Linearization point: the load of the node's value cell (present), or
        the later of the level-0 load that reached the dead node / its
        successor and the dead bit being set (absent).
        """
        if type(key) is not int or not INT64_MIN <= key <= INT64_MAX:
            key = check_key(key)
        H = self.max_height
        nxt = self._next
        nxt_load = nxt.load
        keys = self._keys
        key_load = keys.__getitem__
        val_load = self._val.load
        hp = self._hp
        arena = self.arena
        san = arena.sanitize
        payload = arena.payload
        g = self.reclaimer.pin()
        try:
            if hp or san:
                found = self._find(key, g, None, None)
                if not found:
                    return default
                dead, value = self._value(g, (found >> 1) & INDEX_MASK)
                return default if dead else value
            # epoch / none fast path: a read-only descent that still helps unlink
            cas = nxt.compare_exchange
            head = self._head
            while True:
                pred = head
                level = self._top.load() - 1
                restart = False
                while level >= 0:
                    cur = nxt_load(pred * H + level)
                    if cur & 1:
                        restart = True
                        break
                    while cur:
                        ci = (cur >> 1) & INDEX_MASK
                        succ = nxt_load(ci * H + level)
                        if succ & 1:
                            succ -= 1
                            if cas(pred * H + level, cur, succ) == cur:
                                self._unref(g, cur)
                                cur = succ
                                continue
                            restart = True
                            break
                        ck = keys[ci]
                        if ck > key:
                            break
                        if ck == key:
                            # present iff the dead bit is clear; if dead, only a
                            # level-0 sighting proves absence
                            val = val_load(ci)
                            if not val & 1:
                                return payload[(val >> 1) & INDEX_MASK] if val else payload[ci]
                            if level == 0:
                                return default
                            break
                        pred = ci
                        cur = succ
                    if restart:
                        break
                    level -= 1
                if not restart:
                    return default
        finally:
            g.unpin()

    def __contains__(self, key) -> bool:
        """True if ``key`` is present (linearization point as ``get``)."""
        return self.get(key, _MISSING) is not _MISSING

    def __getitem__(self, key):
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __setitem__(self, key, value) -> None:
        self.insert(key, value)

    def __delitem__(self, key) -> None:
        self.remove(key)

    def insert(self, key, value) -> bool:
        """Map ``key`` to ``value``: True if the key was new, False if its value was replaced.

        Replace keeps the node and swaps its value cell (a compare-exchange
        from the value seen to a fresh value slot), so readers see the old or
        the new value, never neither. Linearization point: the level-0
        compare-exchange linking the new node (new key), or the value-cell
        compare-exchange (replace).
        """
        if type(key) is not int or not INT64_MIN <= key <= INT64_MAX:
            key = check_key(key)
        return self._insert(key, value, True)[0]

    def get_or_insert(self, key, value):
        """The value for ``key``, inserting ``value`` first if absent.

        Linearization point: the level-0 compare-exchange linking the new node,
        or the load of the present node's value cell.
        """
        if type(key) is not int or not INT64_MIN <= key <= INT64_MAX:
            key = check_key(key)
        return self._insert(key, value, False)[1]

    def _insert(self, key: int, value, replace: bool):
        H = self.max_height
        arena = self.arena
        nxt = self._next
        cas = nxt.compare_exchange
        val_cell = self._val
        hp = self._hp
        slot = 0  # a slot allocated for value, used as the node or as a value slot
        preds = [self._head] * (H + 1)
        succs = [0] * (H + 1)
        g = self.reclaimer.pin()
        try:
            while True:
                found = self._find(key, g, preds, succs)
                if found:
                    fi = (found >> 1) & INDEX_MASK
                    val = g.protect(_HZ_VAL, val_cell, fi) if hp else val_cell.load(fi)
                    while not val & 1:
                        if not replace:
                            if slot:  # never published: straight back to the arena
                                if arena.sanitize:
                                    arena.mark_retired(slot)
                                arena.free(slot)
                            if arena.sanitize and val:
                                arena.check(val)
                            return False, arena.payload[(val >> 1) & INDEX_MASK] if val else arena.payload[fi]
                        if not slot:
                            slot = arena.alloc(value)
                        witnessed = val_cell.compare_exchange(fi, val, slot)
                        if witnessed == val:
                            if val:
                                g.retire(arena, val)
                            return False, value
                        val = g.protect(_HZ_VAL, val_cell, fi) if hp else witnessed
                    # dead but maybe not yet marked: help its remover, then search again
                    self._mark_tower(fi)
                    continue
                if not slot:
                    slot = arena.alloc(value)
                ni = (slot >> 1) & INDEX_MASK
                height = self._random_height()
                self._key.store(ni, key)
                self._keys[ni] = key
                self._height.store(ni, height)
                self._refs.store(ni, 2)  # the inserter + level 0
                val_cell.store(ni, 0)
                base = ni * H
                for level in range(1, height):
                    nxt.store(base + level, 0)
                succ = succs[0]
                nxt.store(base, succ)
                if cas(preds[0] * H, succ, slot) == succ:
                    break
            # linked at level 0: the key is present
            self._len.fetch_add(1, RELAXED)
            if height > 1:
                self._build_tower(g, key, slot, height, preds, succs)
            self._unref(g, slot)
            return True, value
        finally:
            g.unpin()

    def _build_tower(self, g, key: int, ref: int, height: int, preds, succs) -> None:
        H = self.max_height
        nxt = self._next
        nxt_load, cas = nxt.load, nxt.compare_exchange
        keys = self._keys
        key_load = keys.__getitem__
        refs = self._refs
        hp = self._hp
        ni = (ref >> 1) & INDEX_MASK
        base = ni * H
        top = self._top
        t = top.load()
        while t < height:  # levels above the old top: preds[l] is the head, succs[l] null
            witnessed = top.compare_exchange(t, height)
            if witnessed == t:
                break
            t = witnessed
        fresh = False
        for level in range(1, height):
            while True:
                if hp or fresh:
                    # with hazard pointers only the last level searched stays protected
                    self._find(key, g, preds, succs, level)
                    fresh = False
                succ = succs[level]
                mine = nxt_load(base + level)
                if mine & 1:
                    return self._finish_tower(g, key, base, height)
                if succ and key_load((succ >> 1) & INDEX_MASK) == key:
                    # a dead node with our key: let the search unlink it first
                    fresh = True
                    continue
                if cas(base + level, mine, succ) != mine:
                    return self._finish_tower(g, key, base, height)
                refs.fetch_add(ni, 1)
                if cas(preds[level] * H + level, succ, ref) == succ:
                    break
                refs.fetch_sub(ni, 1)  # the inserter's reference keeps it above zero
                fresh = True
        self._finish_tower(g, key, base, height)

    def _finish_tower(self, g, key: int, base: int, height: int) -> None:
        # removed while we built: a level linked after the remover's search must be unlinked
        if self._next.load(base + height - 1) & 1:
            self._find(key, g, None, None)

    def remove(self, key):
        """Remove ``key`` and return its value; KeyError if absent.

        Linearization point: the compare-exchange setting the node's dead bit
        (absent: as ``get``). The tower is then marked top-down and the node
        unlinked by a search, which drops the per-level references.
        """
        value = self.pop(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def pop(self, key, default=_MISSING):
        """Remove ``key`` and return its value, or ``default`` (KeyError if not given) if absent."""
        if type(key) is not int or not INT64_MIN <= key <= INT64_MAX:
            key = check_key(key)
        preds = succs = None
        if not self._hp:  # unpinned preds are usable under epochs: unlink without a second search
            H = self.max_height
            preds = [self._head] * (H + 1)
            succs = [0] * (H + 1)
        g = self.reclaimer.pin()
        try:
            found = self._find(key, g, preds, succs)
            if found:
                value = self._kill(g, key, (found >> 1) & INDEX_MASK, found, preds)
                if value is not _MISSING:
                    return value
        finally:
            g.unpin()
        if default is _MISSING:
            raise KeyError(key)
        return default

    def _kill(self, g, key: int, index: int, ref: int = 0, preds=None):
        """Set node ``index``'s dead bit, mark and unlink it; its value, or _MISSING if it was dead.

        With ``preds`` (from a search under an epoch pin) the node is unlinked
        top-down by compare-exchanges on them, as crossbeam does; a failed one
        falls back to a search, which unlinks what is left.
        """
        val_cell = self._val
        hp = self._hp
        val = g.protect(_HZ_VAL, val_cell, index) if hp else val_cell.load(index)
        while not val & 1:
            witnessed = val_cell.compare_exchange(index, val, val | 1)
            if witnessed == val:
                arena = self.arena
                if val:
                    if arena.sanitize:
                        arena.check(val)
                    value = arena.payload[(val >> 1) & INDEX_MASK]
                else:
                    value = arena.payload[index]
                self._len.fetch_sub(1, RELAXED)
                self._mark_tower(index)
                if preds is None:
                    self._find(key, g, None, None)
                    return value
                H = self.max_height
                nxt = self._next
                for level in range(self._height.load(index) - 1, -1, -1):
                    succ = nxt.load(index * H + level) & ~1
                    if nxt.compare_exchange(preds[level] * H + level, ref, succ) == ref:
                        self._unref(g, ref)
                    else:
                        self._find(key, g, None, None)
                        break
                return value
            val = g.protect(_HZ_VAL, val_cell, index) if hp else witnessed
        self._mark_tower(index)  # help the remover
        return _MISSING

    # -- ends ------------------------------------------------------------------

    def _first_node(self, g) -> int:
        """The first live-looking node at level 0 (protected, cell 1), unlinking dead ones before it."""
        H = self.max_height
        nxt = self._next
        head = self._head
        hp = self._hp
        arena = self.arena
        protect = g.protect
        while True:
            cur = protect(1, nxt, head * H) if hp else nxt.load(head * H)
            if not cur:
                return 0
            if arena.sanitize:
                arena.check(cur)
            ci = (cur >> 1) & INDEX_MASK
            if not (g.protect(_HZ_VAL, self._val, ci) if hp else self._val.load(ci)) & 1:
                return cur
            # dead: finish its removal so it leaves the front
            self._mark_tower(ci)
            self._find(self._key.load(ci), g, None, None)

    def _last_node(self, g) -> int:
        """Index of the last live-looking node at level 0 (protected), 0 if empty."""
        H = self.max_height
        preds = [self._head] * (H + 1)
        succs = [0] * (H + 1)
        head = self._head
        while True:
            # every key is below INT64_MAX + 1: level 0's pred is the last node
            self._find(INT64_MAX + 1, g, preds, succs)
            last = preds[0]
            if last == head:
                return 0
            if self.arena.sanitize:
                self.arena.check((self.arena.version(last) << 32) | (last << 1))
            if not (g.protect(_HZ_VAL, self._val, last) if self._hp else self._val.load(last)) & 1:
                return last
            self._mark_tower(last)
            self._find(self._key.load(last), g, None, None)

    def first(self):
        """(key, value) of the least key; KeyError if empty. Linearization point: the value-cell load
        (empty: the load of head's level-0 pointer that saw null)."""
        g = self.reclaimer.pin()
        try:
            while True:
                ref = self._first_node(g)
                if not ref:
                    raise KeyError("first() of an empty SkipListMap")
                ci = (ref >> 1) & INDEX_MASK
                dead, value = self._value(g, ci)
                if not dead:
                    return self._key.load(ci), value
        finally:
            g.unpin()

    def last(self):
        """(key, value) of the greatest key; KeyError if empty. Linearization point as ``first``."""
        g = self.reclaimer.pin()
        try:
            while True:
                ci = self._last_node(g)
                if not ci:
                    raise KeyError("last() of an empty SkipListMap")
                dead, value = self._value(g, ci)
                if not dead:
                    return self._key.load(ci), value
        finally:
            g.unpin()

    def pop_first(self):
        """Remove and return (key, value) of the least key; KeyError if empty.

        Linearization point: the compare-exchange setting the dead bit of the
        node that was first when read (empty: head's level-0 pointer read null).
        """
        g = self.reclaimer.pin()
        try:
            while True:
                ref = self._first_node(g)
                if not ref:
                    raise KeyError("pop_first() from an empty SkipListMap")
                ci = (ref >> 1) & INDEX_MASK
                key = self._key.load(ci)
                value = self._kill(g, key, ci)
                if value is not _MISSING:
                    return key, value
        finally:
            g.unpin()

    def pop_last(self):
        """Remove and return (key, value) of the greatest key; KeyError if empty (as ``pop_first``)."""
        g = self.reclaimer.pin()
        try:
            while True:
                ci = self._last_node(g)
                if not ci:
                    raise KeyError("pop_last() from an empty SkipListMap")
                key = self._key.load(ci)
                value = self._kill(g, key, ci)
                if value is not _MISSING:
                    return key, value
        finally:
            g.unpin()

    def __len__(self) -> int:
        """Approximate: inserts minus removes so far (exact at rest)."""
        return max(0, self._len.load())

    def __bool__(self) -> bool:
        g = self.reclaimer.pin()
        try:
            return bool(self._first_node(g))
        finally:
            g.unpin()

    # -- iteration ------------------------------------------------------------

    def _collect(self, g, lo: int, hi: int, limit: int):
        """Up to ``limit`` live (key, value) with lo <= key < hi, walking level 0.

        Returns (items, more): ``more`` is True if the walk stopped early (limit
        reached, or a lost unlink race) and should resume after the last item.
        """
        H = self.max_height
        nxt = self._next
        nxt_load, cas = nxt.load, nxt.compare_exchange
        keys = self._keys
        key_load = keys.__getitem__
        hp = self._hp
        protect = g.protect
        arena = self.arena
        san = arena.sanitize
        out = []
        preds = [self._head] * (H + 1)
        succs = [0] * (H + 1)
        self._find(lo, g, preds, succs)
        pred = preds[0]
        cur = succs[0]
        cp, cc = preds[H], succs[H]
        cn = 3 - cp - cc  # cells 0..2: the spare one
        while cur:
            if san:
                arena.check(cur)
            ci = (cur >> 1) & INDEX_MASK
            succ = protect(cn, nxt, ci * H) if hp else nxt_load(ci * H)
            if succ & 1:
                succ -= 1
                if cas(pred * H, cur, succ) == cur:
                    self._unref(g, cur)
                    cur = succ
                    cc, cn = cn, cc
                    continue
                return out, True  # resume with a fresh search
            ck = keys[ci]
            if ck >= hi:
                return out, False
            dead, value = self._value(g, ci)
            if not dead:
                out.append((ck, value))
                if len(out) >= limit:
                    return out, True
            pred = ci
            cur = succ
            cp, cc, cn = cc, cn, cp
        return out, False

    def range(self, lo=None, hi=None, reverse: bool = False):
        """(key, value) for lo <= key < hi (None: unbounded), ascending or descending.

        Weakly consistent (see the class docstring): walks level 0 in batches,
        pinning the reclaimer only while it collects a batch, never across a yield.
        """
        lo = INT64_MIN if lo is None else check_key(lo, "lo")
        hi = INT64_MAX + 1 if hi is None else check_key(hi, "hi")
        if reverse:
            return self._range_desc(lo, hi)
        return self._range_asc(lo, hi)

    def _range_asc(self, lo: int, hi: int):
        pin = self.reclaimer.pin
        while lo < hi:
            g = pin()
            try:
                batch, more = self._collect(g, lo, hi, _BATCH)
            finally:
                g.unpin()
            yield from batch
            if not more:
                return
            if batch:
                lo = batch[-1][0] + 1

    def _range_desc(self, lo: int, hi: int):
        pin = self.reclaimer.pin
        H = self.max_height
        head = self._head
        preds = [head] * (H + 1)
        succs = [0] * (H + 1)
        while lo < hi:
            g = pin()
            try:
                # a batch starts at the level-2 predecessor of hi (about 16 nodes back)
                level = min(2, self._top.load() - 1)
                self._find(hi, g, preds, succs, level)
                start = preds[level]
                start_key = lo if start == head else max(lo, self._key.load(start))
                batch = []
                cursor = start_key
                while True:
                    part, more = self._collect(g, cursor, hi, 1 << 62)
                    batch.extend(part)
                    if not more:
                        break
                    if part:
                        cursor = part[-1][0] + 1
            finally:
                g.unpin()
            yield from reversed(batch)
            if start_key <= lo:
                return
            hi = start_key

    def items(self, reverse: bool = False):
        """All (key, value) pairs in key order (descending if ``reverse``), weakly consistent."""
        return self.range(None, None, reverse)

    def keys(self, reverse: bool = False):
        for key, _ in self.range(None, None, reverse):
            yield key

    def values(self, reverse: bool = False):
        for _, value in self.range(None, None, reverse):
            yield value

    def __iter__(self):
        return self.keys()

    # -- checking ----------------------------------------------------------------

    def audit(self) -> dict[str, int]:
        """Quiescent check of the invariant; returns counts, raises AssertionError if broken.

        First a full search helps unlink anything marked; then level 0 must be
        strictly increasing and unmarked, every upper level a sub-list of the
        level below, and (sanitizer) no slot allocated but unreachable.
        """
        H = self.max_height
        nxt = self._next
        g = self.reclaimer.pin()
        try:
            # help: finish removals of dead nodes, and unlink marked ones at every level
            for level in range(H - 1, -1, -1):
                for key, index in self._level_nodes(level, strict=False):
                    dead = self._val.load(index) & 1
                    marked = any(nxt.load(index * H + l) & 1 for l in range(self._height.load(index)))
                    if dead or marked:
                        self._mark_tower(index)
                        self._find(key, g, None, None)
        finally:
            g.unpin()
        levels = []
        for level in range(H):
            nodes = self._level_nodes(level)
            keys = [k for k, _ in nodes]
            if any(a >= b for a, b in zip(keys, keys[1:])):
                raise AssertionError(f"level {level} is not strictly increasing: {keys[:20]}")
            levels.append(nodes)
        reachable = {self._head}
        live = 0
        for key, index in levels[0]:
            if not self.arena.is_current(self._ref_of(index)):
                raise AssertionError(f"stale slot {index} reachable")
            reachable.add(index)
            if self._keys[index] != key:
                raise AssertionError(f"key mirror of slot {index} is {self._keys[index]}, arena has {key}")
            val = self._val.load(index)
            if val & 1:
                raise AssertionError(f"dead node with key {key} reachable at rest")
            if val:
                reachable.add((val >> 1) & INDEX_MASK)
            live += 1
            if not 1 <= self._height.load(index) <= H:
                raise AssertionError(f"node {key} has height {self._height.load(index)}")
        for level in range(1, H):
            below = {index for _, index in levels[level - 1]}
            for key, index in levels[level]:
                if index not in below:
                    raise AssertionError(f"node {key} at level {level} is not on level {level - 1}")
                if self._height.load(index) <= level:
                    raise AssertionError(f"node {key} linked above its height")
        level_sets = [{i for _, i in nodes} for nodes in levels]
        for key, index in levels[0]:
            expected = sum(1 for level in range(H) if index in level_sets[level])
            if self._refs.load(index) != expected:
                raise AssertionError(
                    f"node {key}: reference count {self._refs.load(index)} != levels linked {expected}")
        if self.arena.sanitize:
            leaked = self.arena.leaks(reachable)
            if leaked:
                raise AssertionError(f"leaked slots (allocated, unreachable, never retired): {leaked[:10]}")
        counts = {"length": live, "counter": self._len.load(), "in_use": self.arena.in_use,
                  "peak": self.arena.peak}
        for level in range(1, H):
            if levels[level]:
                counts[f"level{level}"] = len(levels[level])
        if counts["counter"] != live:
            raise AssertionError(f"length counter {counts['counter']} != live nodes {live}")
        return counts

    def _ref_of(self, index: int) -> int:
        return (self.arena.version(index) << 32) | (index << 1)

    def _level_nodes(self, level: int, strict: bool = True):
        """(key, index) of the nodes linked at ``level`` (quiescent); asserts no marks and no cycles."""
        H = self.max_height
        nxt = self._next
        out = []
        seen = set()
        ref = nxt.load(self._head * H + level)
        while ref:
            if ref & 1:
                if strict:
                    raise AssertionError(f"marked pointer reachable at level {level} at rest")
                ref -= 1
            index = (ref >> 1) & INDEX_MASK
            if index in seen:
                raise AssertionError(f"cycle through slot {index} at level {level}")
            seen.add(index)
            out.append((self._key.load(index), index))
            ref = nxt.load(index * H + level)
        return out
