"""The linearizability checker's fixes, each tested on small histories our own generator makes
(tests/histgen.py): partitions side by side, a default time limit, a failing window that shows
what it conflicts with, the checker's GC policy, PENDING exported, a key-value model with
append, and the HTML timeline of a failure."""

import gc
import re
import time

import pytest

from freeorder import verify
from freeorder.verify import linearizability
from freeorder.verify.linearizability import (
    PENDING,
    KVModel,
    Model,
    NotLinearizable,
    Operation,
    RegisterModel,
    assert_linearizable,
    check,
)
from histgen import generate, wrong


def kv_inputs(keys):
    def inputs(rng):
        key, kind = rng.choice(keys), rng.random()
        if kind < 0.4:
            return ("get", key)
        if kind < 0.7:
            return ("append", key, rng.choice("xyz"))
        return ("put", key, rng.choice("abc"))

    return inputs


def unsettled_partition(key="a", n=28):
    """Pending appends of distinct digits, then a get that no order of them explains: the
    search has to rule out every subset and order (far beyond any test's time)."""
    ops = generate(KVModel(), lambda rng: ("append", key, str(rng.randrange(10))), n, n, seed=5,
                   pending=1.0, keyed=True)
    end = max(op.call for op in ops) + 1
    return ops + [Operation("reader", ("get", key), "not a concatenation", end, end + 1)]


def failing_partition(key="b", seed=2):
    """A generated history of one key with one get's result replaced by a value never written."""
    ops = generate(KVModel(), kv_inputs([key]), 30, 3, seed=seed, keyed=True)
    victim = next(i for i, op in enumerate(ops) if op.input[0] == "get")
    return wrong(ops, victim, "never written"), ops[victim]


# ---- partitions side by side --------------------------------------------------------------


def test_an_unsettled_partition_alone_times_out():
    result = check(KVModel(), unsettled_partition(), timeout=0.3)
    assert result.linearizable is None and "timed out" in result.explain()


def test_a_later_failing_partition_is_found_while_an_earlier_one_cannot_be_settled():
    bad, victim = failing_partition()
    history = unsettled_partition() + bad  # partition "a" comes first
    started = time.monotonic()
    result = check(KVModel(), history, timeout=30)
    assert result.linearizable is False, result.explain()
    assert result.partitions == 2 and result.failing_partition == 1
    assert all(op.input[1] == "b" for op in result.core)
    assert any(op.call == victim.call and op.output == "never written" for op in result.core)
    assert time.monotonic() - started < 20  # long before the unsettled partition could finish


def test_every_partition_is_still_checked_when_none_fails():
    history = generate(KVModel(), kv_inputs(["a", "b", "c", "d"]), 200, 6, seed=9, pending=0.05, keyed=True)
    result = check(KVModel(), history)
    assert result.linearizable is True and result.partitions == 4


# ---- a default time limit ---------------------------------------------------------------------


def test_assert_linearizable_has_a_default_time_limit(monkeypatch):
    monkeypatch.setattr(linearizability, "DEFAULT_TIMEOUT", 0.3)
    started = time.monotonic()
    with pytest.raises(NotLinearizable, match="timed out") as info:
        assert_linearizable(KVModel(), unsettled_partition())
    assert info.value.result.linearizable is None
    assert time.monotonic() - started < 10


def test_an_explicit_time_limit_overrides_the_default():
    history = generate(KVModel(), kv_inputs(["a"]), 40, 4, seed=1, keyed=True)
    assert assert_linearizable(KVModel(), history, timeout=30).linearizable


# ---- the failing window shows what it conflicts with ------------------------------------------


def register_history(seed):
    values = iter(range(1, 10**6))
    return generate(RegisterModel(), lambda rng: ("write", next(values)) if rng.random() < 0.4 else ("read",),
                    60, 4, seed=seed)


def stale_read(ops):
    """(index of a read, the write whose value it is given instead): the write completed, then
    another write completed, all before the read was called (a value overwritten in real time)."""
    writes = [op for op in ops if op.input[0] == "write"]
    for i, op in enumerate(ops):
        if op.input[0] != "read" or op.ret is None:
            continue
        for old in writes:
            newer = [w for w in writes if w.call > old.ret and w.ret is not None and w.ret < op.call]
            if old.ret is not None and newer and op.output != old.input[1]:
                return i, old, newer
    raise AssertionError("no stale-read candidate in this history")


