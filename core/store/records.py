"""Records that pass between the runner, the store and the lifecycle hooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class RunInfo:
    """One variant's run of an experiment.

    :param simulated: ``True`` when the answers come from the offline simulator, not a real model.
    """

    run_id: str
    experiment: str
    variant: str
    model: str
    base_model: str
    trainer: str
    prompt_builder: str
    simulated: bool
    endpoint: str
    started_at: datetime
    config_key: str = ""
    shard: str | None = None  # "i/n" when the run covers one shard of the test split


@dataclass(slots=True)
class PredictionRecord:
    """One model answer for one test example, with its measurements and scores."""

    run_id: str
    example_id: str
    output: str | None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    latency_ms: float | None = None  # as the client saw it, queueing at the server included
    cost_usd: float | None = None
    error: str | None = None
    scores: dict[str, float | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    score_errors: dict[str, str] = field(default_factory=dict)
    samples: list[str] | None = None
    from_cache: bool = False
    cache_key: str | None = None
    cache_entry: str | None = None  # the response to keep in the cache (JSON), for a fresh answer
    server_latency_ms: float | None = None  # the server's own time for it (openai-processing-ms), if it says
    in_flight: int | None = None  # requests (or local prompts) in flight with it, itself included
    sample_values: dict[str, list[float | None]] | None = None  # per scorer, its value on each of the samples


@dataclass
class RunSummary:
    """What a finished run amounted to."""

    run_id: str
    variant: str
    status: str  # "succeeded" | "failed" | "interrupted"
    predictions: int = 0
    errors: int = 0
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
