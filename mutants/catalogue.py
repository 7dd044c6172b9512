"""Hand-written mutants of freeorder/lockfree/, freeorder/reclaim/ and the lock-free engine's helping
protocol (freeorder/engines/lockfree.py): planted bugs the suite must catch.

Each ``Mutant`` replaces one snippet of one file (``old`` must occur exactly
once) and names the tests that cover it (pytest arguments, run from the tree's
root). ``equivalent`` is None for a real bug, else one line on why the
change cannot be observed (the mutation report lists these apart and leaves
them out of the score). ``nox -s mutants`` applies each in a temporary copy of
the tree (mutants/run.py) and runs its tests three times: killed means the
tests failed in all three runs.

Kinds: ``aba`` (a version/tag dropped), ``cas-to-store`` (a compare-exchange
done as check-then-store or a plain store), ``helping`` (a helping step
removed: still correct, no longer non-blocking), ``reclaim`` (a slot freed too
early or never), ``logic`` (a wrong condition or a missing step).
"""

from __future__ import annotations

from dataclasses import dataclass

ARENA = "freeorder/lockfree/arena.py"
TREIBER = "freeorder/lockfree/treiber.py"
QUEUE = "freeorder/lockfree/msqueue.py"
SKIPLIST = "freeorder/lockfree/skiplist.py"
INDEX = "freeorder/lockfree/order_index.py"
SEQLOCK = "freeorder/lockfree/seqlock.py"
LOG = "freeorder/lockfree/command_log.py"
EPOCH = "freeorder/reclaim/epoch.py"
HAZARD = "freeorder/reclaim/hazard.py"
REGISTRY = "freeorder/reclaim/registry.py"
ENGINE = "freeorder/engines/lockfree.py"

# covering tests, by what they exercise (fast ones first: pytest -x stops at the first failure)
COUNTED = ["tests/test_model_counted.py::test_counted_stack_every_schedule",
           "tests/test_model_counted.py::test_counted_queue_every_schedule"]
GUARDED = ["tests/test_model_counted.py::test_guarded_two_threads_every_schedule"]
T_ARENA = ["tests/test_model_arena.py", "tests/test_stack_queue.py", *COUNTED]
T_ARENA_FULL = ["tests/test_stack_queue.py", "tests/test_reclaim.py", "tests/test_no_failure_under_load.py",
                "tests/test_model_arena.py"]
T_STACK = ["tests/test_stack_queue.py", *COUNTED, *GUARDED, "-k", "stack or Stack"]
T_STACK_COUNTED = [*COUNTED, "tests/test_stack_queue.py"]
T_QUEUE = ["tests/test_freeze_helping.py", "tests/test_stack_queue.py", *COUNTED, *GUARDED,
           "-k", "queue or Queue or enqueue or dequeue"]
T_SKIP = ["tests/test_skiplist.py", "tests/test_model_skiplist.py"]
T_INDEX = ["tests/test_order_index.py", "tests/test_model_order_index.py"]
T_SEQ = ["tests/test_seqlock.py", "tests/test_verify_structures.py::test_seqlock_every_schedule"]
T_LOG = ["tests/test_command_log.py", "tests/test_freeze_helping.py"]
T_RECLAIM = ["tests/test_reclaim.py", *GUARDED, "tests/test_model_skiplist.py"]
T_REGISTRY = ["tests/test_model_arena.py", "tests/test_reclaim.py"]
T_ENGINE = ["tests/test_engine_lockfree.py", "tests/test_engine_lockfree_model.py"]
T_ENGINE_MODEL = ["tests/test_engine_lockfree_model.py", "tests/test_engine_lockfree.py"]
T_ENGINE_PROGRESS = ["tests/test_engine_lockfree.py", "-k", "frozen or stalled"]


@dataclass(frozen=True)
class Mutant:
    id: str
    file: str
    old: str
    new: str
    tests: tuple
    kind: str
    what: str
    equivalent: str | None = None


