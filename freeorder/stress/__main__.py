"""freeorder stress <structure> --threads N --seconds S --reclaimer epoch|hazard|none|counted [--seed N]

With --check-linearizability each thread instead performs --ops recorded
operations, and the history is checked with freeorder.verify's checker.
With --histories N (engine, engine-replicated) it records and checks N small
histories of --history-ops operations, on --history-threads threads in turn.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys

from freeorder.reclaim import RECLAIMERS

from . import harness
from .workloads import WORKLOADS


def check_linearizability(args, seed: int) -> int:
    from freeorder.verify import check_linearizable

    from .linearizability import record

    history, model, result = record(args.structure, args.threads, args.ops, seed, args.reclaimer, args.seconds)
    print(f"  recorded          {len(history):,} operations from {args.threads} threads in {result.seconds:.2f} s")
    if result.errors:
        print("linearizability: FAILED (the run raised)")
        for e in result.errors[:5]:
            print(f"  - {type(e).__name__}: {e}")
        return 1
    verdict = check_linearizable(model, history, timeout=max(60.0, args.seconds))
    print(f"  checked           in {verdict.elapsed if hasattr(verdict, 'elapsed') else 0:.2f} s")
    if verdict.linearizable:
        print("linearizability: OK")
        return 0
    print("linearizability: " + ("UNKNOWN (timed out)" if verdict.linearizable is None else "FAILED"))
    print(verdict.explain())
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="freeorder stress", description=__doc__)
    parser.add_argument("structure", choices=sorted(WORKLOADS))
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--reclaimer", choices=sorted(RECLAIMERS) + ["counted"], default="epoch",
                        help="counted: the stack's and queue's default (counted pointers, no reclaimer)")
    parser.add_argument("--seed", type=int, default=None, help="default: random, printed")
    parser.add_argument("--sanitize", action="store_true", help="sanitizer mode (also FREEORDER_SANITIZE=1)")
    parser.add_argument("--check-linearizability", action="store_true",
                        help="record --ops operations per thread and check the history")
    parser.add_argument("--ops", type=int, default=300, help="operations per thread with --check-linearizability")
    parser.add_argument("--histories", type=int, default=0,
                        help="engines: record and check this many small histories (freeorder/stress/histories.py)")
    parser.add_argument("--history-ops", type=int, default=100, help="operations in each of --histories")
    parser.add_argument("--history-threads", default="2,8", help="thread counts --histories takes in turn")
    parser.add_argument("--gc", choices=["on", "off"], default="off",
                        help="cyclic GC during the run (default off: 3.13t's GC walks the whole heap)")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.seconds <= 0:
        parser.error(f"--threads={args.threads} and --seconds={args.seconds} must be positive")
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    sanitize = True if args.sanitize else None
    if args.histories:
        from . import histories

        try:
            histories.engine_class(args.structure)
        except ValueError as exc:
            parser.error(str(exc))
        try:
            threads = tuple(int(n) for n in args.history_threads.split(","))
        except ValueError:
            parser.error(f"--history-threads={args.history_threads!r}: expected thread counts such as 2,8")
        if args.histories < 0 or args.history_ops < 1 or min(threads) < 1:
            parser.error(f"--histories={args.histories}, --history-ops={args.history_ops} and "
                         f"--history-threads={args.history_threads!r} must be positive")
        return histories.main(args.structure, args.histories, args.history_ops, threads, seed)
    if args.check_linearizability:
        print(f"stress {args.structure} --check-linearizability: threads={args.threads} ops={args.ops} "
              f"reclaimer={args.reclaimer} seed={seed} gil={gil}")
        return check_linearizability(args, seed)
    try:
        workload = WORKLOADS[args.structure](args.threads, args.reclaimer, sanitize)
    except ValueError as exc:
        parser.error(str(exc))
    print(f"stress {args.structure}: threads={args.threads} seconds={args.seconds} "
          f"reclaimer={args.reclaimer} seed={args.seed if args.seed is not None else seed} "
          f"gil={gil} gc={args.gc} sanitize={getattr(workload.structure, 'arena', None) is not None and workload.structure.arena.sanitize}")
    print(f"replay: freeorder stress {args.structure} --threads {args.threads} --seconds {args.seconds} "
          f"--reclaimer {args.reclaimer} --seed {seed}" + (" --sanitize" if args.sanitize else ""))
    if args.gc == "off":
        gc.disable()
    result = harness.run(args.threads, args.seconds, seed, workload.step)
    gc.enable()
    problems = [f"{type(e).__name__}: {e}" for e in result.errors]
    if not result.errors:
        problems += workload.check()
    print(f"  ops               {result.total_ops:,} in {result.seconds:.1f} s = {result.ops_per_second:,.0f} ops/s")
    print(f"  per thread        {', '.join(f'{n:,}' for n in result.ops)}")
    for name, value in workload.stats().items():
        print(f"  {name:17s} {value:,}" if isinstance(value, int) else f"  {name:17s} {value}")
    if workload.reclaimer is not None:
        before = workload.reclaimer.stats()
        workload.reclaimer.flush()
        after = workload.reclaimer.stats()
        print(f"  retired           {before['retired']:,}; reclaimed {before['reclaimed']:,} during the run, "
              f"{after['reclaimed']:,} after a final flush")
        if args.reclaimer != "none" and after["pending"]:
            problems.append(f"{after['pending']} retired slots still unreclaimed after all threads exited")
    arena = getattr(workload.structure, "arena", None)
    if arena is not None and arena.sanitize:
        print(f"  sanitizer reports {len(arena.violations)}")
        problems += [f"sanitizer: {v}" for v in arena.violations]
    if problems:
        print("invariants: FAILED")
        for p in problems[:20]:
            print(f"  - {p}")
        return 1
    print("invariants: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
