"""The measurement matrix on this interpreter: workloads x engines x threads, then the stalled thread.

``measure(settings)`` returns one JSON-ready dict for this interpreter
configuration (``label``: ``nogil``, ``nogil-with-gil`` or ``gil``). Per
combination: ``repeat`` untimed runs (throughput: their median) and one
timed run (latency percentiles, GC pauses), each on a fresh engine built
with ``record_events=False``. Engines that cannot run a combination are
listed with the reason. ``sys._is_gil_enabled()`` is recorded after the
imports (a C extension without ``Py_mod_gil`` turns the GIL back on when
imported) and after every run.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import sysconfig
from dataclasses import asdict, dataclass, field

from .. import __version__
from ..engines import ENGINES
from ..engines.rwlock import RWLockEngine
from . import runner, stall
from .workloads import WORKLOADS, prepare, supports


@dataclass
class Settings:
    workloads: list[str] = field(default_factory=lambda: list(WORKLOADS))
    engines: list[str] | None = None  # None: every available engine
    threads: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16])
    per_thread: int = 1500  # commands per writer thread (seed-s9: always 1,000)
    repeat: int = 2  # untimed runs per combination (median)
    cap_seconds: float = 3.0  # a run stops here even if its threads have commands left
    gc: str = "raised"
    seed: int = 1
    stall: bool = True
    stall_per_thread: int = 3000
    quick: bool = False


FULL = Settings()
QUICK = Settings(threads=[1, 2, 8], per_thread=500, repeat=1, cap_seconds=1.0, stall_per_thread=1000, quick=True)


def _ft_rwlock():
    """ft-utils' RWLock class, or None where ft-utils is not installed."""
    try:
        from ft_utils.synchronization import RWLock
    except Exception:  # noqa: BLE001 - not installed, or a broken wheel
        return None
    return RWLock


def available_engines() -> list[str]:
    """Every registered engine but the seed demonstration, and rwlock on ft-utils' lock if installed."""
    names = [name for name in ENGINES if name != "seed"]
    if _ft_rwlock() is not None:
        names.insert(names.index("rwlock") + 1, "rwlock-ft")
    return names


def make_engine(name: str, instruments):
    if name == "rwlock-ft":
        return RWLockEngine(instruments, record_events=False, lock=_ft_rwlock()())
    return ENGINES[name](instruments, record_events=False)


def close(engine) -> None:
    closer = getattr(engine, "close", None)
    if closer is not None:
        closer()


def label() -> str:
    """nogil, nogil-with-gil or gil (the names noxfile.py uses): the configuration asked for.

    On a free-threaded build that is ``PYTHON_GIL=1`` or not; whether the GIL really is off
    is recorded separately (``gil_enabled_after_imports``), so a run whose GIL an import
    turned back on is still filed, and flagged, as ``nogil``."""
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return "nogil-with-gil" if os.environ.get("PYTHON_GIL") == "1" else "nogil"
    return "gil"


def interpreter_info() -> dict:
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "free_threaded_build": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "gil_enabled_after_imports": runner.gil_enabled(),
        "PYTHON_GIL": os.environ.get("PYTHON_GIL"),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "freeorder": __version__,
    }


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def plan(settings: Settings) -> list[tuple[str, int, str]]:
    """The (workload, threads, engine) combinations, in run order."""
    engines = settings.engines or available_engines()
    return [(w, t, e) for w in settings.workloads for t in settings.threads for e in engines]


def run_combination(engine_name: str, prepared, settings: Settings) -> dict:
    """``repeat`` untimed runs and one timed run of one combination."""
    row: dict = {"workload": prepared.workload, "engine": engine_name, "threads": prepared.threads}
    rates, reader_rates, walls, errors, capped, untimed = [], [], [], [], False, []
    for _ in range(settings.repeat):
        engine = make_engine(engine_name, prepared.instruments)
        try:
            result = runner.execute(engine, prepared, timed=False, cap_seconds=settings.cap_seconds, gc=settings.gc)
        finally:
            close(engine)
        rates.append(result.rate("writer"))
        untimed.append(result.summary("writer") | {"gc": result.gc})
        reader_rates.append(result.rate("reader"))
        walls.append(result.wall())
        capped |= result.capped
        if result.error:
            errors.append(result.error)
    engine = make_engine(engine_name, prepared.instruments)
    try:
        timed = runner.execute(engine, prepared, timed=True, cap_seconds=settings.cap_seconds, gc=settings.gc)
    finally:
        close(engine)
    if timed.error:
        errors.append(timed.error)
    row.update(
        rate=statistics.median(rates), rates=[round(r, 1) for r in rates], wall_s=statistics.median(walls),
        cpu_rate=statistics.median(u["cpu_rate"] for u in untimed),
        cpu_share=statistics.median(u["cpu_share"] for u in untimed),
        gc_untimed={key: sum(u["gc"][key] for u in untimed) for key in ("collections", "pause_total_ns")}
        | {"pause_max_ns": max(u["gc"]["pause_max_ns"] for u in untimed)},
        writer=timed.summary("writer"), gc=timed.gc, capped=capped or timed.capped, errors=sorted(set(errors)),
        gil_enabled=runner.gil_enabled())
    if "reader" in prepared.roles:
        row["reader_rate"] = statistics.median(reader_rates)
        row["reader"] = timed.summary("reader")
    return row


