"""Fine-tuning jobs: a deterministic timeline computed from the clock on every read.

A job is validated when created; its status at any moment is a pure function of the time since then:
``validating_files`` → ``queued`` → ``running`` → ``succeeded`` (or ``failed`` after validation when the
training file would be rejected, or ``cancelled``). Events carry the API's real message strings.
"""

from __future__ import annotations

import base64
import math
import random
from dataclasses import dataclass, field
from typing import Any

from ftplug.simulator.behaviour.training_data import TrainingExample
from ftplug.simulator.state.ids import token
from ftplug.simulator.state.store import JobTiming, State

TERMINAL = ("succeeded", "failed", "cancelled")
RESULT_HEADER = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"


@dataclass
class Job:
    """One fine-tuning job and everything needed to compute its state at any time."""

    id: str
    model: str
    training_file: str
    validation_file: str | None
    suffix: str | None
    seed: int
    metadata: dict[str, str] | None
    requested: dict[str, Any]  # hyperparameters as asked for ("auto" or numbers)
    created: float
    timing: JobTiming
    organization: str
    examples: list[TrainingExample] = field(default_factory=list)
    n_validation: int = 0
    trained_tokens: int = 0
    error: dict[str, Any] | None = None
    n_epochs: int = 1
    batch_size: int = 1
    learning_rate_multiplier: float = 2.0
    cancelled_at: float | None = None
    result_file: str | None = None

    @property
    def total_steps(self) -> int:
        """Optimiser steps: batches per epoch × epochs."""
        return max(1, math.ceil(len(self.examples) / self.batch_size)) * self.n_epochs

    @property
    def fine_tuned_model(self) -> str:
        """``ft:<snapshot>:<org>:<suffix>:<8 chars>``."""
        return f"ft:{self.model}:{self.organization}:{self.suffix or ''}:{token(self.id, 8)}"

    @property
    def validated_at(self) -> float:
        return self.created + self.timing.validating

    @property
    def started_at(self) -> float:
        return self.validated_at + self.timing.queued

    @property
    def finished_at(self) -> float:
        return self.started_at + self.total_steps * self.timing.per_step

    def status(self, now: float) -> str:
        """The status at time ``now``."""
        if self.cancelled_at is not None and now >= self.cancelled_at:
            return "cancelled"
        if now < self.validated_at or now <= self.created:  # at creation a job is always being validated
            return "validating_files"
        if self.error is not None:
            return "failed"
        if now < self.started_at:
            return "queued"
        if now < self.finished_at:
            return "running"
        return "succeeded"

    def _end_time(self, now: float) -> float | None:
        status = self.status(now)
        if status == "cancelled":
            return self.cancelled_at
        if status == "failed":
            return self.validated_at
        return self.finished_at if status == "succeeded" else None

    def to_api(self, now: float, state: State) -> dict[str, Any]:
        """The ``fine_tuning.job`` object at time ``now``."""
        status = self.status(now)
        resolved = status in ("running", "succeeded")
        hyperparameters = {
            "n_epochs": self.n_epochs if resolved else self.requested.get("n_epochs", "auto"),
            "batch_size": self.batch_size if resolved else self.requested.get("batch_size", "auto"),
            "learning_rate_multiplier": (self.learning_rate_multiplier if resolved
                                         else self.requested.get("learning_rate_multiplier", "auto")),
        }
        end = self._end_time(now)
        return {
            "id": self.id, "object": "fine_tuning.job", "created_at": int(self.created),
            "error": self.error if status == "failed" else None,
            "fine_tuned_model": self.fine_tuned_model if status == "succeeded" else None,
            "finished_at": int(end) if end is not None else None,
            "hyperparameters": hyperparameters, "model": self.model, "organization_id": f"org-{self.organization}",
            "result_files": [self.result_file_id(state)] if status == "succeeded" else [],
            "seed": self.seed, "status": status,
            "trained_tokens": self.trained_tokens if status == "succeeded" else None,
            "training_file": self.training_file, "validation_file": self.validation_file,
            "integrations": [], "metadata": self.metadata, "user_provided_suffix": self.suffix,
            "estimated_finish": int(self.finished_at) if status in ("queued", "running") else None,
            "method": {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}},
        }

    def losses(self, step: int) -> tuple[float, float]:
        """Training and validation loss at ``step``: a seeded, decreasing curve."""
        noise = random.Random(f"{self.id}:{step}").uniform(-0.03, 0.03)
        train = 0.12 + 2.1 * math.exp(-4.0 * step / self.total_steps) + noise
        return round(train, 4), round(train + 0.04 + abs(noise), 4)

    def _metric_steps(self) -> list[int]:
        every = max(1, self.total_steps // 10)
        steps = list(range(every, self.total_steps + 1, every))
        return steps if steps and steps[-1] == self.total_steps else [*steps, self.total_steps]

    def _timeline(self) -> list[tuple[float, str, str, str, dict[str, Any] | None]]:
        """Every event the job will ever emit: (time, level, message, type, data), oldest first."""
        validating = f"Validating training file: {self.training_file}"
        if self.validation_file:
            validating += f" and validation file: {self.validation_file}"
        events: list[tuple[float, str, str, str, dict[str, Any] | None]] = [
            (self.created, "info", f"Created fine-tuning job: {self.id}", "message", {}),
            (self.created, "info", validating, "message", {}),
        ]
        if self.error is not None:
            return [*events, (self.validated_at, "error", self.error["message"], "message", {})]
        events += [(self.validated_at, "info", "Files validated, moving job to queued state", "message", {}),
                   (self.started_at, "info", "Fine-tuning job started", "message", None)]
        for step in self._metric_steps():
            train, valid = self.losses(step)
            data: dict[str, Any] = {"step": step, "train_loss": train, "total_steps": self.total_steps,
                                    "train_mean_token_accuracy": round(1 - train / 3, 4)}
            message = f"Step {step}/{self.total_steps}: training loss={train:.2f}"
            if self.n_validation:
                data.update(valid_loss=valid, valid_mean_token_accuracy=round(1 - valid / 3, 4))
                message += f", validation loss={valid:.2f}"
            events.append((self.started_at + step * self.timing.per_step, "info", message, "metrics", data))
        return [*events,
                (self.finished_at, "info", f"New fine-tuned model created: {self.fine_tuned_model}", "message", {}),
                (self.finished_at, "info", "The job has successfully completed", "message", {})]

    def events(self, now: float) -> list[dict[str, Any]]:
        """The events emitted up to ``now``, newest first."""
        visible = []
        for index, (time, level, message, kind, data) in enumerate(self._timeline()):
            if time > now or (self.cancelled_at is not None and time > self.cancelled_at):
                continue
            visible.append({"id": f"ftevent-{token(f'{self.id}:{index}', 24)}", "object": "fine_tuning.job.event",
                            "created_at": int(time), "level": level, "message": message, "data": data,
                            "type": kind})
        if self.cancelled_at is not None and now >= self.cancelled_at:
            visible.append({"id": f"ftevent-{token(f'{self.id}:cancel', 24)}", "object": "fine_tuning.job.event",
                            "created_at": int(self.cancelled_at), "level": "info",
                            "message": "Fine-tuning job cancelled", "data": {}, "type": "message"})
        return visible[::-1]

    def checkpoints(self, now: float) -> list[dict[str, Any]]:
        """One checkpoint per epoch for the last three epochs once the job has succeeded, newest first."""
        if self.status(now) != "succeeded":
            return []
        per_epoch = self.total_steps // self.n_epochs
        found = []
        for epoch in range(max(1, self.n_epochs - 2), self.n_epochs + 1):
            step = per_epoch * epoch
            train, valid = self.losses(step)
            metrics = {"step": float(step), "train_loss": train, "train_mean_token_accuracy": round(1 - train / 3, 4),
                       "valid_loss": valid if self.n_validation else None,
                       "valid_mean_token_accuracy": round(1 - valid / 3, 4) if self.n_validation else None,
                       "full_valid_loss": valid if self.n_validation else None,
                       "full_valid_mean_token_accuracy": round(1 - valid / 3, 4) if self.n_validation else None}
            found.append({"id": f"ftckpt_{token(f'{self.id}:ckpt:{epoch}', 24)}",
                          "object": "fine_tuning.job.checkpoint",
                          "created_at": int(self.started_at + step * self.timing.per_step),
                          "fine_tuned_model_checkpoint": f"{self.fine_tuned_model}:ckpt-step-{step}",
                          "fine_tuning_job_id": self.id, "metrics": metrics, "step_number": step})
        return found[::-1]

    def result_file_id(self, state: State) -> str:
        """The result CSV (served base64-encoded, as the API does), created the first time it is asked for."""
        with state.lock:
            if self.result_file is None:
                rows = [RESULT_HEADER]
                for step in range(1, self.total_steps + 1):
                    train, valid = self.losses(step)
                    accuracy = round(1 - train / 3, 4)
                    if self.n_validation:
                        rows.append(f"{step},{train},{accuracy},{valid},{round(1 - valid / 3, 4)}")
                    else:
                        rows.append(f"{step},{train},{accuracy},,")
                content = base64.b64encode(("\n".join(rows) + "\n").encode())
                self.result_file = state.add_file("step_metrics.csv", "fine-tune-results", content).id
            return self.result_file


def fine_tuned_job(state: State, model: str) -> Job | None:
    """The succeeded job whose fine-tuned model (or one of its checkpoints) is ``model``, unless deleted."""
    if not model.startswith("ft:") or model in state.deleted_models:
        return None
    name = ":".join(model.split(":")[:5])  # drop a ":ckpt-step-N" tail
    now = state.clock.now()
    with state.lock:
        jobs = list(state.jobs.values())
    return next((job for job in jobs if job.fine_tuned_model == name and job.status(now) == "succeeded"), None)
