"""Memory of the replicated engine after N commands with ``record_events=False``, against the reference.

Each case runs in a fresh process with the cyclic GC disabled (a final
``gc.collect()`` before measuring): the command stream is built
first (ids from a reference run), then the engine runs it and the process
reports its RSS growth and, for the replicated engine, the log entries and
checkpoints it still holds. Cases: the reference engine on 1 thread; the
replicated engine on 1 thread and on 2 threads sharing one symbol (each
thread sends half the commands, and each thread's replica applies all of
them). The claim checked: the log holds about 2K entries however many
commands ran, so memory is the replicas' order state, not the history.

Run: python benchmarks/bench_replicated_memory.py [--commands 1000000] [--every 4096]
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import threading

from bench_lockfree_engine import flow_commands, rss_kib, run_commands
from freeorder.book import Instrument
from freeorder.engines import ReferenceEngine
from freeorder.engines.replicated import DEFAULT_CHECKPOINT_EVERY, ReplicatedEngine

SYMBOL = "AAA"


def child(engine_name: str, threads: int, n: int, every: int) -> dict:
    gc.disable()
    streams = [flow_commands(SYMBOL, 10 + i, n // threads) for i in range(threads)]
    gc.collect()
    instruments = [Instrument(SYMBOL, tick_size=1)]
    if engine_name == "reference":
        engine = ReferenceEngine(instruments, record_events=False)
    else:
        engine = ReplicatedEngine(instruments, record_events=False, checkpoint_every=every)
    before = rss_kib()
    workers = [threading.Thread(target=run_commands, args=(engine, s)) for s in streams]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    gc.collect()
    out = {"engine": engine_name, "threads": threads, "commands": n, "rss_growth_kib": rss_kib() - before}
    if engine_name == "replicated":
        state = engine._symbols[SYMBOL]
        out |= {"every": every, "log_held": state.log.held(), "checkpoints": len(state.checkpoints),
                "linked": engine.commands(SYMBOL), "orders": len(engine.orders(SYMBOL))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=DEFAULT_CHECKPOINT_EVERY, help="checkpoint_every (K)")
    parser.add_argument("--json", help="write the results here too")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.commands, args.every)))
        return
    results = []
    for name, threads in (("reference", 1), ("replicated", 1), ("replicated", 2)):
        out = subprocess.run([sys.executable, __file__, "--child", name, str(threads), "--commands",
                              str(args.commands), "--every", str(args.every)],
                             check=True, capture_output=True, text=True)
        result = json.loads(out.stdout.splitlines()[-1])
        results.append(result)
        print(json.dumps(result))
    base = results[0]["rss_growth_kib"] or 1
    for r in results[1:]:
        print(f"{r['engine']} threads={r['threads']}: RSS growth {r['rss_growth_kib'] / 1024:.1f} MiB = "
              f"{r['rss_growth_kib'] / base:.2f}x reference ({base / 1024:.1f} MiB); log holds {r['log_held']} "
              f"entries after {r['linked']:,} commands; {r['checkpoints']} checkpoints")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
