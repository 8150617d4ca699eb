"""The ``openai`` trainer: validate and cost the training split, upload it, create a fine-tuning job,
follow it to the end — remembering the job so an interrupted run resumes it and an identical one reuses it."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from ftplug import hookimpl
from ftplug.components import Help, PromptBuilder, TrainedModel, TrainingContext
from ftplug.dataset import Example
from ftplug.errors import ConfigError, FtplugError

if TYPE_CHECKING:  # imported where used: `ftplug --help` imports this module to list the commands
    from ftplug.catalogue.training_cost import TrainingEstimate
    from ftplug.store.jobs import JobRecord

MIN_TRAINING_EXAMPLES = 10
SIMULATED_POLL_SECONDS = 0.05
HYPERPARAMETERS = {"n_epochs": (int, 1, 50), "batch_size": (int, 1, 256),
                   "learning_rate_multiplier": (float, 1e-6, 100.0)}


Conversation = list[dict[str, Any]]


def conversations(examples: Sequence[Example], prompt: PromptBuilder) -> list[Conversation]:
    """The examples as the prompt builder formats them for training (system, query, expected answer)."""
    return [prompt.training_messages(example) for example in examples]


def _jsonl(chats: Sequence[Conversation]) -> bytes:
    lines = (json.dumps({"messages": messages}, ensure_ascii=False) for messages in chats)
    return ("\n".join(lines) + "\n").encode()


def chat_jsonl(examples: Sequence[Example], prompt: PromptBuilder) -> bytes:
    """The examples as fine-tuning chat JSONL, one ``{"messages": [...]}`` per line."""
    return _jsonl(conversations(examples, prompt))


def _hyperparameter(name: str, value: Any) -> int | float | str:
    kind, low, high = HYPERPARAMETERS[name]
    if value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not float(value).is_integer()):
        raise ConfigError(f"{name} must be 'auto' or a {'whole ' if kind is int else ''}number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {value!r}")
    return kind(value)


def _whole(value: int | float | str) -> int | str:
    """A whole-number hyperparameter (``n_epochs``, ``batch_size``) as :func:`_hyperparameter` made it: an ``int``,
    or ``"auto"``."""
    return value if isinstance(value, str) else int(value)


def _check_conversations(context: TrainingContext, train: Sequence[Conversation],
                         validation: Sequence[Conversation]) -> None:
    """Refuse, before uploading, a training example the service would reject (named by its id)."""
    from ftplug.catalogue.chat_format import check_example

    for split, examples, chats in (("training", context.train, train), ("validation", context.validation, validation)):
        for example, messages in zip(examples, chats, strict=True):
            problems = check_example({"messages": messages})
            if problems:
                raise FtplugError(f"{split} example {example.id!r} would be rejected by the fine-tuning service: "
                                  f"it {problems[0].description} ({problems[0].code})")


class OpenAIFineTuning:
    """Fine-tune the base model through the OpenAI fine-tuning API (or any endpoint implementing it)."""

    def __init__(
            self,
            n_epochs: Annotated[int | str, Help("training epochs, or 'auto' to let the API choose",
                                                within=(1, 50))] = "auto",
            batch_size: Annotated[int | str, Help("examples per batch, or 'auto'", within=(1, 256))] = "auto",
            learning_rate_multiplier: Annotated[float | str, Help("learning-rate multiplier, or 'auto'",
                                                                  within=(0, 10))] = "auto",
            suffix: Annotated[str, Help("up to 64 characters added to the fine-tuned model's name")] = "ftplug",
            poll_interval: Annotated[float, Help("seconds between status checks of a live job",
                                                 within=(0, 86_400))] = 15.0,
            timeout: Annotated[float, Help("stop waiting after this many seconds (the job keeps running)",
                                           within=(0, 31_536_000))] = 86400.0,
            base_url: Annotated[str, Help("an OpenAI-compatible endpoint to fine-tune on and serve from "
                                          "(default: the run's endpoint)")] = "",
            api_key_env: Annotated[str, Help("environment variable holding base_url's API key")] = "OPENAI_API_KEY",
            warn_days: Annotated[int, Help("warn this many days before fine-tuning closes or a model retires",
                                           within=(0, 3650))] = 60,
    ) -> None:
        self.hyperparameters = {"n_epochs": _hyperparameter("n_epochs", n_epochs),
                                "batch_size": _hyperparameter("batch_size", batch_size),
                                "learning_rate_multiplier": _hyperparameter("learning_rate_multiplier",
                                                                            learning_rate_multiplier)}
        if len(suffix) > 64:
            raise ConfigError(f"suffix must be at most 64 characters, got {len(suffix)}")
        if poll_interval <= 0 or timeout <= 0:
            raise ConfigError("poll_interval and timeout must be positive")
        self.suffix, self.poll_interval, self.timeout = suffix, poll_interval, timeout
        self.base_url, self.api_key_env, self.warn_days = base_url.rstrip("/"), api_key_env, warn_days

    # ---- estimate: no request at all ---------------------------------------------------------------------------

    def estimate(self, context: TrainingContext) -> TrainingEstimate:
        """What fine-tuning on the training split would bill (the same rules the API applies)."""
        return self._estimate(conversations(context.train, context.prompt), context.base_model)

    def _estimate(self, train: Sequence[Conversation], base_model: str) -> TrainingEstimate:
        from ftplug.catalogue.training_cost import estimate_training

        return estimate_training(train, base_model, _whole(self.hyperparameters["n_epochs"]))

    # ---- train ---------------------------------------------------------------------------------------------------

    def train(self, context: TrainingContext) -> TrainedModel:
        """Reuse an identical finished job, resume an unfinished one, or start one; wait for it to end."""
        if len(context.train) < MIN_TRAINING_EXAMPLES:
            raise FtplugError(f"fine-tuning needs at least {MIN_TRAINING_EXAMPLES} training examples, the "
                              f"training split has {len(context.train)}")
        client, endpoint, served_at = self._client(context)
        try:
            return self._train(context, client, endpoint, served_at)
        finally:
            if client is not context.client:
                client.close()

    def _client(self, context: TrainingContext) -> tuple[Any, str, str | None]:
        """The client to train with, the endpoint's identity (part of the job key), and where the fine-tuned
        model is served if not at the run's endpoint."""
        from ftplug.engine.endpoint import OPENAI_URL

        if context.simulated:
            if self.base_url:
                context.log(f"simulated run: base_url {self.base_url} is not used")
            return context.client, "simulator", None
        if not self.base_url:
            return context.client, context.endpoint_url or OPENAI_URL, None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise FtplugError(f"trainer base_url {self.base_url} needs its API key in ${self.api_key_env}")
        from openai import OpenAI

        return OpenAI(base_url=self.base_url, api_key=key, max_retries=3), self.base_url, self.base_url

    def _train(self, context: TrainingContext, client: Any, endpoint: str, served_at: str | None) -> TrainedModel:
        chats = (conversations(context.train, context.prompt), conversations(context.validation, context.prompt))
        training = _jsonl(chats[0])
        validation = _jsonl(chats[1]) if chats[1] else None
        from ftplug.store.jobs import job_key

        key = job_key(base_model=context.base_model, endpoint=endpoint, training=training, validation=validation,
                      hyperparameters=self.hyperparameters, suffix=self.suffix or None)
        ledger = context.ledger
        known = ledger.find_job(key) if ledger is not None else None
        job = None
        if known is not None and known.status == "succeeded" and known.fine_tuned_model:
            context.log(f"reusing {known.fine_tuned_model} from job {known.job_id} (same data and settings; "
                        "nothing is trained or paid again)")
            return self._trained(known, reused=True, served_at=served_at, progress=None, ledger=ledger)
        if known is not None and known.active:
            job = self._resume(client, known, context)
        elif known is not None:
            context.log(f"an identical earlier job {known.job_id} {known.status}"
                        f"{': ' + known.error if known.error else ''}; starting a new one")
        if job is None or known is None:  # (a resumed job always has its record)
            known, job = self._start(client, context, key, endpoint, training, validation, chats)
        from ftplug.plugins.trainers.openai.watch import watch

        interval = SIMULATED_POLL_SECONDS if context.simulated else self.poll_interval
        try:
            job, progress = watch(client, job, known, ledger, context.log, interval=interval, timeout=self.timeout)
        except KeyboardInterrupt:
            context.log(f"stopped waiting; job {job.id} keeps running on the server. Resume with: "
                        f"{context.resume_hint}  ·  cancel with: ftplug finetune cancel {job.id}")
            raise
        self._finish(known, job, ledger)
        if job.status != "succeeded" or not job.fine_tuned_model:
            reason = known.error or f"status {job.status}"
            raise FtplugError(f"fine-tuning job {job.id} {job.status}: {reason}")
        context.log(f"job {job.id} succeeded: {job.fine_tuned_model}")
        return self._trained(known, reused=False, served_at=served_at, progress=progress, ledger=ledger)

    def _resume(self, client: Any, known: JobRecord, context: TrainingContext) -> Any:
        import openai

        try:
            job = client.fine_tuning.jobs.retrieve(known.job_id)
        except openai.NotFoundError:
            known.status, known.error = "failed", "the endpoint no longer knows this job"
            context.ledger.save_job(known)
            context.log(f"job {known.job_id} from an earlier run is unknown to the endpoint; starting a new one")
            return None
        context.log(f"resuming job {job.id} from an earlier run ({job.status}); no new job is created")
        return job

    def _start(self, client: Any, context: TrainingContext, key: str, endpoint: str, training: bytes,
               validation: bytes | None, chats: tuple[list[Conversation], list[Conversation]]
               ) -> tuple[JobRecord, Any]:
        from ftplug.catalogue.models import default_catalogue
        from ftplug.plugins.trainers.openai.risk import lifecycle_warnings, missing_api, refusal

        info = default_catalogue().find(context.base_model)
        for warning in lifecycle_warnings(info, dt.date.today(), self.warn_days):
            context.log(f"warning: {warning}")
        _check_conversations(context, *chats)
        estimate = self._estimate(chats[0], context.base_model)
        if estimate.truncated:
            context.log(f"warning: {estimate.truncated} training example(s) exceed the "
                        f"{estimate.training_limit:,}-token training limit and will be truncated by the service")
        context.approve_cost(estimate.cost_usd, f"fine-tuning {estimate.model}: {len(context.train)} examples, "
                                                f"{estimate.epochs} epochs, {estimate.billed_tokens:,} billed tokens")
        import openai

        route = "POST /files"
        try:
            uploaded = client.files.create(file=(f"{context.variant}-train.jsonl", training), purpose="fine-tune")
            validation_id = None
            if validation is not None:
                validation_id = client.files.create(file=(f"{context.variant}-validation.jsonl", validation),
                                                    purpose="fine-tune").id
            route = "POST /fine_tuning/jobs"
            job = client.fine_tuning.jobs.create(
                model=context.base_model, training_file=uploaded.id, validation_file=validation_id,
                suffix=self.suffix or None, seed=context.seed,
                metadata={"ftplug_experiment": context.experiment[:512], "ftplug_variant": context.variant[:512],
                          "ftplug_key": key},
                method={"type": "supervised", "supervised": {"hyperparameters": dict(self.hyperparameters)}})
        except openai.APIStatusError as error:
            sentence = refusal(error, context.base_model) or missing_api(error, endpoint, route)
            if sentence:
                raise FtplugError(sentence) from None
            raise
        from ftplug.store.jobs import JobRecord

        record = JobRecord(job_id=job.id, key=key, experiment=context.experiment, variant=context.variant,
                           base_model=context.base_model, endpoint=endpoint, simulated=context.simulated,
                           status=job.status, created_at=datetime.now(UTC).replace(tzinfo=None),
                           hyperparameters=dict(self.hyperparameters), suffix=self.suffix or None,
                           training_file=uploaded.id, validation_file=validation_id,
                           training_examples=len(context.train),
                           api_key_env=self.api_key_env if self.base_url else None,
                           estimated_cost_usd=estimate.cost_usd)
        if context.ledger is not None:
            context.ledger.save_job(record)  # before any waiting: an interrupted run finds the job again
        context.log(f"fine-tuning job {job.id} created ({len(context.train)} training examples)")
        return record, job

    def _finish(self, record: JobRecord, job: Any, ledger: Any) -> None:
        from ftplug.catalogue.costs import PER_TOKEN
        from ftplug.catalogue.models import default_catalogue
        from ftplug.plugins.trainers.openai.watch import finished_at

        info = default_catalogue().find(record.base_model)
        record.status, record.fine_tuned_model = job.status, job.fine_tuned_model
        record.trained_tokens = job.trained_tokens
        record.finished_at = finished_at(job) or datetime.now(UTC).replace(tzinfo=None)
        if job.trained_tokens and info is not None and info.training_price is not None:
            record.training_cost_usd = job.trained_tokens * info.training_price * PER_TOKEN
        if job.error is not None and job.error.message:
            record.error = job.error.message
        hyper = job.hyperparameters
        if hyper is not None:
            record.hyperparameters = {**record.hyperparameters,
                                      "resolved": {k: getattr(hyper, k, None) for k in HYPERPARAMETERS}}
        if ledger is not None:
            ledger.save_job(record)

    def _trained(self, record: JobRecord, *, reused: bool, served_at: str | None, progress: Any,
                 ledger: Any) -> TrainedModel:
        assert record.fine_tuned_model is not None
        train_loss = valid_loss = None
        if progress is not None:
            train_loss, valid_loss = progress.train_loss, progress.valid_loss
        elif ledger is not None:
            metrics = [e for e in ledger.job_events(record.job_id) if e.step is not None]
            if metrics:
                train_loss, valid_loss = metrics[-1].train_loss, metrics[-1].valid_loss
        seconds = ((record.finished_at - record.created_at).total_seconds()
                   if record.finished_at and record.created_at else None)
        resolved = record.hyperparameters.get("resolved", {})
        return TrainedModel(model=record.fine_tuned_model, base_url=served_at,
                            api_key_env=self.api_key_env if served_at else None, details={
            "job_id": record.job_id, "reused_job": reused, "training_file": record.training_file,
            "validation_file": record.validation_file, "trained_tokens": record.trained_tokens,
            "n_epochs": resolved.get("n_epochs"), "training_cost_usd": record.training_cost_usd,
            "training_seconds": seconds, "final_train_loss": train_loss, "final_valid_loss": valid_loss,
        })


@hookimpl
def ftplug_register_trainers(register: Any) -> None:
    """Contribute ``openai``."""
    register("openai", OpenAIFineTuning, description="fine-tune through the OpenAI fine-tuning API")
