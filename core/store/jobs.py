"""Fine-tuning jobs as ftplug remembers them: one record per job, with its events, kept in the result store.

The record is written as soon as the job exists, before any waiting, so an interrupted run finds the job
again. A job is identified for reuse by :func:`job_key`: the same base model, training data, validation
data, hyperparameters, suffix and endpoint give the same key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

TERMINAL_STATUSES = ("succeeded", "failed", "cancelled")


def job_key(*, base_model: str, endpoint: str, training: bytes, validation: bytes | None,
            hyperparameters: Mapping[str, Any], suffix: str | None) -> str:
    """A content address for a fine-tuning job: equal keys mean the same training would happen."""
    payload = json.dumps({
        "base_model": base_model, "endpoint": endpoint, "suffix": suffix,
        "hyperparameters": dict(sorted(hyperparameters.items())),
        "training": hashlib.sha256(training).hexdigest(),
        "validation": hashlib.sha256(validation).hexdigest() if validation is not None else None,
    }, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


@dataclass
class JobRecord:
    """One fine-tuning job (a row of ``finetune_jobs``)."""

    job_id: str
    key: str
    experiment: str
    variant: str
    base_model: str
    endpoint: str
    simulated: bool
    status: str
    created_at: datetime
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    suffix: str | None = None
    training_file: str | None = None
    validation_file: str | None = None
    training_examples: int = 0
    api_key_env: str | None = None
    estimated_cost_usd: float | None = None
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    training_cost_usd: float | None = None
    finished_at: datetime | None = None
    error: str | None = None

    @property
    def active(self) -> bool:
        """Still validating, queued or running on the server (as last seen)."""
        return self.status not in TERMINAL_STATUSES


@dataclass(frozen=True)
class JobEvent:
    """One event of a job (a row of ``finetune_events``); metrics events carry step and losses."""

    job_id: str
    event_id: str
    created_at: datetime
    level: str
    type: str
    message: str
    step: int | None = None
    total_steps: int | None = None
    train_loss: float | None = None
    valid_loss: float | None = None
    full_valid_loss: float | None = None
    data: dict[str, Any] | None = None

    @classmethod
    def from_api(cls, job_id: str, event: Any) -> JobEvent:
        """From an SDK ``FineTuningJobEvent``."""
        data = event.data if isinstance(event.data, dict) else None
        metrics = data or {}

        def number(key: str) -> float | None:
            value = metrics.get(key)
            return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

        step, total = number("step"), number("total_steps")
        created = datetime.fromtimestamp(event.created_at, UTC).replace(tzinfo=None)
        return cls(job_id=job_id, event_id=event.id, created_at=created,
                   level=event.level, type=getattr(event, "type", None) or "message", message=event.message,
                   step=int(step) if step is not None else None, total_steps=int(total) if total is not None else None,
                   train_loss=number("train_loss"), valid_loss=number("valid_loss"),
                   full_valid_loss=number("full_valid_loss"), data=data)


class JobLedger(Protocol):
    """Where fine-tuning jobs and their events are kept (the DuckDB store implements it)."""

    def find_job(self, key: str) -> JobRecord | None:
        """The newest job with ``key``, or ``None``."""
        ...

    def get_job(self, job_id: str) -> JobRecord | None:
        """The job ``job_id``, or ``None``."""
        ...

    def save_job(self, record: JobRecord) -> None:
        """Insert or update ``record`` (committed before returning)."""
        ...

    def add_job_events(self, events: Sequence[JobEvent]) -> None:
        """Store events not stored yet (committed before returning)."""
        ...

    def jobs(self) -> list[JobRecord]:
        """Every job, newest first."""
        ...

    def job_events(self, job_id: str) -> list[JobEvent]:
        """The events of ``job_id``, oldest first."""
        ...
