"""The README example runs and prints what it says; module doctests pass."""

from __future__ import annotations

import doctest
import importlib

import pytest

README_EXAMPLE = '''
from freeorder.book import Instrument, Side, Trade
from freeorder.engines import ReferenceEngine

engine = ReferenceEngine([Instrument("XYZ", tick_size="0.01")])
engine.submit("XYZ", Side.SELL, 5, "100.50", owner="alice")
result = engine.submit("XYZ", Side.BUY, 8, "100.60", owner="bob")
for t in (e for e in result.events if type(e) is Trade):
    print(t.maker_owner, "sold", t.qty, "to", t.taker_owner, "at", engine.instrument("XYZ").price_decimal(t.price))
print(result.status.name, engine.best("XYZ"))
'''

EXPECTED = """\
alice sold 5 to bob at 100.50
PARTIALLY_FILLED Quote(bid=10060, bid_qty=3, ask=None, ask_qty=0)
"""


def test_readme_example(capsys):
    assert len(README_EXAMPLE.strip().splitlines()) <= 10
    exec(compile(README_EXAMPLE, "README-example", "exec"), {})
    assert capsys.readouterr().out == EXPECTED


@pytest.mark.parametrize("module", ["freeorder.book.instrument", "freeorder.engines.reference"])
def test_module_doctests(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