@pytest.mark.parametrize("seed", range(4))
def test_a_stale_read_comes_with_the_writes_it_conflicts_with(seed):
    ops = register_history(seed)
    assert check(RegisterModel(), ops).linearizable
    i, old, newer = stale_read(ops)
    bad = wrong(ops, i, old.input[1])
    result = check(RegisterModel(), bad, minimize_budget=10)
    assert result.linearizable is False
    core = {(o.thread, o.call) for o in result.core}
    shown = core | {(o.thread, o.call) for o in result.context}
    assert (bad[i].thread, bad[i].call) in core, result.explain()
    # not a lone read: the write of the value it saw is in the window (its effect is needed) ...
    assert (old.thread, old.call) in core, result.explain()
    assert "its effect is needed" in result.explain()
    # ... and so are the writes that overwrote it before the read began
    assert all((w.thread, w.call) in shown for w in newer), result.explain()
    # the window alone, every other operation result-free, still fails: it is a real conflict
    keep = {(o.thread, o.call) for o in result.needs_result}
    relaxed = [o if (o.thread, o.call) in keep or o.ret is None else Operation(o.thread, o.input, PENDING, o.call, o.ret)
               for o in bad]
    assert check(RegisterModel(), relaxed, minimize=False).linearizable is False


# ---- GC policy ------------------------------------------------------------------------------


class Watching(RegisterModel):
    """A register that notes whether the cyclic GC was enabled at each step."""

    def __init__(self):
        super().__init__()
        self.seen = set()

    def step(self, state, input, output):
        self.seen.add(gc.isenabled())
        return super().step(state, input, output)


@pytest.mark.parametrize("enabled", [True, False])
def test_the_search_runs_with_the_cyclic_gc_off_and_restores_the_callers_setting(enabled):
    model = Watching()
    ops = register_history(7)
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        assert check(model, ops).linearizable
        bad = wrong(ops, stale_read(ops)[0], -1)
        assert check(model, bad).linearizable is False  # the minimising search too
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert model.seen == {False}
    assert "disables the cyclic GC" in linearizability.__doc__


# ---- PENDING ------------------------------------------------------------------------------------


def test_pending_is_exported_and_is_what_a_model_sees_for_an_operation_that_never_returned():
    assert verify.PENDING is PENDING and "PENDING" in verify.__all__
    seen = []

    class Recording(Model):
        name = "recording"

        def init(self):
            return 0

        def step(self, state, input, output):
            seen.append(output)
            return True, state

    ops = generate(RegisterModel(), lambda rng: ("read",), 10, 3, seed=4, pending=0.5)
    assert any(op.ret is None for op in ops)
    assert check(Recording(), ops).linearizable
    assert verify.PENDING in seen


# ---- the key-value model with append ----------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_generated_kv_histories_are_linearizable(seed):
    history = generate(KVModel(), kv_inputs(["a", "b", "c"]), 80, 5, seed=seed, pending=0.1, keyed=True)
    result = check(verify.KVModel(), history)
    assert result.linearizable is True and result.partitions == 3


@pytest.mark.parametrize("seed", range(5))
def test_a_get_that_no_order_of_appends_explains_is_rejected(seed):
    bad, victim = failing_partition("k", seed)
    result = check(KVModel(), bad)
    assert result.linearizable is False
    assert any(op.call == victim.call for op in result.needs_result)


def test_appends_concatenate_in_linearization_order():
    seq = [Operation("a", ("append", "k", "x"), None, 0, 1), Operation("b", ("append", "k", "y"), None, 2, 3)]
    assert check(KVModel(), seq + [Operation("c", ("get", "k"), "xy", 4, 5)]).linearizable
    assert not check(KVModel(), seq + [Operation("c", ("get", "k"), "yx", 4, 5)]).linearizable
    overlapping = [replace_times(seq[0], 0, 3), replace_times(seq[1], 1, 4)]
    assert check(KVModel(), overlapping + [Operation("c", ("get", "k"), "yx", 5, 6)]).linearizable
    with pytest.raises(ValueError, match="unknown operation"):
        check(KVModel(), [Operation("a", ("incr", "k"), None, 0, 1)])


def replace_times(op, call, ret):
    return Operation(op.thread, op.input, op.output, call, ret)


# ---- the HTML timeline ------------------------------------------------------------------------


def test_a_failure_writes_a_self_contained_html_timeline(tmp_path):
    bad, victim = failing_partition()
    path = tmp_path / "failure.html"
    with pytest.raises(NotLinearizable) as info:
        assert_linearizable(KVModel(), bad, html=path)
    assert str(path) in str(info.value) and info.value.html == path
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert not re.search(r"(src|href)\s*=|https?://|<link", text)  # nothing loaded from elsewhere
    result = info.value.result
    threads = {op.thread for op in result.partition}
    assert text.count("class='row'") == len(threads)
    assert text.count("<div class='op ") == len(result.partition)
    assert text.count("<div class='op core") == len(result.needs_result)
    assert "never written" in text and "not linearizable" in text


def test_the_html_directory_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(linearizability.ENV_HTML, str(tmp_path / "out"))
    with pytest.raises(NotLinearizable) as info:
        assert_linearizable(KVModel(), failing_partition()[0])
    (written,) = (tmp_path / "out").glob("kv-*.html")
    assert info.value.html == written and str(written) in str(info.value)


def test_a_linearizable_result_renders_its_verdict_only():
    result = check(KVModel(), generate(KVModel(), kv_inputs(["a"]), 10, 2, seed=3, keyed=True))
    assert "linearizable: 10 operations" in result.to_html()
