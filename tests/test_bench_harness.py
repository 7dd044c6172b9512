"""The engine harness (freeorder.bench): workloads, run bookkeeping, the stall hook, the report's
arithmetic, and the command line end to end on a tiny matrix. Nothing here asserts on speed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from freeorder.bench import report, runner, stall
from freeorder.bench.harness import Settings, available_engines, make_engine, measure
from freeorder.bench.workloads import WORKLOADS, bind, prepare, supports
from freeorder.book import Side
from freeorder.engines import ShardedEngine
from freeorder.engines.workload import Command

pytestmark = pytest.mark.thread_unsafe(reason="starts its own threads")


@pytest.mark.parametrize("workload", WORKLOADS)
def test_workloads_are_deterministic_by_seed(workload):
    a, b, c = prepare(workload, 3, 50, seed=4), prepare(workload, 3, 50, seed=4), prepare(workload, 3, 50, seed=5)
    assert a.programs == b.programs and a.roles == b.roles
    assert a.programs != c.programs
    assert len(a.programs) == 3
    for program, role in zip(a.programs, a.roles):
        assert program and all(len(call) == 4 for call in program)
        if role == "writer":
            assert len(program) == (1000 if workload == "seed-s9" else 50)


def test_workload_shapes():
    multi = prepare("multi-symbol", 3, 20)
    assert [{call[1] for call in p} for p in multi.programs] == [{"SYM0"}, {"SYM1"}, {"SYM2"}]
    heavy = prepare("read-heavy", 3, 20)
    assert heavy.roles == ["writer", "reader", "reader"]
    assert {call[0] for call in heavy.programs[1]} == {"best", "depth", "snapshot"}
    mix = prepare("mix", 2, 400)
    methods = [call[0] for p in mix.programs for call in p]
    assert {"submit", "cancel", "modify", "best"} <= set(methods)
    assert 0.2 < methods.count("cancel") / len(methods) < 0.5
    with pytest.raises(ValueError, match="workload"):
        prepare("nope", 1, 1)
    with pytest.raises(ValueError, match="threads"):
        prepare("contended", 0, 1)


def test_only_thread_safe_engines_share_a_symbol():
    assert supports("reference", "multi-symbol", 8) is None
    assert supports("reference", "contended", 1) is None
    assert "one thread" in supports("reference", "contended", 2)
    assert supports("rcu", "contended", 16) is None


def test_runs_count_every_call_and_readers_stop_with_the_writers():
    prepared = prepare("read-heavy", 3, 300)
    engine = make_engine("sharded", prepared.instruments)
    result = runner.execute(engine, prepared, timed=True, cap_seconds=60)
    writer, *readers = result.threads
    assert result.error is None and not result.capped
    assert writer.done == 300 and writer.hist.finish().count == 300
    assert all(r.done % 3 == 0 and r.hist.finish().count == r.done for r in readers)
    assert all(r.end >= writer.end for r in readers)
    summary = result.summary("writer")
    assert summary["calls"] == 300 and summary["latency"]["count"] == 300
    assert sum(summary["buckets"].values()) == 300
    # the same commands replayed alone give the same refusals (one thread per symbol: exact)
    alone = runner.execute(make_engine("reference", prepared.instruments),
                           prepare("read-heavy", 1, 300), timed=False, cap_seconds=60)
    assert alone.threads[0].refused == writer.refused


def test_a_refused_call_is_counted_and_another_error_is_reported():
    prepared = prepare("multi-symbol", 1, 10)
    prepared.programs[0] = [("cancel", "SYM0", (99,), {}), ("submit", "SYM0", (Side.BUY, 1, 100), {})]
    result = runner.execute(make_engine("rwlock", prepared.instruments), prepared, timed=False, cap_seconds=60)
    assert (result.threads[0].done, result.threads[0].refused, result.error) == (2, 1, None)
    prepared.programs[0] = [("submit", "SYM0", (Side.BUY, 1, 100), {"bogus": 1})]
    result = runner.execute(make_engine("rwlock", prepared.instruments), prepared, timed=False, cap_seconds=60)
    assert "TypeError" in result.error


def test_gc_pauses_are_timed_and_the_policy_restored():
    import gc

    was = gc.isenabled()
    watch = runner.GcWatch()
    watch.start()
    gc.collect()
    pauses = watch.stop()
    assert pauses["collections"] >= 1 and pauses["pause_max_ns"] > 0
    thresholds = gc.get_threshold()
    with runner.gc_policy("off"):
        assert not gc.isenabled()
    with runner.gc_policy("interpreter"):
        assert gc.isenabled() and gc.get_threshold() == thresholds
    with runner.gc_policy("raised"):
        assert gc.isenabled() and gc.get_threshold()[0] == runner.RAISED_THRESHOLD
    assert gc.isenabled() == was and gc.get_threshold() == thresholds
    with pytest.raises(ValueError, match="gc"):
        with runner.gc_policy("sometimes"):
            pass


@pytest.mark.parametrize("engine_name", ["sharded", "actor", "lockfree"])
def test_the_staller_pauses_once_every_hundred_of_its_own_commands(engine_name, monkeypatch):
    slept = []
    monkeypatch.setattr(stall.time, "sleep", slept.append)  # count the pauses, do not take them
    prepared = prepare("contended", 2, 350)
    engine = make_engine(engine_name, prepared.instruments)
    hook = stall.Staller(engine_name)
    engine.on_step = hook
    try:
        runner.execute(engine, prepared, timed=False, cap_seconds=60, setup=hook.setup)
    finally:
        getattr(engine, "close", lambda: None)()
    assert hook.commands == 350  # the staller's own commands only, not the other thread's
    assert hook.pauses == len(slept) == 3


def test_engines_without_a_hook_are_reported_not_stalled():
    assert stall.unsupported("reference", make_engine("reference", [])) is not None
    assert stall.unsupported("sharded", ShardedEngine()) is None

    class NoHook:
        pass

    assert "hook" in stall.unsupported("replicated", NoHook())


def test_amdahl_projection():
    assert report.amdahl_crossing(100, 200, 50) == "1"
    assert report.amdahl_crossing(50, 100, 200).startswith("4 ")  # perfect scaling: 4 threads for 4x
    assert report.amdahl_crossing(50, 50, 200).startswith("never")
    assert report.amdahl_crossing(50, 75, 200).startswith("never")  # p = 2/3: ceiling 150


def fake_run(workload, engine, threads, rate, **extra):
    latency = {"count": 10, "p50": 1000, "p99": 2000, "p99.9": 3000, "max": 4000}
    row = {"workload": workload, "engine": engine, "threads": threads, "rate": rate, "wall_s": 0.1,
           "cpu_rate": rate, "cpu_share": 1.0, "writer": {"rate": rate, "refused": 0, "latency": latency},
           "gc": {"collections": 0, "pause_total_ns": 0, "pause_max_ns": 0}, "errors": []}
    return row | extra


def fake_result(label, runs, stalls=()):
    return {"label": label, "runs": runs, "stall": list(stalls), "measured_at": "now", "gc_policy_text": "x",
            "settings": {"quick": True, "per_thread": 1, "repeat": 1, "cap_seconds": 1},
            "interpreter": {"python": "3.13", "executable": "py", "cpus": 2, "gil_enabled_after_imports": False}}


def stall_row(engine, others_rate, p999):
    part = {"others_rate": others_rate, "others_latency": {"p99.9": p999}, "pauses": 3, "paused_ms": 3.0}
    return {"engine": engine, "where": "locked", "unstalled": part, "stalled": part}


def test_targets_are_decided_from_the_results():
    reader = {"reader": {"latency": {"count": 9, "p50": 500, "p99": 800, "p99.9": 900, "max": 990}}, "reader_rate": 1e6}
    nogil = fake_result("nogil", [
        fake_run("multi-symbol", "rcu", 1, 100.0), fake_run("multi-symbol", "rcu", 2, 190.0),
        fake_run("multi-symbol", "sharded", 2, 150.0),
        *[fake_run("read-heavy", e, 1, 100.0) for e in ("rcu", "hybrid", "lockfree")],
        fake_run("read-heavy", "rcu", 2, 95.0, **reader), fake_run("read-heavy", "hybrid", 2, 50.0, **reader),
    ], [stall_row("lockfree", 120.0, 100), stall_row("rwlock", 100.0, 500)])
    gil = fake_result("gil", [fake_run("multi-symbol", "reference", 1, 200.0)])
    verdicts = {v.name: v for v in report.targets({"nogil": nogil, "gil": gil})}
    first = next(v for name, v in verdicts.items() if name.startswith("best 3.13t"))
    assert first.met and "rcu" in first.measured and "0.95×" in first.measured  # 190 / 200
    assert "3 (Amdahl" in first.detail  # 100 -> 190 at 2 threads: p = 0.947, passes 200 at 3
    # p99.9 500 ns against 100 ns: 5x tighter, not 10x; others' throughput 1.2x
    assert [v.met for name, v in verdicts.items() if name.startswith("stalled")] == [False, True]
    heavy = {name.split(",")[1].split(":")[0].strip(): v.met for name, v in verdicts.items() if "read-heavy" in name}
    assert heavy == {"rcu": True, "hybrid": False, "lockfree": None}
    table = report.markdown({"nogil": nogil, "gil": gil})
    assert "| RCU (`rcu`) | 500 ns (900 ns) |" in table and "**missed**" in table and "**met**" in table


def test_readme_markers_are_replaced_and_required():
    text = "a\n<!-- harness:begin -->\nold\n<!-- harness:end -->\nz"
    assert report.replace_between_markers(text, "new") == "a\n<!-- harness:begin -->\nnew\n<!-- harness:end -->\nz"
    with pytest.raises(ValueError, match="markers"):
        report.replace_between_markers("no markers", "new")


def test_measure_records_the_gil_state_and_every_combination():
    settings = Settings(workloads=["multi-symbol"], engines=["reference", "rcu"], threads=[1, 2], per_thread=30,
                        repeat=1, cap_seconds=30, stall=True, stall_per_thread=30)
    result = measure(settings)
    assert result["interpreter"]["gil_enabled_after_imports"] in (True, False)
    assert "gil_enabled_at_end" in result and result["gc_policy"] == "raised"
    assert [(r["engine"], r["threads"]) for r in result["runs"]] == [("reference", 1), ("rcu", 1), ("reference", 2),
                                                                     ("rcu", 2)]
    assert all(r["errors"] == [] and r["writer"]["latency"]["count"] == 30 * r["threads"] for r in result["runs"])
    reference_stall, rcu_stall = result["stall"]
    assert "skipped" in reference_stall and rcu_stall["where"] == "locked"
    json.dumps(result)  # JSON-ready


def test_command_line_quick_run_writes_json_and_report(tmp_path):
    """`python -m freeorder bench --quick` on a tiny matrix (seconds), then --report-only."""
    args = [sys.executable, "-m", "freeorder", "bench", "--quick", "--out", str(tmp_path), "--no-plots",
            "--workloads", "multi-symbol,read-heavy", "--engines", "rwlock,rcu,lockfree",
            "--threads", "1,2", "--per-thread", "40"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    files = list(tmp_path.glob("bench-*.json"))
    assert len(files) == 1
    data = json.loads(files[0].read_text())
    assert len(data["runs"]) == 2 * 3 * 2 and len(data["stall"]) == 3
    assert "read-heavy, rcu: writer with 1 reader" in done.stdout
    text = (tmp_path / "report.md").read_text()
    assert "### Targets" in text and "### The design document's §11 comparison, measured" in text
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- harness:begin -->\n<!-- harness:end -->\n")
    again = subprocess.run([sys.executable, "-m", "freeorder", "bench", "--report-only", "--out", str(tmp_path),
                            "--no-plots", "--readme", str(readme)], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "### Throughput: `multi-symbol`" in readme.read_text()


def test_command_line_refuses_unknown_names(tmp_path):
    done = subprocess.run([sys.executable, "-m", "freeorder", "bench", "--engines", "nope", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "unknown engine nope" in done.stderr


def test_compare_help():
    done = subprocess.run([sys.executable, "-m", "freeorder", "compare", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0
    assert "--python-nogil" in done.stdout and "--python-gil" in done.stdout


def test_available_engines_are_the_registry_but_the_seed():
    names = available_engines()
    assert "seed" not in names and {"reference", "lockfree", "rwlock", "sharded", "actor", "rcu", "hybrid"} <= set(names)
    for name in names:
        engine = make_engine(name, [])
        getattr(engine, "close", lambda: None)()


def test_bound_calls_run_the_commands():
    engine = make_engine("rcu", prepare("contended", 1, 1).instruments)
    calls = bind(engine, [("submit", "HOT", (Side.SELL, 3, 100), {"owner": "a"}), ("best", "HOT", (), {})])
    assert [fn(*args, **kw) for fn, args, kw in calls][1].ask_qty == 3
    assert Command("best", "HOT", ()).run(engine).ask == 100