def m(id, file, old, new, tests, kind, what, equivalent=None) -> Mutant:
    return Mutant(id, file, old, new, tuple(tests), kind, what, equivalent)


MUTANTS = [
    # ---- arena ----------------------------------------------------------------------------
    m("arena-free-no-version", ARENA,
      "cache.append(((ref & ~MARK) + VERSION_ONE) & REF_MASK)", "cache.append(ref & ~MARK)",
      T_ARENA, "aba", "a freed slot keeps its version: the free chain's head loses its ABA tag"),
    m("arena-chain-pop-store", ARENA,
      "            witnessed = head_cell.compare_exchange(head, ref)\n            if witnessed == head:\n                taken.reverse()",
      "            witnessed = head_cell.load()\n            if witnessed == head:\n                head_cell.store(ref)\n                taken.reverse()",
      T_ARENA, "cas-to-store", "popping the free chain checks the head, then stores the new head"),
    m("arena-spill-link-once", ARENA,
      "        while True:\n            # RELAXED link store: the SEQ_CST compare-exchange below publishes it (and the batch's links)\n            nxt.store(last, head, _RELAXED)\n",
      "        nxt.store(last, head, _RELAXED)\n        while True:\n",
      T_ARENA, "logic", "a spill retrying its compare-exchange keeps the link to the head it first read"),
    m("arena-spill-store", ARENA,
      "            witnessed = head_cell.compare_exchange(head, first)\n            if witnessed == head:\n                return\n            head = witnessed",
      "            head_cell.store(first)\n            return",
      T_ARENA, "cas-to-store", "a spill stores the free chain's head instead of compare-exchanging it"),
    m("arena-chain-order", ARENA,
      "                taken.reverse()       # the cache pops from its end: hand out the chain's top first\n", "",
      T_ARENA, "logic", "slots taken off the chain are handed out bottom first",
      equivalent="only the order in which free slots are reused changes; every slot taken is free"),
    m("arena-fresh-off-by-one", ARENA,
      "        end = min(first + BUMP_BATCH, limit + 1)   # exclusive",
      "        end = min(first + BUMP_BATCH, limit)   # exclusive",
      T_ARENA_FULL, "logic", "the last slot below max_capacity is never handed out"),
    m("arena-grow-no-break", ARENA,
      "            capacity = self._capacity.compare_exchange(capacity, target)\n            if capacity >= target:\n                break\n",
      "            capacity = self._capacity.compare_exchange(capacity, target)\n",
      T_ARENA_FULL, "logic", "the fetch-max loop of growth loses its early exit",
      equivalent="the loop condition re-checks: the next compare-exchange fails and returns the new capacity"),
    m("arena-steal-own-cache", ARENA,
      "            if slots is None or slots.cache is cache:", "            if slots is None:",
      T_ARENA_FULL, "logic", "a full arena also steals from the thief's own cache (once it holds stolen "
      "slots: pop then append, forever)"),
    m("arena-grow-before-reclaim", ARENA,
      "        if (self._take_chain(cache) or self._help_reclaim(cache) or self._take_fresh(cache)",
      "        if (self._take_chain(cache) or self._take_fresh(cache) or self._help_reclaim(cache)",
      T_ARENA_FULL, "reclaim", "an empty cache grows the arena before letting the reclaimer free slots"),
    # ---- Treiber stack ----------------------------------------------------------------------
    m("stack-push-link-once", TREIBER,
      "        while True:\n            # RELAXED: the SEQ_CST compare-exchange publishing the node orders this store before it\n            nxt_store(index, head, relaxed)\n",
      "        nxt_store(index, head, relaxed)\n        while True:\n",
      T_STACK, "logic", "a push retrying its compare-exchange keeps the link to the head it first read"),
    m("stack-pop-store", TREIBER,
      "            witnessed = head_cas(0, head, nxt_load(index))\n            if witnessed == head:\n                item = payload[index]            # ours now",
      "            witnessed = head_load(0)\n            if witnessed == head:\n                head_cell.store(0, nxt_load(index))\n                item = payload[index]            # ours now",
      T_STACK_COUNTED, "cas-to-store", "a counted-pointer pop checks the head, then stores its successor"),
    m("stack-counted-no-version", TREIBER,
      "cache_append(((head & not_mark) + version_one) & ref_mask)\n                    if len(cache) > cache_limit:\n                        spill(cache)\n                return item",
      "cache_append(head & not_mark)\n                    if len(cache) > cache_limit:\n                        spill(cache)\n                return item",
      T_STACK_COUNTED, "aba", "a counted-pointer pop frees the slot without bumping its version (ABA on head)"),
    m("stack-pop-free-not-retire", TREIBER,
      "                    guard.retire(free, head, key_of(head))", "                    free(head)",
      T_STACK, "reclaim", "a guarded pop frees the slot at once instead of retiring it"),
    m("stack-pop-unprotected", TREIBER,
      "                retries += 1\n                head = guard.protect(0, head_cell, 0)",
      "                retries += 1\n                head = head_cell.load(0)",
      T_STACK, "reclaim", "a guarded pop's retry reads the head without protecting it"),
    m("stack-peek-unvalidated", TREIBER,
      "                if head_load(0) == head:         # the slot was not popped (and reused) meanwhile\n                    return item",
      "                return item",
      T_STACK_COUNTED, "logic", "peek reports the item of a head it never re-confirmed"),
    # ---- MS queue -----------------------------------------------------------------------------
    m("queue-enqueue-no-help", QUEUE,
      "            else:\n                # help a lagging tail; fails harmlessly if tail moved (or was reused) meanwhile\n                tail_cas(0, tail, after)\n",
      "            else:\n                pass\n",
      T_QUEUE, "helping", "an enqueuer that finds the tail lagging waits instead of swinging it"),
    m("queue-dequeue-no-help", QUEUE,
      "            if head == tail_load(0):\n                tail_cas(0, head, after)          # help: tail lags behind head's successor\n                continue",
      "            if head == tail_load(0):\n                continue",
      T_QUEUE, "helping", "a dequeuer that finds the tail lagging behind head waits instead of swinging it"),
    m("queue-guarded-enqueue-no-help", QUEUE,
      "                else:\n                    tail_cell.compare_exchange(0, tail, after)\n                retries += 1",
      "                else:\n                    pass\n                retries += 1",
      T_QUEUE, "helping", "under a reclaimer, an enqueuer that finds the tail lagging waits"),
    m("queue-link-store", QUEUE,
      "                if nxt_cas(tail_index, null, ref) == null:",
      "                if nxt_store(tail_index, ref) is None:",
      T_QUEUE, "cas-to-store", "the counted enqueue links its node with a plain store after seeing a null"),
    m("queue-untagged-null", QUEUE,
      "        nxt_store((ref >> shift) & mask, ref & version_bits, relaxed)",
      "        nxt_store((ref >> shift) & mask, 0, relaxed)",
      T_QUEUE, "aba", "a new node's next starts as a plain null instead of its own tagged null"),
    m("queue-item-after-cas", QUEUE,
      "            item = payload[(after >> shift) & mask]   # validated by the exchange below\n            if head_cas(0, head, after) == head:\n",
      "            if head_cas(0, head, after) == head:\n                item = payload[(after >> shift) & mask]\n",
      T_QUEUE, "reclaim", "the counted dequeue reads the item after its exchange, when the node may be reused"),
    m("queue-counted-no-version", QUEUE,
      "cache_append(((head & not_mark) + version_one) & ref_mask)",
      "cache_append(head & not_mark)",
      T_QUEUE, "aba", "a counted dequeue frees the old dummy without bumping its version"),
    m("queue-dequeue-head-recheck", QUEUE,
      "                after = guard.protect(1, nxt, (head >> INDEX_SHIFT) & INDEX_MASK)\n                if head != head_cell.load(0):\n                    continue\n",
      "                after = guard.protect(1, nxt, (head >> INDEX_SHIFT) & INDEX_MASK)\n",
      T_QUEUE, "reclaim", "a guarded dequeue protects head's successor without re-checking head"),
    # ---- SkipListMap --------------------------------------------------------------------------
    m("skip-no-tower-marks", SKIPLIST,
      "                for level in range(height - 1, -1, -1):\n                    nexts[level].fetch_or(index, MARK)\n                if preds is None:",
      "                if preds is None:",
      T_SKIP, "logic", "a removal sets the dead bit but never marks the tower (Harris's logical delete)"),
    m("skip-link-store", SKIPLIST,
      "                if next0.compare_exchange(preds[0], succ, slot) == succ:\n                    break",
      "                next0.store(preds[0], slot)\n                break",
      T_SKIP, "cas-to-store", "an insert links its node at level 0 with a plain store"),
    m("skip-dead-bit-store", SKIPLIST,
      "            witnessed = val_cell.compare_exchange(index, val, val | MARK)\n            if witnessed == val:\n                if val:",
      "            witnessed = val_cell.load(index)\n            if witnessed == val:\n                val_cell.store(index, val | MARK)\n                if val:",
      T_SKIP, "cas-to-store", "a removal checks the value cell, then stores the dead bit"),
    m("skip-replace-free-now", SKIPLIST,
      "                                g.retire(arena.free, val, val)\n                            return False, value",
      "                                arena.free(val)\n                            return False, value",
      T_SKIP, "reclaim", "a replace frees the old value slot at once instead of retiring it"),
    m("skip-find-never-retire", SKIPLIST,
      "                        if nl.compare_exchange(pred, cur, succ) == cur:\n                            if refs.fetch_sub(ci, 1) == 1:\n                                self._retire_node(g, cur)\n                            cur = succ\n                            cc, cn = cn, cc",
      "                        if nl.compare_exchange(pred, cur, succ) == cur:\n                            refs.fetch_sub(ci, 1)\n                            cur = succ\n                            cc, cn = cn, cc",
      T_SKIP, "reclaim", "a search that unlinks a node drops its count but never retires it (a leak)"),
    m("skip-get-ignores-dead", SKIPLIST,
      "                            if not val & 1:\n                                return payload[(val >> IS) & IM] if val else payload[ci]",
      "                            if True:\n                                return payload[(val >> IS) & IM] if val else payload[ci]",
      T_SKIP, "logic", "get returns the value of a node whose dead bit is set"),
    m("skip-tower-next-store", SKIPLIST,
      "                if nl.compare_exchange(ni, mine, succ) != mine:\n                    self._finish_tower(g, key, ni, height)  # marked: being removed\n                    return level - 1\n",
      "                nl.store(ni, succ)\n",
      T_SKIP, "cas-to-store", "building a tower overwrites its own next pointer, erasing a remover's mark"),
    m("skip-value-slot-leak", SKIPLIST,
      "        if value_ref:\n            if arena.sanitize:\n                arena.mark_retired(value_ref)\n            g.retire(arena.free, value_ref, value_ref)\n",
      "",
      T_SKIP, "reclaim", "retiring a node forgets its last value slot (a leak)"),
    # ---- OrderIndex ---------------------------------------------------------------------------
    m("index-no-mark", INDEX,
      "                        witnessed = nxt.compare_exchange(ci, succ, succ | MARK)",
      "                        witnessed = succ",
      T_INDEX, "logic", "a removal unlinks the node without marking it first"),
    m("index-link-store", INDEX,
      "                if nxt.compare_exchange(pred, cur, ref) == cur:\n                    self._len.fetch_add(1, _RELAXED)",
      "                nxt.store(pred, ref)\n                if True:\n                    self._len.fetch_add(1, _RELAXED)",
      T_INDEX, "cas-to-store", "an insert links its node with a plain store"),
    m("index-next-once", INDEX,
      "                    self._key.store(ni, key, _RELAXED)\n                # RELAXED: as the key store (a retry rewrites it before its own compare-exchange)\n                nxt.store(ni, cur, _RELAXED)\n",
      "                    self._key.store(ni, key, _RELAXED)\n                    nxt.store(ni, cur, _RELAXED)\n",
      T_INDEX, "logic", "an insert that retries keeps the successor it read first"),
    m("index-unlink-no-retire", INDEX,
      "                    if nxt.compare_exchange(pred, cur, succ) == cur:\n                        self._retire(g, cur)  # this thread unlinked it: it retires it\n",
      "                    if nxt.compare_exchange(pred, cur, succ) == cur:\n                        pass\n",
      T_INDEX, "reclaim", "a search that unlinks a marked node never retires it (a leak)"),
    m("index-pop-no-help", INDEX,
      "                            else:\n                                self._find(key, g, head)  # unlinks (and retires) it\n",
      "                            else:\n                                pass\n",
      T_INDEX, "logic", "a removal whose unlink lost a race leaves the node for a later search",
      equivalent="every search unlinks and retires the marked nodes it passes (the audit's search too); "
                 "the node is invisible to get and insert once marked"),
    m("index-get-ignores-mark", INDEX,
      "                    if succ & 1:\n                        break  # cur is being removed: search again, helping\n",
      "",
      T_INDEX, "logic", "get reports a node that is already marked removed"),
    # ---- SeqLock ------------------------------------------------------------------------------
    m("seqlock-no-recheck", SEQLOCK,
      "                if seq.load(RELAXED) == before:", "                if True:",
      T_SEQ, "logic", "a reader keeps its copy without re-reading the sequence"),
    m("seqlock-claim-store", SEQLOCK,
      "                witnessed = seq.compare_exchange(current, current + 1)",
      "                witnessed = current\n                seq.store(current + 1)",
      T_SEQ, "cas-to-store", "a writer claims the record with a plain store"),
    m("seqlock-update-raise-stuck", SEQLOCK,
      "        except BaseException:\n            self._seq.store(start + 2, RELEASE)\n            raise",
      "        except BaseException:\n            raise",
      T_SEQ, "logic", "an update whose function raises leaves the record claimed forever"),
    # ---- CommandLog (the engines' command log) ---------------------------------------------------
    m("log-link-store", LOG,
      "            if cell.compare_exchange(0, ident) == 0:", "            if cell.store(ident) is None:",
      T_LOG, "cas-to-store", "an append links its entry with a plain store after seeing a null next"),
    m("log-append-no-help", LOG,
      "            if after:\n                tail_cas(tail_id, after)             # help a lagging tail\n                continue",
      "            if after:\n                continue",
      T_LOG, "helping", "an appender that finds the tail lagging waits instead of swinging it"),
    # ---- epoch reclamation ------------------------------------------------------------------------
    m("epoch-one-epoch", EPOCH,
      "    while bags and bags[0][0] + 2 <= now and limit != 0:",
      "    while bags and bags[0][0] + 1 <= now and limit != 0:",
      T_RECLAIM, "reclaim", "a bag is freed one epoch after sealing instead of two"),
    m("epoch-advance-ignores-pins", EPOCH,
      "            if word & 1 and word >> 1 != now:\n                return False",
      "            if word & 1 and word >> 1 > now:\n                return False",
      T_RECLAIM, "reclaim", "the epoch advances past threads still pinned in an older epoch"),
    m("epoch-unpin-stays-pinned", EPOCH,
      "            self._store(self._index, 0, _RELEASE)\n            countdown",
      "            countdown",
      T_RECLAIM, "reclaim", "unpin never clears the thread's epoch word (the epoch stalls)"),
    m("epoch-orphans-early", EPOCH,
      "            if epoch + 2 <= now:\n                freed += _run_ready(",
      "            if True:\n                freed += _run_ready(",
      T_RECLAIM, "reclaim", "an exited thread's garbage is freed without waiting two epochs"),
    m("epoch-exit-drops-garbage", EPOCH,
      "        while guard._sealed:\n            self._orphans.append(guard._sealed.popleft())\n",
      "        guard._sealed.clear()\n",
      T_RECLAIM, "reclaim", "an exiting thread's garbage is dropped instead of orphaned (a leak)"),
    # ---- hazard pointers --------------------------------------------------------------------------
    m("hazard-no-revalidate", HAZARD,
      "            again = array.load(index)\n            if again == ref:\n                return ref\n            ref = again",
      "            return ref",
      T_RECLAIM, "reclaim", "protect publishes the hazard but does not re-read the source"),
    m("hazard-scan-skips-last-thread", HAZARD,
      "for base in range(0, self._registry.high * stride, stride)",
      "for base in range(0, (self._registry.high - 1) * stride, stride)",
      T_RECLAIM, "reclaim", "a scan ignores the hazards of the last registered thread"),
    m("hazard-unpin-keeps-hazards", HAZARD,
      "                if used & 1:\n                    # RELEASE: our reads of the slot happen-before a scan that sees the cell clear\n                    hz.store(cell, 0, _RELEASE)\n",
      "",
      T_RECLAIM, "reclaim", "unpin leaves the hazard cells set (slots they name are never freed)"),
    m("hazard-scan-by-ref", HAZARD,
      "            if item[2] in hazards:", "            if item[1] in hazards:",
      T_RECLAIM, "reclaim", "a scan compares hazards with the retired reference instead of its key",
      equivalent="every caller retires an unmarked reference, whose key_of is itself: ref == key"),
    # ---- thread-record registry -------------------------------------------------------------------
    m("registry-check-then-store", REGISTRY,
      "            if owners.load(i, _RELAXED) == 0 and owners.compare_exchange(i, 0, 1) == 0:",
      "            if owners.load(i, _RELAXED) == 0 and owners.store(i, 1) is None:",
      T_REGISTRY, "cas-to-store", "a thread record is claimed by a load that saw it free, then a store"),
    m("registry-never-released", REGISTRY,
      "        self.owners.store(handle.index, 0, _RELEASE)", "        pass",
      T_REGISTRY, "logic", "a thread's record is never given back"),
    m("registry-high-not-raised", REGISTRY,
      "                while high < i + 1:\n                    high = self._high.compare_exchange(high, i + 1)\n",
      "",
      T_RECLAIM, "reclaim", "scans are never told about a new record (epoch and hazard scans miss its thread)"),
    # ---- the lock-free engine's helping protocol (engines/lockfree.py) ------------------------------
    m("engine-plan-store", ENGINE,
      "            token = command.chosen.compare_exchange(0, plan.header) or plan.header",
      "            command.chosen.store(plan.header)\n            token = plan.header",
      T_ENGINE, "cas-to-store", "a helper installs its plan with a plain store (two helpers apply different plans)"),
    m("engine-header-store", ENGINE,
      "        if book.header.compare_exchange(head_stamp, plan.header) == head_stamp:",
      "        if book.header.store(plan.header) is None:",
      T_ENGINE, "cas-to-store", "completion stores the header instead of compare-exchanging it"),
    m("engine-no-announce", ENGINE,
      "        book.applying.compare_exchange(entry.pos - 1, entry.pos)\n",
      "",
      T_ENGINE_MODEL, "logic", "a command is applied without being announced (readers take a half-applied book)"),
    m("engine-never-help", ENGINE,
      "            if entry is not target and _waited_for(header, stamp):\n                continue",
      "            if entry is not target:\n                continue",
      T_ENGINE_PROGRESS, "helping", "a thread waits for another thread's command instead of helping it complete"),
    m("engine-read-no-recheck", ENGINE,
      "                if header.load() == stamp and applying.load() == head[0]:\n                    return value",
      "                return value",
      T_ENGINE, "logic", "a read returns what it read without re-checking that no command moved the book meanwhile"),
    m("engine-reader-never-helps", ENGINE,
      "                    if not _waited_for(header, stamp):\n                        try:",
      "                    if False:\n                        try:",
      T_ENGINE_PROGRESS, "helping", "a reader that finds a command half-applied waits for it instead of helping it finish"),
]
