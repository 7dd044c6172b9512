"""SeqLock: a sequence-numbered record of int64 fields with optimistic readers.

Invariant: ``seq`` is even when no write is in progress and odd during one;
it only grows. A writer claims the record by compare-exchanging an even
``seq`` to ``seq + 1`` (so concurrent writers are safe: exactly one wins each
even value; the others retry), stores the fields, then publishes ``seq + 2``
with a release store. A reader loads ``seq`` (acquire), reads the fields
(acquire loads), and keeps the copy only if ``seq`` is even and unchanged afterwards; it
never writes shared state, so readers never block or slow writers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from freeorder import atomic
from freeorder.atomic import ACQUIRE, RELAXED, RELEASE


class SeqLock:
    """``width`` int64 fields read consistently without blocking writers."""

    def __init__(self, width: int, initial: Sequence[int] | None = None):
        if width < 1:
            raise ValueError(f"width={width!r} must be >= 1")
        self.width = width
        self._seq = atomic.AtomicInt(0)
        self._fields = atomic.AtomicIntArray(width)
        if initial is not None:
            self._check(initial)
            for i, v in enumerate(initial):
                self._fields.store(i, v)
        self.read_retries = atomic.AtomicInt()
        self.write_retries = atomic.AtomicInt()

    def _check(self, values: Sequence[int]) -> None:
        if len(values) != self.width:
            raise ValueError(f"values has {len(values)} fields, expected width={self.width}")
        for i, v in enumerate(values):
            if not isinstance(v, int):
                raise TypeError(f"values[{i}]={v!r} must be an int")
            if not atomic.INT64_MIN <= v <= atomic.INT64_MAX:
                raise OverflowError(f"values[{i}]={v!r} is outside the int64 range")

    def read(self) -> tuple[int, ...]:
        """A consistent copy of the fields.

        Linearization point: the first load of ``seq`` of the attempt that
        succeeds (no write began or ended before its second load).
        """
        seq, fields = self._seq, self._fields
        retries = 0
        while True:
            # ACQUIRE: the fields a write published with its RELEASE end-store are visible to us
            before = seq.load(ACQUIRE)
            if not before & 1:
                # to_list ACQUIRE-loads each field, so if we read a field a later writer stored, that
                # writer's claim (ordered before its stores by its RELEASE fence) is visible to the
                # re-load below; an ACQUIRE fence here would add nothing (the c11 model agrees)
                values = tuple(fields.to_list())
                # RELAXED: the ACQUIRE field loads already order this load after them
                if seq.load(RELAXED) == before:
                    if retries:
                        self.read_retries.fetch_add(retries, RELAXED)  # RELAXED: a statistic
                    return values
            retries += 1

    def version(self) -> int:
        """How many writes have completed (``seq // 2``)."""
        return self._seq.load(ACQUIRE) >> 1

    def _begin(self) -> int:
        seq = self._seq
        current = seq.load(RELAXED)  # RELAXED: only a guess; the compare-exchange checks it
        retries = 0
        while True:
            if not current & 1:
                witnessed = seq.compare_exchange(current, current + 1)
                if witnessed == current:
                    # RELEASE fence: the odd claim is ordered before the RELAXED field stores
                    # that follow, so a reader that sees one of them sees the claim (Boehm 2012)
                    atomic.fence(RELEASE)
                    if retries:
                        self.write_retries.fetch_add(retries, RELAXED)  # RELAXED: a statistic
                    return current
                current = witnessed
            else:
                current = seq.load(RELAXED)  # RELAXED: a guess again, as above
            retries += 1

    def write(self, values: Sequence[int]) -> None:
        """Replace every field. Linearization point: the claim (even → odd compare-exchange)."""
        self._check(values)
        start = self._begin()
        fields = self._fields
        for i, v in enumerate(values):
            fields.store(i, v, RELAXED)  # RELAXED: ordered by the claim's fence and the RELEASE below
        self._seq.store(start + 2, RELEASE)  # RELEASE: publishes the fields with the even sequence

    def update(self, fn: Callable[[tuple[int, ...]], Sequence[int]]) -> tuple[int, ...]:
        """Atomically replace the fields with ``fn(current)``; returns the new values.

        ``fn`` runs while the write is claimed, so it must be short and must
        not touch this SeqLock. If ``fn`` raises (or returns bad values), the
        fields are left unchanged and the write is released.
        """
        start = self._begin()
        fields = self._fields
        old = tuple(fields.to_list())
        try:
            new = tuple(fn(old))
            self._check(new)
        except BaseException:
            self._seq.store(start + 2, RELEASE)
            raise
        for i, v in enumerate(new):
            fields.store(i, v, RELAXED)  # RELAXED: as in write()
        self._seq.store(start + 2, RELEASE)
        return new
