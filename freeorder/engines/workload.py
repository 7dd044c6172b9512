"""A seeded random order flow: limit orders around a moving mid, cancels, modifies, market and IOC orders.

``OrderFlow(symbols, seed).commands(n)`` yields ``Command``s; ``command.run(engine)``
applies one to any engine. The flow remembers the order ids its submits got
(``observe``), so its cancels and modifies mostly hit live orders and
sometimes finished ones, as real clients do. Same seed, same results given the
same engine responses: replays are exact for sequential engines.
"""

from __future__ import annotations

import dataclasses
import random

from ..book.orders import OrderType, SelfTradePrevention, Side, TimeInForce


@dataclasses.dataclass(frozen=True, slots=True)
class Command:
    """One engine call: ``getattr(engine, method)(symbol, *args, **kwargs)``."""

    method: str
    symbol: str
    args: tuple
    kwargs: dict = dataclasses.field(default_factory=dict)

    def run(self, engine):
        return getattr(engine, self.method)(self.symbol, *self.args, **self.kwargs)


class OrderFlow:
    """Random commands for ``symbols`` (see module docstring); prices in ticks of 1 unit."""

    def __init__(self, symbols, seed: int, *, mid: int = 10_000, spread: int = 20, owners: int = 8):
        self.symbols = list(symbols)
        self.rng = random.Random(seed)
        self.mid = dict.fromkeys(self.symbols, mid)
        self.spread = spread
        self.owners = [f"trader{i}" for i in range(owners)]
        self.ids: dict[str, list[int]] = {s: [] for s in self.symbols}

    def next(self) -> Command:
        rng = self.rng
        symbol = rng.choice(self.symbols)
        mid = self.mid[symbol] = max(self.spread + 1, self.mid[symbol] + rng.choice((-1, 0, 0, 1)))
        roll = rng.random()
        ids = self.ids[symbol]
        owner = rng.choice(self.owners)
        if roll < 0.25 and ids:
            return Command("cancel", symbol, (rng.choice(ids[-64:]),))
        if roll < 0.30 and ids:
            return Command("modify", symbol, (rng.choice(ids[-64:]),), {"quantity": rng.randint(1, 10)})
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        qty = rng.randint(1, 20)
        if roll < 0.35:
            return Command("submit", symbol, (side, qty), {"order_type": OrderType.MARKET, "owner": owner})
        offset = rng.randint(-self.spread // 4, self.spread)
        price = mid - offset if side is Side.BUY else mid + offset
        kwargs: dict = {"owner": owner}
        if roll < 0.40:
            kwargs["time_in_force"] = TimeInForce.IOC
        elif roll < 0.42:
            kwargs["stp"] = SelfTradePrevention.CANCEL_NEWEST
        return Command("submit", symbol, (side, qty, price), kwargs)

    def observe(self, command: Command, result) -> None:
        """Remember the order id a submit got."""
        if command.method == "submit":
            self.ids[command.symbol].append(result.order_id)

    def commands(self, n: int):
        for _ in range(n):
            yield self.next()
