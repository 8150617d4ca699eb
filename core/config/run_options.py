"""How a run is carried out: concurrency, limits, retries, budget, resume, batch and shard choices."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ftplug.config.experiment import Experiment
from ftplug.engine.cost_gate import CostGate
from ftplug.engine.retry_policy import RetryPolicy


@dataclass
class RunOptions:
    """How to run: ``limit`` caps the test examples, ``batch_size`` is predictions per store commit.

    ``concurrency`` requests are in flight at once, within ``rpm`` requests and ``tpm`` tokens per minute
    per endpoint (``None``: only what the API's rate-limit headers say); failed requests are retried by
    ``retry``. ``max_retries`` is the SDK's own, for fine-tuning calls.

    ``shard``: ``(i, n)`` runs only the i-th of n disjoint, deterministic slices of the test split (see
    :func:`ftplug.engine.planning.shard_of`); the slices of one experiment merge back into whole runs
    (``ftplug merge``).

    ``batch``: send the requests through the Batch API (:mod:`ftplug.engine.batch_mode`), polling every
    ``batch_poll_seconds`` (default 30, 0.2 on the simulator).

    ``max_cost``: stop taking new requests once this invocation has paid that many USD for answers (answers
    from the cache cost nothing); what was asked is stored, the stopped run resumes like an interrupted one.

    A variant whose earlier run (same data, settings and kind of endpoint) did not finish is resumed: only
    the examples without a stored, error-free prediction are asked again; ``fresh`` starts new runs instead.

    ``cost_gate`` decides, before any live training, whether its estimated cost may be spent
    (:class:`ftplug.engine.cost_gate.CostGate`).
    """

    limit: int | None = None
    concurrency: int = 32
    batch_size: int = 64
    max_retries: int = 3
    rpm: float | None = None
    tpm: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    cost_gate: CostGate = field(default_factory=CostGate)
    resume_hint: str = "ftplug run EXPERIMENT.toml"
    fresh: bool = False
    use_cache: bool = True
    max_cost: float | None = None
    shard: tuple[int, int] | None = None
    batch: bool = False
    batch_poll_seconds: float | None = None
    progress_interval: float = 5.0
    quiet: bool = False


def run_options_for(experiment: Experiment, **given: Any) -> RunOptions:
    """Options from the experiment's ``[run]`` table, overridden by ``given`` (flags; ``None`` = not given)."""
    config = experiment.run_options
    chosen = {key: value for key, value in given.items() if value is not None}
    for key in ("concurrency", "rpm", "tpm"):
        chosen.setdefault(key, config.get(key))
    attempts = chosen.pop("max_attempts", None) or config.get("max_attempts", 5)
    chosen.setdefault("retry", RetryPolicy(attempts=attempts, base=config.get("backoff", 0.5)))
    return RunOptions(**{key: value for key, value in chosen.items() if value is not None})



