"""The README's examples run and print what they say; its `freeorder` command lines parse and
the quick ones run."""

import contextlib
import io
import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

README = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()


def section(heading: str) -> str:
    """The text from ``heading`` to the next heading of the same level."""
    text = README.split(heading + "\n", 1)[1]
    return re.split(r"^## ", text, flags=re.M)[0]


def block_after(heading: str) -> str:
    return re.search(r"```python\n(.*?)```", README.split(heading, 1)[1], re.S).group(1)


def command_lines() -> list[str]:
    """Every ``freeorder ...`` line in the README's sh blocks, comments dropped."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("freeorder "):
                lines.append(line)
    return lines


def run(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    return out.getvalue()


def test_order_book_example_prints_the_trade_with_both_engines():
    code = block_after("## Engines")
    for engine in ("LockFreeEngine", "ReferenceEngine"):
        printed = run(code.replace("import LockFreeEngine", f"import {engine}").replace("LockFreeEngine(", f"{engine}("))
        assert printed.splitlines() == [
            "alice sold 5 to bob at 100.50",
            "PARTIALLY_FILLED Quote(bid=10060, bid_qty=3, ask=None, ask_qty=0)",
        ]


def test_atomics_example_runs():
    run(block_after("## Atomics"))


def test_structures_example_runs():
    run(block_after("## Lock-free structures"))


def test_reclamation_example_runs():
    run(block_after("## Memory reclamation"))


def test_book_example_prints_what_it_says():
    assert run(block_after("## Order book\n")).splitlines() == [
        "EXPIRED 5 ['Accepted', 'Trade', 'BookUpdate', 'Cancelled']",
        "price='100.605': has more than 2 decimal places",
    ]
    assert "prints `EXPIRED 5 ['Accepted', 'Trade', 'BookUpdate', 'Cancelled']`" in section("## Order book")


@pytest.mark.thread_unsafe(reason="starts threads; the freeze test allows one run at a time")
def test_verification_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", section("## Verifying concurrent code"), re.S)
    assert len(blocks) >= 3
    tests_run = 0
    for code in blocks:  # each block runs; the test functions a block defines are called
        namespace: dict = {}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, "README.md", "exec"), namespace)
            for name, value in namespace.items():
                if name.startswith("test_") and callable(value):
                    value()
                    tests_run += 1
    assert tests_run >= 1  # the model-checking example is a test function


def test_every_command_line_parses():
    from freeorder.cli import build_parser

    lines = command_lines()
    assert {line.split()[1] for line in lines} >= {"replay", "book", "stress", "bench", "compare"}
    for line in lines:
        args = build_parser().parse_args(shlex.split(line)[1:])
        assert callable(args.run), line


def freeorder(*args, cwd):
    return subprocess.run([sys.executable, "-m", "freeorder", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "COLUMNS": "120"}, timeout=300)


@pytest.mark.thread_unsafe(reason="runs subprocesses")
def test_the_command_examples_run(tmp_path):
    block = re.search(r"```sh\n(.*?)```", section("## The `freeorder` command"), re.S).group(1)
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]
    assert len(lines) == 4
    for line in lines:
        done = freeorder(*shlex.split(line)[1:], cwd=tmp_path)
        assert done.returncode == 0, (line, done.stderr)
    assert (tmp_path / "events.jsonl").stat().st_size > 0


@pytest.mark.thread_unsafe(reason="runs a subprocess")
def test_the_error_example_is_what_the_command_prints(tmp_path):
    shown = re.search(r"```text\n\$ freeorder (.*?)\n(.*?)\n```", section("## The `freeorder` command"), re.S)
    lines = "".join(f"new,X,sell,limit,10.{i},1,,,a,{i}\n" for i in range(5)) + "new,X,buy,limit,1O.5,1,,,b,1\n"
    (tmp_path / "orders.csv").write_text("action,symbol,side,type,price,quantity,tif,post_only,owner,client_id\n"
                                         + lines)
    done = freeorder(*shlex.split(shown.group(1)), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == shown.group(2)
