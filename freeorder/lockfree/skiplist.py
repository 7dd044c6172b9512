"""SkipListMap: a lock-free ordered map from int64 keys to Python objects.

The algorithm is Fraser's / crossbeam-skiplist's: a sorted linked list at
level 0 with express lanes above it, Harris-style marks on the next pointers
(a node whose next pointer at level ``l`` is marked is being unlinked at
``l``), and searches that help unlink marked nodes as they pass them. Two
additions make insert-or-replace atomic:

* every node has a **value cell** ``val``: 0 means "the value is this node's
  own payload"; otherwise it holds the reference of a *value slot* (a slot of
  the same arena used only for its payload). Its mark bit is the **dead bit**.
  Replacing a value is one compare-exchange of this cell; removing a key is
  the compare-exchange that sets the dead bit, so replace and remove of one
  node are totally ordered by that cell.
* a node's tower is marked (top-down, then level 0) only *after* its dead bit
  is set, and a node is unlinked at a level only after that level is marked.

Invariant (at every instant): the keys on level 0 are strictly increasing;
every level above 0 is a sub-list of the one below it, in the same order; a
key is **present** iff a node with that key is linked at level 0 and its
value cell's dead bit is clear -- there is at most one such node per key.

Layout: one arena (it grows on demand up to ``max_capacity``) whose fields
are ``key``, ``height``, ``refs``, ``val`` and one next-pointer array per
level (``next0`` … ``next{max_height-1}``, ``self._nexts``), so a step at
level ``l`` is ``nexts[l].load(index)``. Keys are immutable while a node is
reachable, so hot paths read them from a plain list (``self._keys``, grown
by inserters before they publish a node); ``arena.key`` keeps the copy the
audit and the sanitizer read.

Reclamation: **a reclaimer is required** -- ``EpochCollector`` (the
default), ``HazardRegistry`` (needs ``hazards_per_thread >= 4``: pred,
current, next and value; traversal is hand-over-hand with
publish-then-revalidate, and never steps past a marked node without
unlinking it) or ``NoReclaim``. Counted pointers (versioned references
validated by a compare-exchange, as the Treiber stack and the queue use)
are not enough here: a search reads keys, heights and next pointers of
nodes it reaches by traversal, many steps from any compare-exchange that
could validate them, and then acts on what it read (descends, returns a
value). Each node carries a reference count, as in crossbeam-skiplist: one
for the inserting thread while its insert runs, one per level it is linked
at. The thread whose compare-exchange unlinks the node at a level drops that
level's count; whichever thread drops it to zero retires the node (and its
last value slot) through its guard, exactly once. A value slot replaced by
``insert`` is retired by the thread whose compare-exchange replaced it.

Memory orders: loads use the default SEQ_CST (on x86-64 and AArch64 a
SEQ_CST load costs what an ACQUIRE load does, and a call with no order
argument is the cheapest); publishing compare-exchanges are SEQ_CST; the
RELAXED operations each say why they are enough.

Where CPython still serialises: writing a slot's payload (``alloc``, and
``free`` clearing it) and the key mirror list takes the list's per-object
lock on 3.13t; growing them takes it once per chunk. Reads take no lock.

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

>>> m = SkipListMap()
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
from freeorder.atomic import INT64_MAX, INT64_MIN
from freeorder.reclaim import EpochCollector, NoReclaim

from .arena import DEFAULT_MAX_CAPACITY, INDEX_MASK, INDEX_SHIFT, MARK, Arena, make_ref

_RELAXED = int(atomic.RELAXED)
_NOT_MARK = ~MARK
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

    The arena grows on demand; ``max_capacity`` (default: none but the
    arena's) bounds live nodes plus replaced values and slots awaiting
    reclamation (one more slot is the head); ``initial_capacity`` is what
    it reserves first. ``max_height`` defaults to a height that suits
    ``max_capacity`` (towers grow with probability 1/4 per level).
    """

    def __init__(self, max_capacity: int | None = None, reclaimer=None, max_height: int | None = None,
                 arena_name: str = "SkipListMap", sanitize: bool | None = None,
                 initial_capacity: int | None = None):
        if reclaimer is None:
            reclaimer = EpochCollector()
        bound = DEFAULT_MAX_CAPACITY if max_capacity is None else max_capacity
        if max_height is None:
            max_height = max(4, min(32, (max(bound, 4).bit_length() + 1) // 2 + 1))
        if not 1 <= max_height <= 32:
            raise ValueError(f"max_height={max_height!r} must be in 1..32")
        self._hp = _needs_protect(reclaimer)
        if self._hp and getattr(reclaimer, "hazards_per_thread", 4) < 4:
            raise ValueError("SkipListMap needs a HazardRegistry with hazards_per_thread >= 4")
        self.reclaimer = reclaimer
        self.max_height = H = max_height
        arena_max = None if max_capacity is None else max_capacity + 1
        if initial_capacity is not None:
            initial_capacity = initial_capacity + 1
            if arena_max is not None:
                initial_capacity = min(initial_capacity, arena_max)
        next_fields = tuple(f"next{level}" for level in range(H))
        self.arena = arena = Arena(arena_max, fields=("key", "height", "refs", "val") + next_fields,
                                   name=arena_name, sanitize=sanitize, initial_capacity=initial_capacity,
                                   reclaimer=reclaimer)
        self._san = arena.sanitize
        self._fast = not (self._hp or self._san)  # plain loads, no checks: _find_fast
        self._nexts = tuple(getattr(arena, f) for f in next_fields)
        self._payload = arena.payload
        self._key, self._height, self._refs, self._val = arena.key, arena.height, arena.refs, arena.val
        head = arena.alloc(None)
        # keys are immutable while a node is reachable: hot paths read this plain list
        # (one subscript instead of an atomic call); arena.key keeps a copy for audit/sanitizer.
        # It grows with the slots handed out (as the payload list does), not the capacity
        self._keys = [0] * len(arena.payload)
        self._head = (head >> INDEX_SHIFT) & INDEX_MASK
        self._height.store(self._head, H)
        self._refs.store(self._head, 1)
        self._top = atomic.AtomicInt(1)  # levels in use (only grows)
        self._len = atomic.AtomicInt(0)
        # random heights: P(height > h) = 4**-h
        self._hbits = 2 * (H - 1)

    def __repr__(self) -> str:
        return (f"SkipListMap(len~{len(self)}, capacity={self.arena.capacity - 1}, "
                f"max_capacity={self.arena.max_capacity - 1}, reclaimer={self.reclaimer.name})")

    # -- core ---------------------------------------------------------------

    def _unref(self, g, ref: int, n: int = 1) -> None:
        """Drop ``n`` references to node ``ref``; the thread that drops the last retires it.

        The count's RMWs stay SEQ_CST (acquire-release at least): the thread that drops
        the last must see every unlink the others made before dropping theirs.
        """
        if self._refs.fetch_sub((ref >> INDEX_SHIFT) & INDEX_MASK, n) == n:
            self._retire_node(g, ref)

    def _retire_node(self, g, ref: int) -> None:
        """Retire node ``ref`` (its count reached zero) and its last value slot, exactly once.

        ``ref`` and the value reference are unmarked here, so each is its own ``key_of``.
        """
        arena = self.arena
        value_ref = self._val.load((ref >> INDEX_SHIFT) & INDEX_MASK) & _NOT_MARK
        if value_ref:
            if arena.sanitize:
                arena.mark_retired(value_ref)
            g.retire(arena.free, value_ref, value_ref)
        if arena.sanitize:
            arena.mark_retired(ref)
        g.retire(arena.free, ref, ref)

    def _grow_keys(self, index: int) -> None:
        """Make ``self._keys[index]`` exist (before the node at ``index`` is published)."""
        keys = self._keys
        n = len(keys)
        if index >= n:
            # at least double; concurrent growers may both extend: harmless slack
            keys.extend([0] * max(index + 1 - n, n))

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

        Above ``stop`` a node that ends a level with a key greater than
        ``key`` is not stepped past, so its next pointer is not loaded: the
        search descends from ``pred`` (whose unmarked link to it was just
        read); that node's own remover unlinks it. A node with ``key`` itself
        is always checked, so a remover's search unlinks its node at every level.
        """
        nexts = self._nexts
        keys = self._keys
        refs = self._refs
        hp = self._hp
        protect = g.protect
        arena = self.arena
        san = self._san
        head = self._head
        IS, IM = INDEX_SHIFT, INDEX_MASK
        if not (hp or san):
            return self._find_fast(key, g, preds, succs, stop)
        while True:
            pred = head
            cp, cc, cn = 0, 1, 2
            level = self._top.load() - 1
            cur = 0
            restart = False
            while level >= stop:
                nl = nexts[level]
                cur = protect(cc, nl, pred) if hp else nl.load(pred)
                if cur & 1:
                    restart = True
                    break
                while cur:
                    if san:
                        arena.check(cur)
                    ci = (cur >> IS) & IM
                    ck = keys[ci]
                    if ck > key and level > stop:
                        break
                    succ = protect(cn, nl, ci) if hp else nl.load(ci)
                    if succ & 1:
                        succ -= 1
                        if nl.compare_exchange(pred, cur, succ) == cur:
                            if refs.fetch_sub(ci, 1) == 1:
                                self._retire_node(g, cur)
                            cur = succ
                            cc, cn = cn, cc
                            continue
                        restart = True
                        break
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
                preds[-1] = cp  # the hazard cells guarding pred and succ of level ``stop``
                succs[-1] = cc
            if cur and keys[(cur >> IS) & IM] == key:
                return cur
            return 0

    def _find_fast(self, key: int, g, preds, succs, stop: int) -> int:
        """``_find`` under an epoch (or no) reclaimer and no sanitizer: the same search with
        plain loads, no hazard cells to rotate and no checks (the hot path of insert and pop)."""
        nexts = self._nexts
        keys = self._keys
        refs = self._refs
        top = self._top
        head = self._head
        IS, IM = INDEX_SHIFT, INDEX_MASK
        while True:
            pred = head
            level = top.load() - 1
            cur = 0
            restart = False
            while level >= stop:
                nl = nexts[level]
                cur = nl.load(pred)
                if cur & 1:
                    restart = True
                    break
                while cur:
                    ci = (cur >> IS) & IM
                    if keys[ci] < key:  # step past cur (unlinking it if marked)
                        succ = nl.load(ci)
                        if succ & 1:
                            succ -= 1
                            if nl.compare_exchange(pred, cur, succ) == cur:
                                if refs.fetch_sub(ci, 1) == 1:
                                    self._retire_node(g, cur)
                                cur = succ
                                continue
                            restart = True
                            break
                        pred = ci
                        cur = succ
                        continue
                    if level > stop and keys[ci] > key:
                        break  # ends this level: descend from pred (see _find)
                    succ = nl.load(ci)
                    if succ & 1:  # cur ends the search but is marked: unlink it, go on
                        succ -= 1
                        if nl.compare_exchange(pred, cur, succ) == cur:
                            if refs.fetch_sub(ci, 1) == 1:
                                self._retire_node(g, cur)
                            cur = succ
                            continue
                        restart = True
                    break
                if restart:
                    break
                if preds is not None:
                    preds[level] = pred
                    succs[level] = cur
                level -= 1
            if restart:
                continue
            if preds is not None:
                preds[-1], succs[-1] = 0, 1  # hazard cells: unused without hazard pointers
            if cur and keys[(cur >> IS) & IM] == key:
                return cur
            return 0

    def _value(self, g, index: int):
        """(dead, value) of node ``index``; the value read under protection."""
        val = g.protect(_HZ_VAL, self._val, index) if self._hp else self._val.load(index)
        if val & MARK:
            return True, None
        if val:
            if self._san:
                self.arena.check(val)
            return False, self._payload[(val >> INDEX_SHIFT) & INDEX_MASK]
        return False, self._payload[index]

    def _mark_tower(self, index: int) -> bool:
        """Mark node ``index``'s next pointers top-down; True if this call marked level 0."""
        nexts = self._nexts
        for level in range(self._height.load(index) - 1, 0, -1):
            nexts[level].fetch_or(index, MARK)
        return not nexts[0].fetch_or(index, MARK) & MARK

    # -- point operations --------------------------------------------------

    def get(self, key, default=None):
        """The value for ``key``, or ``default``.

        Linearization point: the load of the node's value cell (present), or
        the later of the level-0 load that reached the dead node / its
        successor and the dead bit being set (absent).
        """
        if type(key) is not int or not INT64_MIN <= key <= INT64_MAX:
            key = check_key(key)
        g = self.reclaimer.pin()
        try:
            if not self._fast:
                found = self._find(key, g, None, None)
                if not found:
                    return default
                dead, value = self._value(g, (found >> INDEX_SHIFT) & INDEX_MASK)
                return default if dead else value
            # epoch / none fast path: a read-only descent that still helps unlink
            nexts = self._nexts
            keys = self._keys
            val_cell = self._val
            payload = self._payload
            head = self._head
            IS, IM = INDEX_SHIFT, INDEX_MASK
            while True:
                pred = head
                level = self._top.load() - 1
                restart = False
                while level >= 0:
                    nl = nexts[level]
                    cur = nl.load(pred)
                    if cur & 1:
                        restart = True
                        break
                    while cur:
                        ci = (cur >> IS) & IM
                        if keys[ci] < key:
                            # step past cur: load its next (unlinking cur if that is marked)
                            succ = nl.load(ci)
                            if succ & 1:
                                succ -= 1
                                if nl.compare_exchange(pred, cur, succ) == cur:
                                    self._unref(g, cur)
                                    cur = succ
                                    continue
                                restart = True
                                break
                            pred = ci
                            cur = succ
                            continue
                        if keys[ci] == key:
                            # present iff the dead bit is clear (a marked node is dead); if
                            # dead, only a level-0 sighting proves absence
                            val = val_cell.load(ci)
                            if not val & 1:
                                return payload[(val >> IS) & IM] if val else payload[ci]
                            if level == 0:
                                return default
                        # cur ends this level (its key is >= key): descend from pred, whose
                        # unmarked link to cur was just read -- cur's own next is not needed
                        break
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
        san = self._san
        nexts = self._nexts
        next0 = nexts[0]
        val_cell = self._val
        hp = self._hp
        payload = self._payload
        IS, IM = INDEX_SHIFT, INDEX_MASK
        slot = 0  # a slot allocated for value, used as the node or as a value slot
        slots = None
        preds = [self._head] * (H + 1)
        succs = [0] * (H + 1)
        g = self.reclaimer.pin()
        try:
            fast = self._fast
            while True:
                if fast:
                    found = self._find_fast(key, g, preds, succs, 0)
                else:
                    found = self._find(key, g, preds, succs)
                if found:
                    fi = (found >> IS) & IM
                    val = g.protect(_HZ_VAL, val_cell, fi) if hp else val_cell.load(fi)
                    while not val & MARK:
                        if not replace:
                            if slot:  # never published: straight back to the arena
                                if san:
                                    arena.mark_retired(slot)
                                slots.free(slot)
                            if san and val:
                                arena.check(val)
                            return False, payload[(val >> IS) & IM] if val else payload[fi]
                        if not slot:
                            slots = arena.local()
                            slot = slots.alloc(value)
                        witnessed = val_cell.compare_exchange(fi, val, slot)
                        if witnessed == val:
                            if val:  # the replaced value slot: unmarked, its own key_of
                                if san:
                                    arena.mark_retired(val)
                                g.retire(arena.free, val, val)
                            return False, value
                        val = g.protect(_HZ_VAL, val_cell, fi) if hp else witnessed
                    # dead but maybe not yet marked: help its remover, then search again
                    self._mark_tower(fi)
                    continue
                if not slot:
                    slots = arena.local()
                    slot = slots.alloc(value)
                ni = (slot >> IS) & IM
                bits = self._hbits
                if bits:
                    r = _getrandbits(bits) | (1 << bits)
                    height = (((r & -r).bit_length() - 1) >> 1) + 1
                else:
                    height = 1
                keys = self._keys
                if ni >= len(keys):
                    self._grow_keys(ni)
                # a plain list store: the SEQ_CST compare-exchange below publishes it as it does
                # the RELAXED stores (a reader subscripts the list after loading the reference)
                keys[ni] = key
                # RELAXED stores into the unpublished node: the SEQ_CST compare-exchange that
                # links it at level 0 publishes them (readers load its reference SEQ_CST)
                self._key.store(ni, key, _RELAXED)
                self._height.store(ni, height, _RELAXED)
                # the inserter + one per level it will link, taken in advance: the levels
                # it does not link are given back with the inserter's own at the end
                self._refs.store(ni, 1 + height, _RELAXED)
                val_cell.store(ni, 0, _RELAXED)
                for level in range(1, height):
                    nexts[level].store(ni, 0, _RELAXED)
                succ = succs[0]
                next0.store(ni, succ, _RELAXED)
                if next0.compare_exchange(preds[0], succ, slot) == succ:
                    break
            # linked at level 0: the key is present
            self._len.fetch_add(1, _RELAXED)  # RELAXED: a statistic, exact only at rest
            if height > 1:
                drop = height - self._build_tower(g, key, slot, height, preds, succs)
            else:
                drop = 1
            if self._refs.fetch_sub(ni, drop) == drop:  # the inserter's and any unused levels'
                self._retire_node(g, slot)
            return True, value
        finally:
            g.unpin()

    def _build_tower(self, g, key: int, ref: int, height: int, preds, succs) -> int:
        """Link node ``ref`` at levels 1..height-1, bottom-up; returns how many it linked.

        Stops at the first level found marked (a remover got there first). Its
        count was taken in advance (see ``_insert``), so a level costs two
        compare-exchanges: our next pointer to the successor, then the link.
        """
        nexts = self._nexts
        keys = self._keys
        hp = self._hp
        fast = self._fast
        ni = (ref >> INDEX_SHIFT) & INDEX_MASK
        top = self._top
        # a search that reads a stale (lower) top only starts lower: each level is a
        # sub-list of the one below, so it stays correct, and raising it needs no order
        # beyond the compare-exchange's own
        t = top.load()
        while t < height:  # levels above the old top: preds[l] is the head, succs[l] null
            witnessed = top.compare_exchange(t, height)
            if witnessed == t:
                break
            t = witnessed
        fresh = False
        for level in range(1, height):
            nl = nexts[level]
            mine = 0  # stored before publication; until linked here only a remover's mark changes it
            while True:
                if hp or fresh:
                    # with hazard pointers only the last level searched stays protected
                    if fast:
                        self._find_fast(key, g, preds, succs, level)
                    else:
                        self._find(key, g, preds, succs, level)
                    fresh = False
                succ = succs[level]
                if succ and keys[(succ >> INDEX_SHIFT) & INDEX_MASK] == key:
                    # a dead node with our key: let the search unlink it first
                    fresh = True
                    continue
                if nl.compare_exchange(ni, mine, succ) != mine:
                    self._finish_tower(g, key, ni, height)  # marked: being removed
                    return level - 1
                mine = succ
                if nl.compare_exchange(preds[level], succ, ref) == succ:
                    break
                fresh = True
        self._finish_tower(g, key, ni, height)
        return height - 1

    def _finish_tower(self, g, key: int, ni: int, height: int) -> None:
        # removed while we built: a level linked after the remover's search must be unlinked
        if self._nexts[height - 1].load(ni) & MARK:
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
            if self._fast:
                found = self._find_fast(key, g, preds, succs, 0)
            else:
                found = self._find(key, g, preds, succs)
            if found:
                value = self._kill(g, key, (found >> INDEX_SHIFT) & INDEX_MASK, found, preds)
                if value is not _MISSING:
                    return value
        finally:
            g.unpin()
        if default is _MISSING:
            raise KeyError(key)
        return default

    def remove_if(self, key, expected) -> bool:
        """Remove ``key`` only while it maps to the object ``expected`` (by identity).

        True if this call removed it; False if the key is absent or maps to
        another object. A compare-and-remove: with values that are never
        reused (fresh objects), repeating it is harmless, which is what makes
        it an idempotent step for helpers that may run it late. Linearization
        point: the compare-exchange setting the dead bit (False: the load of
        the value cell that showed another value, or as ``get``).
        """
        if type(key) is not int or not INT64_MIN <= key <= INT64_MAX:
            key = check_key(key)
        g = self.reclaimer.pin()
        try:
            found = self._find(key, g, None, None)
            if found:
                return self._kill(g, key, (found >> INDEX_SHIFT) & INDEX_MASK, found, None, expected) is not _MISSING
            return False
        finally:
            g.unpin()

    def _kill(self, g, key: int, index: int, ref: int = 0, preds=None, expected=_MISSING):
        """Set node ``index``'s dead bit, mark and unlink it; its value, or _MISSING if it was dead.

        With ``preds`` (from a search under an epoch pin) the node is unlinked
        top-down by compare-exchanges on them, as crossbeam does; a failed one
        falls back to a search, which unlinks what is left.
        """
        val_cell = self._val
        hp = self._hp
        val = g.protect(_HZ_VAL, val_cell, index) if hp else val_cell.load(index)
        while not val & MARK:
            if expected is not _MISSING:  # remove_if: only while the value is ``expected``
                current = self._payload[(val >> INDEX_SHIFT) & INDEX_MASK] if val else self._payload[index]
                if current is not expected:
                    return _MISSING
            # SEQ_CST: the dead bit is the linearization point of the removal, and the
            # tower's marks (SEQ_CST fetch_or) must follow it in every thread's view
            witnessed = val_cell.compare_exchange(index, val, val | MARK)
            if witnessed == val:
                if val:
                    if self._san:
                        self.arena.check(val)
                    value = self._payload[(val >> INDEX_SHIFT) & INDEX_MASK]
                else:
                    value = self._payload[index]
                self._len.fetch_sub(1, _RELAXED)  # RELAXED: a statistic, exact only at rest
                # mark the tower top-down (inline _mark_tower)
                nexts = self._nexts
                height = self._height.load(index)
                for level in range(height - 1, -1, -1):
                    nexts[level].fetch_or(index, MARK)
                if preds is None:
                    self._find(key, g, None, None)
                    return value
                unlinked = 0
                for level in range(height - 1, -1, -1):
                    nl = nexts[level]
                    succ = nl.load(index) & _NOT_MARK
                    if nl.compare_exchange(preds[level], ref, succ) != ref:
                        break
                    unlinked += 1
                # one count per level this thread unlinked, dropped at once
                if unlinked and self._refs.fetch_sub(index, unlinked) == unlinked:
                    self._retire_node(g, ref)
                if unlinked < height:
                    self._find(key, g, None, None)  # unlinks what is left
                return value
            val = g.protect(_HZ_VAL, val_cell, index) if hp else witnessed
        self._mark_tower(index)  # help the remover
        return _MISSING

    # -- ends ------------------------------------------------------------------

    def _first_node(self, g) -> int:
        """The first live-looking node at level 0 (protected, cell 1), unlinking dead ones before it."""
        next0 = self._nexts[0]
        head = self._head
        hp = self._hp
        protect = g.protect
        while True:
            cur = protect(1, next0, head) if hp else next0.load(head)
            if not cur:
                return 0
            if self._san:
                self.arena.check(cur)
            ci = (cur >> INDEX_SHIFT) & INDEX_MASK
            if not (protect(_HZ_VAL, self._val, ci) if hp else self._val.load(ci)) & MARK:
                return cur
            # dead: finish its removal so it leaves the front
            self._mark_tower(ci)
            self._find(self._keys[ci], g, None, None)

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
            if self._san:
                self.arena.check(make_ref(last, self.arena.version(last)))
            if not (g.protect(_HZ_VAL, self._val, last) if self._hp else self._val.load(last)) & MARK:
                return last
            self._mark_tower(last)
            self._find(self._keys[last], g, None, None)

    def first(self):
        """(key, value) of the least key; KeyError if empty. Linearization point: the value-cell load
        (empty: the load of head's level-0 pointer that saw null)."""
        g = self.reclaimer.pin()
        try:
            while True:
                ref = self._first_node(g)
                if not ref:
                    raise KeyError("first() of an empty SkipListMap")
                ci = (ref >> INDEX_SHIFT) & INDEX_MASK
                dead, value = self._value(g, ci)
                if not dead:
                    return self._keys[ci], value
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
                    return self._keys[ci], value
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
                ci = (ref >> INDEX_SHIFT) & INDEX_MASK
                key = self._keys[ci]
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
                key = self._keys[ci]
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
        next0 = self._nexts[0]
        keys = self._keys
        hp = self._hp
        protect = g.protect
        arena = self.arena
        san = self._san
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
            ci = (cur >> INDEX_SHIFT) & INDEX_MASK
            succ = protect(cn, next0, ci) if hp else next0.load(ci)
            if succ & MARK:
                succ -= MARK
                if next0.compare_exchange(pred, cur, succ) == cur:
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

    def range(self, lo=None, hi=None, reverse: bool = False, *, batch: int = _BATCH):
        """(key, value) for lo <= key < hi (None: unbounded), ascending or descending.

        Weakly consistent (see the class docstring): walks level 0 in batches
        (of ``batch`` items ascending: a caller that reads only the first few
        asks for a small one), pinning the reclaimer only while it collects a
        batch, never across a yield.
        """
        lo = INT64_MIN if lo is None else check_key(lo, "lo")
        hi = INT64_MAX + 1 if hi is None else check_key(hi, "hi")
        if reverse:
            return self._range_desc(lo, hi)
        return self._range_asc(lo, hi, batch)

    def _range_asc(self, lo: int, hi: int, size: int = _BATCH):
        pin = self.reclaimer.pin
        while lo < hi:
            g = pin()
            try:
                batch, more = self._collect(g, lo, hi, size)
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
                start_key = lo if start == head else max(lo, self._keys[start])
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
        nexts = self._nexts
        arena = self.arena
        g = self.reclaimer.pin()
        try:
            # help: finish removals of dead nodes, and unlink marked ones at every level
            for level in range(H - 1, -1, -1):
                for key, index in self._level_nodes(level, strict=False):
                    dead = self._val.load(index) & MARK
                    marked = any(nexts[lv].load(index) & MARK for lv in range(self._height.load(index)))
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
            if arena.sanitize and not arena.is_current(make_ref(index, arena.version(index))):
                raise AssertionError(f"stale slot {index} reachable")
            reachable.add(index)
            if self._keys[index] != key:
                raise AssertionError(f"key mirror of slot {index} is {self._keys[index]}, arena has {key}")
            val = self._val.load(index)
            if val & MARK:
                raise AssertionError(f"dead node with key {key} reachable at rest")
            if val:
                reachable.add((val >> INDEX_SHIFT) & INDEX_MASK)
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
        arena.assert_no_leaks(reachable)
        counts = {"length": live, "counter": self._len.load(), "in_use": arena.in_use, "peak": arena.peak}
        for level in range(1, H):
            if levels[level]:
                counts[f"level{level}"] = len(levels[level])
        if counts["counter"] != live:
            raise AssertionError(f"length counter {counts['counter']} != live nodes {live}")
        return counts

    def _level_nodes(self, level: int, strict: bool = True):
        """(key, index) of the nodes linked at ``level`` (quiescent); asserts no marks and no cycles."""
        nl = self._nexts[level]
        out = []
        seen = set()
        ref = nl.load(self._head)
        while ref:
            if ref & MARK:
                if strict:
                    raise AssertionError(f"marked pointer reachable at level {level} at rest")
                ref -= MARK
            index = (ref >> INDEX_SHIFT) & INDEX_MASK
            if index in seen:
                raise AssertionError(f"cycle through slot {index} at level {level}")
            seen.add(index)
            out.append((self._key.load(index), index))
            ref = nl.load(index)
        return out
