"""The README's examples run and print what they say."""

import contextlib
import io
import pathlib
import re

README = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()


def block_after(heading: str) -> str:
    section = README.split(heading, 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def run(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    return out.getvalue()


def test_order_book_example_prints_the_trade_with_both_engines():
    code = block_after("## Order book and engines")
    for engine in ("LockFreeEngine", "ReferenceEngine"):
        printed = run(code.replace("import LockFreeEngine", f"import {engine}").replace("LockFreeEngine(", f"{engine}("))
        assert printed.splitlines() == [
            "alice sold 5 to bob at 100.50",
            "PARTIALLY_FILLED Quote(bid=10060, bid_qty=3, ask=None, ask_qty=0)",
        ]


def test_atomics_example_runs():
    run(block_after("## Atomics"))


def test_structures_example_runs():
    run(block_after("## Lock-free structures and memory reclamation"))
