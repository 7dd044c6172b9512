"""One workload per structure: build it, run one random operation per step, check invariants.

Each workload keeps its own compact record of what happened (per-thread
bitmaps of which items were taken, never a list of every item: 3.13t's GC
walks every live object) and checks it against the structure at the end.
"""

from __future__ import annotations

import random

from freeorder.lockfree import MSQueue, OrderIndex, SeqLock, SkipListMap, TreiberStack
from freeorder.reclaim import make_reclaimer

CAPACITY = {"none": 1 << 23, "epoch": 1 << 17, "hazard": 1 << 17, "counted": 1 << 17}


class Taken:
    """Per-thread bitmaps: which item numbers of each producer this thread took."""

    def __init__(self, threads: int):
        self.maps = [[bytearray() for _ in range(threads)] for _ in range(threads)]

    def mark(self, thread: int, producer: int, k: int) -> None:
        bits = self.maps[thread][producer]
        if k >= len(bits):
            bits.extend(bytes(max(k + 1 - len(bits), len(bits))))
        if bits[k]:
            raise AssertionError(f"item {producer}:{k} taken twice by thread {thread}")
        bits[k] = 1

    def check_exactly_once(self, produced: list[int]) -> list[str]:
        """Every item 0..produced[p]-1 of every producer taken by exactly one thread."""
        problems = []
        for p, n in enumerate(produced):
            union = 0
            for t, row in enumerate(self.maps):
                bits = int.from_bytes(bytes(row[p][:n]).ljust(n, b"\0"), "little") if n else 0
                if union & bits:
                    problems.append(f"producer {p}: some item taken by two threads (second: thread {t})")
                union |= bits
                if len(row[p]) > n and any(row[p][n:]):
                    problems.append(f"producer {p}: thread {t} took an item that was never produced")
            expected = int.from_bytes(b"\1" * n, "little") if n else 0
            if union != expected:
                missing = n - bin(union).count("1")
                problems.append(f"producer {p}: {missing} of {n} items never taken (lost)")
        return problems


class _PutTake:
    """Shared shape of the stack and queue workloads: random put/take, items (producer, k)."""

    structure_class: type
    put_name: str
    take_name: str
    fifo = False

    def __init__(self, threads: int, reclaimer: str, sanitize: bool):
        self.threads = threads
        # "counted": the stack's and queue's default scheme (counted pointers, no reclaimer)
        self.reclaimer = None if reclaimer == "counted" else make_reclaimer(reclaimer)
        self.structure = self.structure_class(
            max_capacity=CAPACITY[reclaimer], reclaimer=self.reclaimer, sanitize=sanitize
        )
        self.produced = [0] * threads
        self.taken = Taken(threads)
        self.last_seen = [[-1] * threads for _ in range(threads)]
        self.order_violations = 0
        self._put = getattr(self.structure, self.put_name)
        self._take = getattr(self.structure, self.take_name)

    def step(self, i: int, rng: random.Random) -> int:
        if rng.random() < 0.5:
            k = self.produced[i]
            self._put(k * self.threads + i)
            self.produced[i] = k + 1
        else:
            item = self._take(None)
            if item is not None:
                self._record(i, item)
        return 1

    def _record(self, thread: int, item: int) -> None:
        producer, k = item % self.threads, item // self.threads
        self.taken.mark(thread, producer, k)
        if self.fifo:
            last = self.last_seen[thread]
            if k <= last[producer]:
                self.order_violations += 1
            last[producer] = k

    def check(self) -> list[str]:
        # drain what is left (as thread 0, after everything stopped)
        self.last_seen[0] = [-1] * self.threads
        while (item := self._take(None)) is not None:
            self._record(0, item)
        problems = self.taken.check_exactly_once(self.produced)
        if self.order_violations:
            problems.append(f"{self.order_violations} per-producer FIFO violations")
        self.structure.audit()
        return problems

    def stats(self) -> dict[str, object]:
        arena = self.structure.arena
        return {
            "cas retries": self.structure.cas_retries,
            **slot_stats(arena),
        }


def slot_stats(arena) -> dict[str, object]:
    """Peak slots against the arena's initial capacity: above it, the arena had to grow
    (reclamation fell behind, or the structure really held that much)."""
    grew = "grew" if arena.peak > arena.initial_capacity else "did not grow"
    return {
        "peak slots in use": f"{arena.peak:,} of an initial capacity of {arena.initial_capacity:,} ({grew}; "
                             f"capacity now {arena.capacity:,})",
        "slots in use at end": arena.in_use,
    }


class StackWorkload(_PutTake):
    structure_class = TreiberStack
    put_name, take_name = "push", "pop"


class QueueWorkload(_PutTake):
    structure_class = MSQueue
    put_name, take_name = "enqueue", "dequeue"
    fifo = True


