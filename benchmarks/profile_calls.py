"""Calls per operation: how many atomic calls and Python-level calls each operation makes, and its ns.

For each operation of each structure (stack push/pop, queue enqueue/dequeue,
skiplist and order index insert/get/remove, seqlock read/write, pin+unpin of
each reclaimer, hazard protect, arena alloc+free, and ``AtomicInt.load`` as
the unit), single thread, after a warm-up pass:

- counts, under ``sys.setprofile``, over N operations divided by N:
  *atomic calls* — C calls whose function belongs to ``freeorder._atomics``
  (methods of its ``AtomicInt``/``AtomicIntArray`` objects, module functions
  such as ``fence``); *Python calls* — ``call`` events (Python functions,
  including the operation's own call, and generator resumptions); *other C
  calls* — every other ``c_call`` (builtins, methods of lists, dicts, locks).
  The harness's own loop is subtracted (a run of zero operations), and so is
  the one-line wrapper that composite operations (pin+unpin, alloc+free) need.
- times the same N operations without the profiler: the fastest of 7
  passes, each on a fresh structure, in each of 3 rounds over all scenarios
  (the pass least disturbed by other work on a shared machine, as ``timeit``
  advises; the table also gives it as a multiple of ``AtomicInt.load`` in the
  same run), ns per operation (the loop
  calls ``fn(*args)``, whose overhead is included for every row alike).

GC disabled while counting and timing. Maps hold 1,000 keys before the
insert phase (which adds N). Structures are built in their default
configuration unless the row names a reclaimer.

Runs against any checkout: ``--tree PATH`` imports freeorder from PATH (its
C extension must be built there: ``python setup.py build_ext --inplace``).

  python benchmarks/profile_calls.py --tree /tmp/before --label before   # -> results/calls-before.json
  (a tree without .git, e.g. from ``git archive 480258c | tar -x -C DIR``: add ``--commit 480258c``)
  python benchmarks/profile_calls.py --label after                       # this checkout
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
N = 2000
REPEATS = 7
PREFILL_KEYS = 1000
ATOMICS_MODULE = "freeorder._atomics"


# -- classifying calls -------------------------------------------------------------------------


def is_atomic_call(fn) -> bool:
    """True if the C function ``fn`` is a method of a ``freeorder._atomics`` object or a module function."""
    owner = getattr(fn, "__self__", None)
    if owner is None:
        return getattr(fn, "__module__", None) == ATOMICS_MODULE
    if getattr(owner, "__name__", None) == ATOMICS_MODULE:  # module-level function (fence, ...)
        return True
    return type(owner).__module__ == ATOMICS_MODULE


def count_calls(fn, argsets) -> Counter:
    """Profiler events while calling ``fn(*args)`` for each of ``argsets``."""
    counts: Counter = Counter()

    def profiler(frame, event, arg):
        if event == "call":
            counts["python"] += 1
        elif event == "c_call":
            counts["atomic" if is_atomic_call(arg) else "c"] += 1

    sys.setprofile(profiler)
    for args in argsets:
        fn(*args)
    sys.setprofile(None)
    return counts


def time_calls(fn, argsets) -> float:
    """ns per call of ``fn(*args)`` over ``argsets``."""
    t0 = time.perf_counter_ns()
    for args in argsets:
        fn(*args)
    return (time.perf_counter_ns() - t0) / len(argsets)


# -- scenarios: each yields (operation name, fn, argsets, wrapper?) phases in order ---------------


def _remover(m):
    """``remove(key, default)``: ``pop`` where the structure has it, else ``remove``."""
    return getattr(m, "pop", None) or m.remove


def _construct(cls, reclaimer):
    if reclaimer is None:
        return cls()
    from freeorder.reclaim import make_reclaimer

    return cls(reclaimer=make_reclaimer(reclaimer))


def _suffix(reclaimer):
    return f"[{reclaimer}]" if reclaimer else ""


def stack_scenario(reclaimer=None):
    from freeorder.lockfree import TreiberStack

    s = _construct(TreiberStack, reclaimer)
    name = "TreiberStack" + _suffix(reclaimer)
    yield f"{name} push", s.push, [(i,) for i in range(N)], False
    yield f"{name} pop", s.pop, [(None,)] * N, False


def queue_scenario(reclaimer=None):
    from freeorder.lockfree import MSQueue

    q = _construct(MSQueue, reclaimer)
    name = "MSQueue" + _suffix(reclaimer)
    yield f"{name} enqueue", q.enqueue, [(i,) for i in range(N)], False
    yield f"{name} dequeue", q.dequeue, [(None,)] * N, False


def _map_scenario(name, m):
    for key in range(0, 2 * PREFILL_KEYS, 2):  # even keys present
        m.insert(key, key)
    new = [(k, k) for k in range(1, 2 * N, 2)]  # odd keys absent
    yield f"{name} insert", m.insert, new, False
    yield f"{name} get", m.get, [(k, None) for k, _ in new], False
    yield f"{name} remove", _remover(m), [(k, None) for k, _ in new], False


def skiplist_scenario():
    from freeorder.lockfree import SkipListMap

    yield from _map_scenario("SkipListMap", SkipListMap())


def order_index_scenario():
    from freeorder.lockfree import OrderIndex

    yield from _map_scenario("OrderIndex", OrderIndex())


def seqlock_scenario():
    from freeorder.lockfree import SeqLock

    s = SeqLock(4)
    yield "SeqLock(4) write", s.write, [((i, i, i, i),) for i in range(N)], False
    yield "SeqLock(4) read", s.read, [()] * N, False


def reclaimer_scenario(name):
    from freeorder.reclaim import make_reclaimer

    pin = make_reclaimer(name).pin

    def pin_unpin():
        pin().unpin()

    yield f"pin+unpin ({name})", pin_unpin, [()] * N, True


def hazard_scenario():
    from freeorder import atomic
    from freeorder.reclaim import make_reclaimer

    pin = make_reclaimer("hazard").pin
    cell = atomic.AtomicIntArray(1)

    def pin_protect_unpin():
        g = pin()
        g.protect(0, cell, 0)
        g.unpin()

    yield "hazard pin+protect+unpin", pin_protect_unpin, [()] * N, True
    g = pin()
    yield "hazard protect (pinned)", g.protect, [(0, cell, 0)] * N, False
    g.unpin()


def arena_scenario():
    from freeorder.lockfree.arena import Arena

    try:
        arena = Arena(fields=("next",))
    except TypeError:  # before issue 9: capacity was required
        arena = Arena(1024, fields=("next",))
    alloc, free = arena.alloc, arena.free

    def alloc_free():
        free(alloc(None))

    yield "arena alloc+free", alloc_free, [()] * N, True


def load_scenario():
    from freeorder import atomic

    yield "AtomicInt.load", atomic.AtomicInt().load, [()] * N, False


SCENARIOS = [  # (label for errors, scenario)
    ("AtomicInt", load_scenario),
    ("TreiberStack", stack_scenario),
    ("TreiberStack[epoch]", lambda: stack_scenario("epoch")),
    ("TreiberStack[hazard]", lambda: stack_scenario("hazard")),
    ("MSQueue", queue_scenario),
    ("MSQueue[epoch]", lambda: queue_scenario("epoch")),
    ("MSQueue[hazard]", lambda: queue_scenario("hazard")),
    ("SkipListMap", skiplist_scenario),
    ("OrderIndex", order_index_scenario),
    ("SeqLock", seqlock_scenario),
    ("pin+unpin (epoch)", lambda: reclaimer_scenario("epoch")),
    ("pin+unpin (hazard)", lambda: reclaimer_scenario("hazard")),
    ("pin+unpin (none)", lambda: reclaimer_scenario("none")),
    ("hazard protect", hazard_scenario),
    ("arena alloc+free", arena_scenario),
]


# -- running --------------------------------------------------------------------------------


def profile_scenario(make) -> dict[str, dict]:
    """Warm up, count, then time (fastest of REPEATS fresh passes) each phase of one scenario."""
    for _name, fn, argsets, _wrapper in make():  # warm-up pass: runs every phase once
        for args in argsets:
            fn(*args)
    rows: dict[str, dict] = {}
    empty = count_calls(lambda: None, [])  # the harness's own events (setprofile(None) itself)
    for name, fn, argsets, wrapper in make():
        counts = count_calls(fn, argsets)
        n = len(argsets)
        rows[name] = {
            "atomic_calls": (counts["atomic"] - empty["atomic"]) / n,
            "python_calls": (counts["python"] - empty["python"]) / n - (1 if wrapper else 0),
            "other_c_calls": (counts["c"] - empty["c"]) / n,
        }
    timings: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(REPEATS):
        for name, fn, argsets, _wrapper in make():
            timings[name].append(time_calls(fn, argsets))
    for name, ns in timings.items():
        rows[name]["ns"] = min(ns)
    return rows


def run_all(rounds: int = 1) -> dict[str, dict]:
    """Every scenario, ``rounds`` times over; counts from the first round, ns the fastest of all."""
    ops = run_round()
    for _ in range(rounds - 1):
        for name, row in run_round().items():
            if "ns" in row and "ns" in ops.get(name, {}):
                ops[name]["ns"] = min(ops[name]["ns"], row["ns"])
    return ops


def run_round() -> dict[str, dict]:
    ops: dict[str, dict] = {}
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for label, make in SCENARIOS:
            try:
                ops.update(profile_scenario(make))
            except Exception as exc:  # a structure this checkout lacks or that fails: say so, go on
                ops[label] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
    finally:
        if was_enabled:
            gc.enable()
    return ops


def use_tree(tree: Path) -> None:
    """Import freeorder from ``tree`` (before any other import of it); refuse if it comes from elsewhere."""
    sys.path.insert(0, str(tree))
    import freeorder

    origin = Path(freeorder.__file__).resolve()
    if tree.resolve() not in origin.parents:
        raise SystemExit(f"freeorder was imported from {origin}, not from --tree {tree}")


def describe_commit(tree: Path) -> str:
    try:
        head = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--", "freeorder", "_atomics"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=HERE.parent, help="checkout to import freeorder from")
    parser.add_argument("--label", default="after", help="results/calls-<label>.json (before, after)")
    parser.add_argument("--json", type=Path, help="output path (overrides --label)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measure everything this many times over (spread in time); ns is the fastest")
    parser.add_argument("--commit", help="the tree's commit, if it is not a git checkout (e.g. a git archive)")
    args = parser.parse_args(argv)
    use_tree(args.tree)

    sys.path.insert(1, str(HERE))
    import workloads  # noqa: E402  (after use_tree: it must not import freeorder first)
    import tables  # noqa: E402

    from freeorder import atomic

    ops = run_all(args.rounds)
    result = {
        "label": args.label,
        "tree": str(args.tree.resolve()),
        "commit": args.commit or describe_commit(args.tree),
        "atomics_backend": atomic.backend_name(),
        "interpreter": workloads.interpreter_info(),
        "n": N,
        "rounds": args.rounds,
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "ops": ops,
    }
    out = args.json or HERE / "results" / f"calls-{args.label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(tables.calls_provenance(args.label, result))
    print(tables.calls_table(result if args.label == "before" else None, None if args.label == "before" else result))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
