"""The ``openai`` trainer: upload the training split, create a fine-tuning job, poll it to the end."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from ftplug import hookimpl
from ftplug.components import Option, PromptBuilder, TrainedModel, TrainingContext
from ftplug.dataset import Example
from ftplug.errors import ConfigError, FtplugError

MIN_TRAINING_EXAMPLES = 10
TERMINAL_STATUSES = {"succeeded", "failed", "cancelled"}
SIMULATED_POLL_SECONDS = 0.05


def chat_jsonl(examples: Sequence[Example], prompt: PromptBuilder) -> bytes:
    """The examples as fine-tuning chat JSONL, one ``{"messages": [...]}`` per line."""
    lines = (json.dumps({"messages": prompt.training_messages(e)}, ensure_ascii=False) for e in examples)
    return ("\n".join(lines) + "\n").encode()


class OpenAIFineTuning:
    """Fine-tune the base model through the OpenAI fine-tuning API (or the simulator)."""

    def __init__(self, n_epochs: int | str = "auto", suffix: str = "ftplug", poll_interval: float = 15.0,
                 timeout: float = 86400.0) -> None:
        if isinstance(n_epochs, str) and n_epochs != "auto":
            raise ConfigError(f"n_epochs must be a number or 'auto', got {n_epochs!r}")
        self.n_epochs, self.suffix, self.poll_interval, self.timeout = n_epochs, suffix, poll_interval, timeout

    def train(self, context: TrainingContext) -> TrainedModel:
        """Upload, create the job, wait for it; the fine-tuned model id, or the job's error."""
        if len(context.train) < MIN_TRAINING_EXAMPLES:
            raise FtplugError(f"variant {context.variant!r}: fine-tuning needs at least {MIN_TRAINING_EXAMPLES} "
                              f"training examples, the training split has {len(context.train)}")
        client = context.client
        training = client.files.create(file=(f"{context.variant}-train.jsonl",
                                             chat_jsonl(context.train, context.prompt)), purpose="fine-tune")
        validation_id = None
        if context.validation:
            validation = client.files.create(file=(f"{context.variant}-validation.jsonl",
                                                   chat_jsonl(context.validation, context.prompt)),
                                             purpose="fine-tune")
            validation_id = validation.id
        job = client.fine_tuning.jobs.create(
            model=context.base_model, training_file=training.id, validation_file=validation_id,
            suffix=self.suffix or None, seed=context.seed,
            method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": self.n_epochs}}})
        context.log(f"fine-tuning job {job.id} created ({len(context.train)} training examples)")
        job = self._wait(client, job, context)
        if job.status != "succeeded" or not job.fine_tuned_model:
            reason = job.error.message if job.error and job.error.message else f"status {job.status}"
            raise FtplugError(f"fine-tuning job {job.id} {job.status}: {reason}")
        context.log(f"fine-tuning job {job.id} succeeded: {job.fine_tuned_model}")
        return TrainedModel(model=job.fine_tuned_model, details={
            "job_id": job.id, "training_file": training.id, "validation_file": validation_id,
            "trained_tokens": job.trained_tokens, "n_epochs": job.hyperparameters.n_epochs,
        })

    def _wait(self, client: Any, job: Any, context: TrainingContext) -> Any:
        interval = SIMULATED_POLL_SECONDS if context.simulated else self.poll_interval
        deadline = time.monotonic() + self.timeout
        status = job.status
        while job.status not in TERMINAL_STATUSES:
            if time.monotonic() > deadline:
                raise FtplugError(f"fine-tuning job {job.id} still {job.status} after {self.timeout:.0f} s; "
                                  "it keeps running on the server")
            time.sleep(interval)
            job = client.fine_tuning.jobs.retrieve(job.id)
            if job.status != status:
                status = job.status
                context.log(f"fine-tuning job {job.id}: {status}")
        return job


@hookimpl
def ftplug_register_trainers(register: Any) -> None:
    """Contribute ``openai``."""
    register("openai", OpenAIFineTuning, description="fine-tune through the OpenAI fine-tuning API", options=[
        Option("n_epochs", (int, str), "auto", "training epochs, or 'auto' to let the API choose"),
        Option("suffix", str, "ftplug", "up to 64 characters added to the fine-tuned model's name"),
        Option("poll_interval", float, 15.0, "seconds between status checks of a live job"),
        Option("timeout", float, 86400.0, "give up waiting after this many seconds"),
    ])
