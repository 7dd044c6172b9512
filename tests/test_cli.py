"""The `freeorder` command, run as a user runs it: a subprocess per command on small inputs.

Replay: the shipped sample prints trades; events are the same for every engine
and thread count; bad files stop with one line naming file, line, field and
value, exit status 2, and leave no output file; refused commands are events.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from freeorder.engines import ENGINES, ReferenceEngine
from freeorder.replay import (
    InputError,
    Replay,
    generate_rows,
    infer_instruments,
    load_instruments,
    read_orders,
    sample_files,
    write_generated,
)
from freeorder.replay.sample import SAMPLE_LINES, SAMPLE_SEED

pytestmark = pytest.mark.thread_unsafe(reason="runs subprocesses and threads of its own")

HEADER = "action,symbol,side,type,price,quantity,tif,post_only,owner,client_id\n"


def freeorder(*args: str, cwd=None, check: bool = True) -> subprocess.CompletedProcess:
    """``python -m freeorder ARGS`` with this interpreter (and its PYTHON_GIL setting)."""
    env = {**os.environ, "COLUMNS": "120"}
    done = subprocess.run([sys.executable, "-m", "freeorder", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def events_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def reference_events(path, instruments=None) -> list[dict]:
    instruments = instruments or infer_instruments(path)
    engine = ReferenceEngine(instruments.values(), record_events=False)
    return [json.loads(text) for text in Replay(engine, events=True).run(path)]


# ------------------------------------------------------------------ the front door


def test_console_script_and_help_on_every_command():
    script = Path(sys.executable).with_name("freeorder")
    assert script.exists(), "pip install . makes the `freeorder` console script"
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("freeorder ")
    top = freeorder("--help").stdout
    for command in ("demo", "atomics", "replay", "book", "stress"):
        assert command in top
        assert f"usage: freeorder {command}" in freeorder(command, "--help").stdout


def test_demo_runs_and_checks_itself():
    out = freeorder("demo", "--orders", "1500").stdout
    assert out.count("lock-free and reference books identical after the same flow: True") == 2
    assert "invariants (" in out and "): OK" in out
    assert "lock-free and reference events identical: True" in out


def test_atomics_counts_exactly():
    out = freeorder("atomics").stdout
    assert "GIL enabled" in out
    counts = [line for line in out.splitlines() if "thread(s)" in line]
    assert len(counts) == 3 and all(line.endswith("exact") for line in counts), out


def test_stress_runs_a_short_workload():
    out = freeorder("stress", "queue", "--threads", "2", "--seconds", "0.2", "--seed", "3").stdout
    assert "invariants: OK" in out
    assert "freeorder stress queue" in out  # the replay line names the installed command


# ------------------------------------------------------------------ replay


def test_replay_sample_prints_trades_and_the_book():
    out = freeorder("replay", "--sample").stdout
    assert "200 lines" in out
    for symbol in ("AAA", "BBB", "CCC"):
        assert symbol in out
    assert "the last trades of each symbol" in out and "aggressor" in out
    with sample_files() as (orders, instruments):
        events = reference_events(orders, load_instruments(instruments))
    rows = {cells[1].strip(): [c.strip() for c in cells[2:-1]]
            for cells in (line.split("│") for line in out.splitlines()) if len(cells) == 14}
    for symbol in ("AAA", "BBB", "CCC"):
        trades = [e for e in events if e["event"] == "trade" and e["symbol"] == symbol]
        assert trades
        lines, _new, _cancel, _modify, count, volume, *_, last, _bid, _ask = rows[symbol]
        assert int(count) == len(trades)
        assert int(volume) == sum(int(t["quantity"]) for t in trades)
        assert last == trades[-1]["price"]


def test_sample_is_the_generator_output(tmp_path):
    """The shipped sample is `replay --generate 200 --seed 13`, byte for byte."""
    freeorder("replay", "--generate", str(SAMPLE_LINES), "--seed", str(SAMPLE_SEED), str(tmp_path / "s.csv"))
    with sample_files() as (orders, _):
        assert Path(orders).read_bytes() == (tmp_path / "s.csv").read_bytes()


def test_events_are_the_same_for_every_engine_and_thread_count(tmp_path):
    path = tmp_path / "orders.csv"
    write_generated(path, 1500, seed=5)
    expected = reference_events(path)
    assert {e["event"] for e in expected} >= {"accepted", "trade", "cancelled", "book_update", "refused"}
    out = freeorder("replay", str(path), "--out", "-", "--threads", "2")
    assert events_of(out.stdout) == expected
    assert "inferred" in out.stderr  # no --instruments: the note says what was assumed
    for name in ENGINES:
        if name == "seed":
            continue
        engine = ENGINES[name](infer_instruments(path).values(), record_events=False)
        try:
            got = [json.loads(t) for t in Replay(engine, threads=3, events=True).run(path)]
        finally:
            getattr(engine, "close", lambda: None)()
        assert got == expected, name


def test_jsonl_and_csv_give_the_same_events(tmp_path):
    write_generated(tmp_path / "o.csv", 400, seed=9)
    write_generated(tmp_path / "o.jsonl", 400, seed=9)
    assert (tmp_path / "o.jsonl").read_text().startswith("{")
    from_csv, from_jsonl = reference_events(tmp_path / "o.csv"), reference_events(tmp_path / "o.jsonl")
    for e in from_csv:
        e["line"] -= 1  # the CSV header row
    assert from_csv == from_jsonl
    assert list(generate_rows(50, 3)) == list(generate_rows(50, 3))


def test_out_file_is_written_whole_with_a_summary(tmp_path):
    out = freeorder("replay", "--sample", "--out", str(tmp_path / "ev.jsonl"), "--engine", "reference").stdout
    assert "events written to" in out and "trades" in out
    with sample_files() as (orders, instruments):
        expected = reference_events(orders, load_instruments(instruments))
    assert events_of((tmp_path / "ev.jsonl").read_text()) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ev.jsonl"]


def test_inferred_tick_is_the_finest_decimal_seen(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(HEADER + "new,X,buy,limit,10.5,2,,,a,1\nnew,X,sell,limit,10.7,1,,,b,1\nnew,Y,buy,limit,3,1,,,a,\n")
    done = freeorder("replay", str(path), "--engine", "reference")
    assert "X tick 0.1 lot 1" in done.stderr and "Y tick 1 lot 1" in done.stderr
    instruments = tmp_path / "i.csv"
    instruments.write_text("symbol,tick_size,lot_size\nX,0.5,1\nY,1,1\n")
    bad = freeorder("replay", str(path), "--instruments", str(instruments), check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip() == f"freeorder: error: {path} line 3: price='10.7': not a multiple of the tick size 0.5"


def test_refused_commands_are_events_and_the_replay_goes_on(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(HEADER + "\n".join([
        "new,X,sell,limit,10.00,5,,,alice,a1",
        "new,X,buy,limit,10.00,5,,,bob,b1",         # fills a1
        "cancel,X,,,,,,,alice,a1",                   # a1 is finished
        "cancel,X,,,,,,,alice,nope",                 # never seen
        "new,X,sell,limit,10.05,3,,,alice,a2",
        "new,X,buy,limit,10.05,1,,true,bob,b2",      # post-only would cross
        "new,X,sell,limit,10.10,3,,,alice,a2",       # a2 is live: duplicate client id
        "new,X,buy,limit,10.00,2,fok,,bob,b3",       # fill-or-kill cannot fill
        "modify,X,,,,1,,,alice,a2",
        "new,X,buy,market,,1,,,carol,c1",
    ]) + "\n")
    events = events_of(freeorder("replay", str(path), "--out", "-").stdout)
    refused = [(e["line"], e["reason"]) for e in events if e["event"] == "refused"]
    assert refused == [(4, "order_not_live"), (5, "unknown_client_id"), (8, "duplicate_client_id")]
    rejected = [(e["line"], e["reason"]) for e in events if e["event"] == "rejected"]
    assert rejected == [(7, "post_only_would_cross"), (9, "fok_unfillable")]
    trades = [(e["line"], e["price"], e["quantity"], e["maker_owner"]) for e in events if e["event"] == "trade"]
    assert trades == [(3, "10.00", "5", "alice"), (11, "10.05", "1", "alice")]
    modified = [e for e in events if e["event"] == "modified"]
    assert [(m["line"], m["remaining"], m["priority_kept"]) for m in modified] == [(10, "1", True)]


def test_book_draws_the_ladder(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(HEADER + "new,X,sell,limit,10.10,3,,,a,1\nnew,X,sell,limit,10.20,4,,,a,2\n"
                             "new,X,buy,limit,10.00,5,,,b,1\nnew,X,buy,limit,10.00,1,,,c,1\n")
    out = freeorder("book", "X", "--from", str(path), "--engine", "reference").stdout
    rows = [line for line in out.splitlines() if "10." in line and "│" in line]
    assert [r.split("│")[3].strip() for r in rows] == ["10.20", "10.10", "10.00"]  # asks above bids
    assert rows[2].split("│")[1].strip() == "2" and rows[2].split("│")[2].strip() == "6"  # 2 orders, 6 bid
    assert "spread 0.10" in out
    sample = freeorder("book", "AAA", "--sample", "--levels", "2").stdout
    assert "AAA after the sample" in sample


# ------------------------------------------------------------------ bad input: one line, exit 2


BAD_LINES = [
    ("new,X,buy,limit,abc,1,,,a,1", "line 2: price='abc': not a decimal number"),
    ("new,X,buy,limit,10,0,,,a,1", "line 2: quantity='0': must be positive"),
    ("new,X,buy,limit,10,-3,,,a,1", "line 2: quantity='-3': must be positive"),
    ("new,X,bid,limit,10,1,,,a,1", "line 2: side='bid': expected buy or sell"),
    ("new,X,buy,stop,10,1,,,a,1", "line 2: type='stop': expected limit or market"),
    ("new,X,buy,limit,,1,,,a,1", "line 2: price=None: missing: a limit order needs a price"),
    ("new,X,buy,market,10,1,,,a,1", "line 2: price='10': a market order has no price"),
    ("new,X,buy,limit,10,1,day,,a,1", "line 2: tif='day': expected gtc or ioc or fok"),
    ("new,X,buy,limit,10,1,,maybe,a,1", "line 2: post_only='maybe': expected true or false"),
    ("delete,X,,,,,,,a,1", "line 2: action='delete': expected new, cancel or modify"),
    ("cancel,X,,,,,,,a,", "line 2: client_id=None: missing: cancel needs a client_id (owner + client_id name "
                          "the order)"),
    ("new,X,buy,limit,10,1", "line 2: 6 fields, but the header row has 10"),
]


@pytest.mark.parametrize("line, message", BAD_LINES, ids=[m.split(": ")[1] for _, m in BAD_LINES])
def test_a_bad_line_stops_with_one_line(tmp_path, line, message):
    path = tmp_path / "o.csv"
    path.write_text(HEADER + line + "\n")
    with pytest.raises(InputError) as caught:
        for _ in read_orders(path):
            pass
        reference_events(path)
    assert str(caught.value) == f"{path} {message}"


def test_bad_files_through_the_command(tmp_path):
    """One subprocess per kind of failure: stderr is exactly one line, exit 2, no output file left."""
    good = "".join(f"new,X,sell,limit,10.{i:02d},1,,,a,{i}\n" for i in range(30))
    cases = {
        "missing.csv": (None, "missing.csv: no such file"),
        "price.csv": (HEADER + good + "new,X,buy,limit,1O.5,2,,,b,1\n", "price.csv line 32: price='1O.5': "
                      "not a decimal number"),
        "column.csv": ("action,symbol,colour\n", "column.csv line 1: column='colour': unknown column"),
        "json.jsonl": ('{"action": "new", "symbol": "X", "side": "buy", "type": "market", "quantity": 1}\n'
                       '{"action": "new", "symbol": \n', "json.jsonl line 2: not a JSON object"),
        "qty.jsonl": ('{"action": "new", "symbol": "X", "side": "buy", "type": "market", "quantity": true}\n',
                      "qty.jsonl line 1: quantity=True: expected a decimal number"),
    }
    for name, (text, message) in cases.items():
        if text is not None:
            (tmp_path / name).write_text(text)
        done = freeorder("replay", name, "--out", "ev.jsonl", cwd=tmp_path, check=False)
        assert done.returncode == 2, (name, done.stdout, done.stderr)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.startswith(f"freeorder: error: {message}"), done.stderr
        assert not any(p.name.startswith(("ev.jsonl", ".ev.jsonl")) for p in tmp_path.iterdir()), name
    unknown = tmp_path / "i.csv"
    unknown.write_text("symbol,tick_size\nY,0.01\n")
    done = freeorder("replay", "price.csv", "--instruments", "i.csv", cwd=tmp_path, check=False)
    assert done.returncode == 2
    assert done.stderr == "freeorder: error: price.csv line 2: symbol='X': no such instrument\n"
    done = freeorder("book", "Z", "--from", "price.csv", "--instruments", "i.csv", cwd=tmp_path, check=False)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    done = freeorder("replay", cwd=tmp_path, check=False)
    assert done.returncode == 2 and "give an order FILE or --sample" in done.stderr


def test_error_after_events_on_stdout_keeps_the_lines_before(tmp_path):
    """With --instruments the file is read once, so the events before a bad line are already out;
    without, the scan that infers the tick finds the bad line before anything is written."""
    path = tmp_path / "o.csv"
    path.write_text(HEADER + "new,X,sell,limit,10,5,,,a,1\nnew,X,buy,limit,10,x,,,b,1\n")
    (tmp_path / "i.csv").write_text("symbol,tick_size\nX,1\n")
    done = freeorder("replay", str(path), "--out", "-", "--instruments", str(tmp_path / "i.csv"), check=False)
    assert done.returncode == 2
    assert {e["line"] for e in events_of(done.stdout)} == {2}
    assert done.stderr == f"freeorder: error: {path} line 3: quantity='x': not a decimal number\n"


def test_progress_bar_when_asked(tmp_path):
    write_generated(tmp_path / "o.csv", 300, seed=2)
    done = freeorder("replay", str(tmp_path / "o.csv"), "--progress", "--engine", "reference")
    assert "replay" in done.stderr and "scan" in done.stderr and "kB" in done.stderr


@pytest.mark.slow
def test_an_installed_wheel_runs_without_the_source_tree(tmp_path):
    """`pip install .` as a user does: the wheel has the sample, the stress package and the
    console script, and the commands run from it, away from the checkout."""
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "-q", "-w", str(tmp_path)],
                   check=True, timeout=600)
    wheel = next(tmp_path.glob("freeorder-*.whl"))
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, timeout=600)
    assert (site / "freeorder/replay/data/sample.csv").exists() and (site / "freeorder/_atomics.pyi").exists()
    entry_points = next(site.glob("freeorder-*.dist-info")) / "entry_points.txt"
    assert "freeorder = freeorder.cli:main" in entry_points.read_text()
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "120"}

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "freeorder", *args], capture_output=True, text=True,
                              cwd=away, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    where = subprocess.run([sys.executable, "-c", "import freeorder; print(freeorder.__file__)"], capture_output=True,
                           text=True, cwd=away, env=env, check=True).stdout
    assert where.startswith(str(site)), where
    assert "the last trades of each symbol" in run("replay", "--sample")
    assert "AAA after the sample" in run("book", "AAA", "--sample")
    assert "invariants: OK" in run("stress", "stack", "--threads", "2", "--seconds", "0.2")


@pytest.mark.parametrize("text, message", [
    ("symbol,tick_size\nX,0\n", " line 2: tick_size='0': must be positive"),
    ("symbol,tick_size\nX,abc\n", " line 2: tick_size='abc': not a decimal number"),
    ("symbol,lot_size\nX,1\n", " line 2: tick_size=None: missing"),
    ("symbol,tick_size\nX,0.01\nX,0.05\n", " line 3: symbol='X': listed twice"),
    ("symbol,tick_size\n", ": no instruments in the file"),
])
def test_a_bad_instruments_file_names_line_field_and_value(tmp_path, text, message):
    path = tmp_path / "i.csv"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_instruments(path)
    assert str(caught.value) == f"{path}{message}"


def test_summary_counts_every_line_by_action(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(HEADER + "new,X,sell,limit,10,5,,,a,1\ncancel,X,,,,,,,a,2\nmodify,X,,,,3,,,a,1\n"
                             "cancel,X,,,,,,,a,1\n")
    engine = ReferenceEngine(infer_instruments(path).values(), record_events=False)
    replay = Replay(engine)
    assert list(replay.run(path)) == []
    totals = replay.totals["X"]
    assert (totals.lines, totals.new, totals.cancel, totals.modify, totals.refused) == (4, 1, 2, 1, 1)
