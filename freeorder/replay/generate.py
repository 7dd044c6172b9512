"""A seeded order file in the replay schema (``freeorder replay --generate N FILE``).

Three symbols (AAA, BBB, CCC; tick 0.01, lot 1) with mids that wander from
100.00; eight owners, each naming its orders ``<owner>-<n>``. Per line: a limit
order near the mid (GTC; some IOC, FOK or post-only), a market order, a cancel
or a modify of one of the owner's recent orders (some already finished: those
are refused, as real clients' late cancels are). The same ``N`` and ``seed``
give the same file, byte for byte. Written as a stream (CSV, or JSON Lines when
the name ends in ``.jsonl``) to a temporary file renamed into place at the end.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from decimal import Decimal

from .orderfile import COLUMNS
from .output import atomic_output

__all__ = ["SYMBOLS", "generate_rows", "write_generated"]

SYMBOLS = ("AAA", "BBB", "CCC")
_CENT = Decimal("0.01")


def generate_rows(n: int, seed: int = 1, symbols: tuple[str, ...] = SYMBOLS) -> Iterator[dict[str, object]]:
    """``n`` rows (dicts with the schema's columns; absent fields left out), seeded."""
    rng = random.Random(seed)
    mids = dict.fromkeys(symbols, 10_000)  # in cents
    owners = [f"trader{i}" for i in range(8)]
    counters = dict.fromkeys(owners, 0)
    recent: dict[str, list[tuple[str, str]]] = {s: [] for s in symbols}
    for _ in range(n):
        symbol = rng.choice(symbols)
        mid = mids[symbol] = max(100, mids[symbol] + rng.choice((-2, -1, 0, 0, 1, 2)))
        roll = rng.random()
        names = recent[symbol]
        if roll < 0.22 and names:
            owner, client_id = rng.choice(names[-32:])
            yield {"action": "cancel", "symbol": symbol, "owner": owner, "client_id": client_id}
            continue
        if roll < 0.28 and names:
            owner, client_id = rng.choice(names[-32:])
            row: dict[str, object] = {"action": "modify", "symbol": symbol, "owner": owner, "client_id": client_id}
            if rng.random() < 0.5:
                row["quantity"] = rng.randint(1, 10)
            else:
                row["price"] = str((Decimal(mid + rng.randint(-10, 10)) * _CENT).quantize(_CENT))
            yield row
            continue
        owner = rng.choice(owners)
        counters[owner] += 1
        client_id = f"{owner}-{counters[owner]}"
        side = "buy" if rng.random() < 0.5 else "sell"
        row = {"action": "new", "symbol": symbol, "side": side, "quantity": rng.randint(1, 20),
               "owner": owner, "client_id": client_id}
        if roll < 0.34:
            row["type"] = "market"
        else:
            offset = rng.randint(-5, 20)
            cents = mid - offset if side == "buy" else mid + offset
            row["type"] = "limit"
            row["price"] = str((Decimal(cents) * _CENT).quantize(_CENT))
            if roll < 0.39:
                row["tif"] = "ioc"
            elif roll < 0.41:
                row["tif"] = "fok"
            elif roll < 0.45:
                row["post_only"] = "true"
        names.append((owner, client_id))
        if len(names) > 256:
            del names[:128]
        yield row


def write_generated(path, n: int, seed: int = 1) -> int:
    """Write ``n`` generated rows to ``path`` (see the module docstring); returns ``n``."""
    jsonl = str(path).endswith((".jsonl", ".ndjson"))
    with atomic_output(path) as out:
        if jsonl:
            for row in generate_rows(n, seed):
                if "post_only" in row:
                    row["post_only"] = True
                out.write(json.dumps(row) + "\n")
        else:
            writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(generate_rows(n, seed))
    return n
