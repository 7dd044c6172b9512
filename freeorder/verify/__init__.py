"""freeorder.verify: tools that check concurrent code (tests, stress and benchmarks only).

- ``model(body)``, ``spawn``, ``yield_point``: the model checker (``verify.model``);
  importing this package registers the ``model`` atomics backend.
- ``linearizability``: Wing–Gong/Lowe checker with P-compositional partitioning.
- ``history``: records invocations/responses of real-thread runs.
- ``freeze_test``: freezes one real thread mid-operation and checks the others still finish.
"""

from freeorder import atomic

from . import model as _model_mod
from .model import (
    ENV_MAX_PREEMPTIONS,
    ENV_REPLAY,
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

__all__ = [
    "ENV_MAX_PREEMPTIONS",
    "ENV_REPLAY",
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
