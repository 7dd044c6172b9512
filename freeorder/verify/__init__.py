"""freeorder.verify: tools that check concurrent code (tests, stress and benchmarks only).

- ``model(body)``, ``spawn``, ``yield_point``: the model checker (``verify.model``);
  importing this package registers the ``model`` atomics backend. ``model(body,
  memory="c11")`` explores the C11 memory model (``verify.c11``): stale loads,
  release/acquire, fences, SEQ_CST, data races on arena payloads.
- ``linearizability``: Wing–Gong/Lowe checker with P-compositional partitioning.
- ``history``: records invocations/responses of real-thread runs.
- ``freeze_test``: freezes one real thread mid-operation and checks the others still finish
  (registers the ``freeze`` backend: native atomics counted per thread).
"""

from freeorder import atomic

from . import freeze as _freeze_mod
from . import model as _model_mod
from .freeze import FreezeReport, freeze_point, freeze_test
from .history import History, Operation
from .linearizability import (
    PENDING,
    CounterModel,
    KVModel,
    LinearizabilityResult,
    MapModel,
    Model,
    NotLinearizable,
    QueueModel,
    RegisterModel,
    SetModel,
    StackModel,
    assert_linearizable,
    check_linearizable,
)
from .model import (
    ENV_MAX_PREEMPTIONS,
    ENV_MAX_STALE,
    ENV_MEMORY,
    ENV_REPLAY,
    DataRace,
    JoinHandle,
    ModelError,
    ModelFailure,
    Report,
    current_thread_id,
    decode_schedule,
    encode_schedule,
    model,
    spawn,
    yield_point,
)

atomic.register_backend("model", _model_mod.load_backend)
atomic.register_backend("freeze", _freeze_mod.load_backend)

__all__ = [
    "PENDING",
    "CounterModel",
    "KVModel",
    "FreezeReport",
    "History",
    "LinearizabilityResult",
    "MapModel",
    "Model",
    "NotLinearizable",
    "Operation",
    "QueueModel",
    "RegisterModel",
    "SetModel",
    "StackModel",
    "assert_linearizable",
    "check_linearizable",
    "freeze_point",
    "freeze_test",
    "ENV_MAX_PREEMPTIONS",
    "ENV_MAX_STALE",
    "ENV_MEMORY",
    "ENV_REPLAY",
    "DataRace",
    "JoinHandle",
    "ModelError",
    "ModelFailure",
    "Report",
    "current_thread_id",
    "decode_schedule",
    "encode_schedule",
    "model",
    "spawn",
    "yield_point",
]
