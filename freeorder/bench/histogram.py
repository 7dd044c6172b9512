"""An HDR-style log-linear histogram of nanosecond latencies, in pure Python (the benchmarks' and the harness').

Values below ``2**SUB_BITS`` ns are counted exactly. Above that, each power
of two is split into ``2**(SUB_BITS - 1)`` equal buckets, so any recorded
value is reported within a relative error of ``2**-(SUB_BITS - 1)`` (under
1.6% with the default 7 bits), from 1 ns up to 2**63 ns, in a fixed list of
about 7,000 counters. ``max`` and ``min`` are kept exactly.

The record path is one branch, one ``bit_length`` and one list increment.
A histogram is not thread-safe: give each thread its own and ``merge`` them
afterwards (as HdrHistogram's recorders do).

>>> h = Histogram()
>>> for v in range(1, 1001):
...     h.record(v)
>>> h.count, h.percentile(50) in range(500, 509), h.max
(1000, True, 1000)
"""

from __future__ import annotations

SUB_BITS = 7
LINEAR = 1 << SUB_BITS  # values below this are exact
HALF = 1 << (SUB_BITS - 1)  # buckets per power of two above LINEAR
SIZE = (64 - SUB_BITS + 2) * HALF


def bucket_of(value: int) -> int:
    """Index of the bucket holding ``value`` (a non-negative int below 2**63)."""
    if value < LINEAR:
        return value
    shift = value.bit_length() - SUB_BITS
    return (shift << (SUB_BITS - 1)) + (value >> shift)


def highest_in_bucket(index: int) -> int:
    """The largest value that lands in bucket ``index`` (HdrHistogram's 'highest equivalent value')."""
    if index < LINEAR:
        return index
    shift = (index >> (SUB_BITS - 1)) - 1
    top = index - (shift << (SUB_BITS - 1))
    return ((top + 1) << shift) - 1


class Histogram:
    """Counts of ns values in log-linear buckets; ``percentile(q)`` for q in 0..100."""

    __slots__ = ("counts", "count", "max", "min", "total")

    def __init__(self) -> None:
        self.counts = [0] * SIZE
        self.count = 0
        self.max = 0
        self.min = 0
        self.total = 0

    def record(self, value: int) -> None:
        """Count one value in ns (negative values, impossible for a monotonic clock, count as 0)."""
        if value < LINEAR:
            self.counts[value if value > 0 else 0] += 1
        else:
            shift = value.bit_length() - SUB_BITS
            self.counts[(shift << (SUB_BITS - 1)) + (value >> shift)] += 1
            if value > self.max:
                self.max = value

    def finish(self) -> "Histogram":
        """Recompute count, min, max and total from the buckets (call once after recording).

        The record path keeps only the buckets and (above the linear range) the
        max, to stay cheap; this fills in the rest. Returns self.
        """
        counts = self.counts
        self.count = sum(counts)
        nonzero = [i for i, c in enumerate(counts) if c]
        self.min = highest_in_bucket(nonzero[0]) if nonzero else 0
        if nonzero and nonzero[-1] < LINEAR:
            self.max = nonzero[-1]
        self.total = sum(highest_in_bucket(i) * c for i, c in enumerate(counts) if c)
        return self

    def merge(self, other: "Histogram") -> "Histogram":
        """Add ``other``'s counts into this histogram; returns self."""
        self.counts = [a + b for a, b in zip(self.counts, other.counts)]
        self.max = max(self.max, other.max)
        return self.finish()

    def percentile(self, q: float) -> int:
        """The value at or below which ``q`` percent of the recorded values lie (0 if empty).

        Reported as the bucket's highest equivalent value, never above the exact max.
        """
        if not 0 <= q <= 100:
            raise ValueError(f"q={q!r} must be in 0..100")
        total = sum(self.counts)
        if total != self.count:
            self.finish()
        if total == 0:
            return 0
        rank = max(1, -(-total * q // 100))  # ceil, at least the first value
        seen = 0
        for index, c in enumerate(self.counts):
            seen += c
            if seen >= rank:
                return min(highest_in_bucket(index), self.max)
        return self.max  # unreachable: rank <= total

    def summary(self) -> dict[str, int]:
        """count, p50, p99, p99.9 and max in ns."""
        self.finish()
        return {
            "count": self.count,
            "p50": self.percentile(50),
            "p99": self.percentile(99),
            "p99.9": self.percentile(99.9),
            "max": self.max,
        }


def merged(histograms) -> Histogram:
    """One histogram holding the counts of all of ``histograms``."""
    out = Histogram()
    for h in histograms:
        out.merge(h)
    return out.finish()


def to_buckets(h: Histogram, per_octave: int = 8) -> dict[str, int]:
    """The nonzero counts as ``{highest value of the bucket: count}`` (JSON keys are strings), in
    coarser buckets: ``per_octave`` (a power of two up to ``HALF``) per power of two, so within
    ``1 / per_octave`` of each value -- enough for a CDF, and a fraction of the size."""
    merge = HALF // per_octave
    out: dict[str, int] = {}
    for i, c in enumerate(h.counts):
        if c:
            top = highest_in_bucket(i if i < LINEAR else i | (merge - 1))
            out[str(top)] = out.get(str(top), 0) + c
    return out


def from_buckets(buckets: dict[str, int], exact_max: int | None = None) -> Histogram:
    """The histogram ``to_buckets`` described (each count lands in the bucket of its value);
    ``exact_max`` restores the exact maximum the buckets round up."""
    h = Histogram()
    for value, count in buckets.items():
        h.counts[bucket_of(int(value))] += count
        h.max = max(h.max, int(value))
    if exact_max is not None:
        h.max = exact_max
    return h.finish()