def run_stall(engine_name: str, settings: Settings) -> dict:
    """The stalled-thread scenario on one engine (see ``freeorder.bench.stall``)."""
    prepared = prepare("contended", stall.THREADS, settings.stall_per_thread, settings.seed)
    others = list(range(1, stall.THREADS))
    row: dict = {"engine": engine_name, "threads": stall.THREADS, "every": stall.EVERY,
                 "pause_ms": stall.PAUSE_S * 1e3}
    for label_, stalled in (("unstalled", False), ("stalled", True)):
        part: dict = {}
        for timed in (False, True):
            engine = make_engine(engine_name, prepared.instruments)
            try:
                why = stall.unsupported(engine_name, engine)
                if why:
                    return row | {"skipped": why}
                hook = stall.Staller(engine_name)
                row["where"] = hook.step
                if stalled:
                    engine.on_step = hook
                result = runner.execute(engine, prepared, timed=timed, cap_seconds=settings.cap_seconds * 4,
                                        gc=settings.gc, setup=hook.setup)
            finally:
                close(engine)
            if result.error:
                part.setdefault("errors", []).append(result.error)
            if timed:
                part["others_latency"] = result.summary(which=others)["latency"]
                part["gc"] = result.gc
            else:
                part["others_rate"] = result.rate(which=others)
                part["others_cpu_share"] = result.summary(which=others)["cpu_share"]
                part["staller_rate"] = result.rate(which=[0])
                part["pauses"] = hook.pauses
                part["paused_ms"] = hook.paused_ns / 1e6
        row[label_] = part
    return row


def measure(settings: Settings, progress=None) -> dict:
    """Run the matrix (and the stall scenario) here; ``progress(description)`` after each step."""
    engines = settings.engines or available_engines()  # imports ft-utils where installed: before the GIL check
    info = interpreter_info()
    started = datetime.datetime.now().astimezone()
    out: dict = {
        "schema": 1, "label": label(), "interpreter": info, "settings": asdict(settings),
        "gc_policy": settings.gc, "gc_policy_text": runner.GC_POLICY_TEXT[settings.gc],
        "measured_at": started.isoformat(timespec="seconds"), "loadavg_start": _loadavg(),
        "timer_floor": runner.timer_floor(), "runs": [], "stall": [],
    }
    prepared_cache: dict = {}
    for workload, threads, engine_name in plan(settings):
        key = (workload, threads)
        if key not in prepared_cache:
            prepared_cache.clear()  # one workload instance in memory at a time
            prepared_cache[key] = prepare(workload, threads, settings.per_thread, settings.seed)
        why = supports(engine_name, workload, threads)
        if why:
            out["runs"].append({"workload": workload, "engine": engine_name, "threads": threads, "skipped": why})
        else:
            out["runs"].append(run_combination(engine_name, prepared_cache[key], settings))
        if progress is not None:
            progress(f"{workload} x {engine_name} x {threads}")
    prepared_cache.clear()
    if settings.stall:
        for engine_name in engines:
            out["stall"].append(run_stall(engine_name, settings))
            if progress is not None:
                progress(f"stalled thread x {engine_name}")
    out["gil_enabled_at_end"] = runner.gil_enabled()
    out["loadavg_end"] = _loadavg()
    out["seconds"] = round((datetime.datetime.now().astimezone() - started).total_seconds(), 1)
    return out


def steps(settings: Settings) -> int:
    """How many progress steps ``measure`` reports."""
    return len(plan(settings)) + (len(settings.engines or available_engines()) if settings.stall else 0)