class SeqLockWorkload:
    """A quarter of the threads write records whose fields are all equal; the rest read."""

    WIDTH = 8

    def __init__(self, threads: int, reclaimer: str, sanitize: bool):
        self.threads = threads
        self.writers = max(1, threads // 4)
        self.lock = SeqLock(self.WIDTH, [0] * self.WIDTH)
        self.writes = [0] * threads
        self.torn = 0
        self.reclaimer = None
        self.structure = self.lock

    def step(self, i: int, rng: random.Random) -> int:
        if i < self.writers:
            k = self.writes[i]
            self.lock.write([k * self.threads + i] * self.WIDTH)
            self.writes[i] = k + 1
        else:
            record = self.lock.read()
            if record.count(record[0]) != self.WIDTH:
                self.torn += 1
        return 1

    def check(self) -> list[str]:
        problems = []
        if self.torn:
            problems.append(f"{self.torn} torn reads")
        if self.lock.version() != sum(self.writes):
            problems.append(f"version {self.lock.version()} != writes {sum(self.writes)}")
        return problems

    def stats(self) -> dict[str, object]:
        return {
            "read retries": self.lock.read_retries.load(),
            "write retries": self.lock.write_retries.load(),
            "writers": self.writers,
        }


class _KeyedWorkload:
    """Random insert/get/pop on a small key range of a map-like structure.

    Values encode their key (``value % KEYS == key``), so a get that returns
    another key's value is caught at once. Per thread and key, the workload
    counts successful inserts of a new key and successful pops; at the end
    each key's inserts minus pops must be 0 or 1 and match its presence.
    """

    KEYS = 512
    first_key = 0

    def __init__(self, threads: int, reclaimer: str, sanitize: bool):
        self.threads = threads
        if reclaimer == "counted":
            raise ValueError(f"--reclaimer counted: {type(self).__name__} needs a reclaimer (epoch, hazard or none)")
        self.reclaimer = make_reclaimer(reclaimer)
        self.structure = self.make(CAPACITY[reclaimer], self.reclaimer, sanitize)
        self.added = [[0] * self.KEYS for _ in range(threads)]
        self.removed = [[0] * self.KEYS for _ in range(threads)]
        self.wrong_values = 0
        self.serial = [0] * threads

    def step(self, i: int, rng: random.Random) -> int:
        slot = rng.randrange(self.KEYS)
        key = slot + self.first_key
        roll = rng.random()
        s = self.structure
        if roll < 0.4:
            self.serial[i] += 1
            value = (self.serial[i] * self.threads + i) * self.KEYS + slot
            if self.insert(key, value):
                self.added[i][slot] += 1
        elif roll < 0.7:
            value = s.get(key)
            if value is not None and value % self.KEYS != slot:
                self.wrong_values += 1
        else:
            value = s.pop(key, None)
            if value is not None:
                if value % self.KEYS != slot:
                    self.wrong_values += 1
                self.removed[i][slot] += 1
        return 1

    def check(self) -> list[str]:
        problems = []
        if self.wrong_values:
            problems.append(f"{self.wrong_values} reads returned another key's value")
        for slot in range(self.KEYS):
            net = sum(a[slot] for a in self.added) - sum(r[slot] for r in self.removed)
            present = (slot + self.first_key) in self.structure
            if net not in (0, 1) or net != int(present):
                problems.append(f"key {slot + self.first_key}: inserts - pops = {net}, present = {present}")
        self.structure.audit()
        return problems

    def stats(self) -> dict[str, object]:
        arena = self.structure.arena
        return {"live keys": len(self.structure), **slot_stats(arena)}


class SkipListWorkload(_KeyedWorkload):
    @staticmethod
    def make(capacity, reclaimer, sanitize):
        return SkipListMap(max_capacity=capacity, reclaimer=reclaimer, sanitize=sanitize)

    def insert(self, key, value) -> bool:
        # insert-if-absent, so a successful insert is exactly one new key
        return self.structure.get_or_insert(key, value) == value


class OrderIndexWorkload(_KeyedWorkload):
    first_key = 1

    @staticmethod
    def make(capacity, reclaimer, sanitize):
        return OrderIndex(max_capacity=capacity, reclaimer=reclaimer, sanitize=sanitize)

    def insert(self, key, value) -> bool:
        return self.structure.insert(key, value)


class EngineWorkload:
    """Each thread sends its own seeded order flow to an engine (``ENGINE`` in
    ``freeorder.engines.ENGINES``: the LockFreeEngine here) over two symbols;
    at the end every symbol's book and order states pass the invariant checker."""

    SYMBOLS = ("AAA", "BBB")
    ENGINE = "lockfree"

    def __init__(self, threads: int, reclaimer: str, sanitize: bool):
        from freeorder.book import Instrument
        from freeorder.engines import ENGINES

        self.reclaimer = None
        self.structure = ENGINES[self.ENGINE]([Instrument(s, tick_size=1) for s in self.SYMBOLS])
        self.flows: dict[int, object] = {}
        self.refused = [0] * threads

    def step(self, i: int, rng: random.Random) -> int:
        from freeorder.engines.workload import OrderFlow

        flow = self.flows.get(i)
        if flow is None:
            flow = self.flows[i] = OrderFlow(self.SYMBOLS, rng.randrange(1 << 30))
        command = flow.next()
        try:
            flow.observe(command, command.run(self.structure))
        except (ValueError, LookupError):
            self.refused[i] += 1
        return 1

    def check(self) -> list[str]:
        from freeorder.book import violations

        problems = []
        for symbol in self.SYMBOLS:
            e = self.structure
            problems += [f"{symbol}: {v}" for v in violations(e.snapshot(symbol), e.orders(symbol), e.events(symbol))]
        return problems

    def stats(self) -> dict[str, object]:
        return {f"log {s}": self.structure.log_length(s) for s in self.SYMBOLS} | {"refused": sum(self.refused)}


class ReplicatedEngineWorkload(EngineWorkload):
    """The engine workload on the ReplicatedEngine (a replica per thread, checkpointed log)."""

    ENGINE = "replicated"

    def stats(self) -> dict[str, object]:
        return {f"commands {s}": self.structure.commands(s) for s in self.SYMBOLS} | super().stats()


WORKLOADS = {
    "engine": EngineWorkload,
    "engine-replicated": ReplicatedEngineWorkload,
    "stack": StackWorkload,
    "queue": QueueWorkload,
    "seqlock": SeqLockWorkload,
    "skiplist": SkipListWorkload,
    "order-index": OrderIndexWorkload,
}
