"""LoRA fine-tuning of a causal language model with ``transformers.Trainer`` and ``peft``.

The Trainer brings what a fine-tuning run is expected to have: warm-up and decay of the learning rate,
gradient accumulation and clipping, bfloat16 (or float16) mixed precision on GPUs, gradient
checkpointing, and data parallelism over several GPUs or machines when the process is started by
``accelerate launch`` or ``torchrun`` (see ``ftplug train``). ftplug supplies the examples already
tokenised with the loss on the answers only (:func:`ftplug.plugins.trainers.local_lora.data.encode_conversation`), a
collator that pads them, and a callback that records the loss of every optimiser step and the validation
loss after every epoch. On the CPU the result is deterministic for a seed.

Imported only when a ``local-lora`` variant trains.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from ftplug.plugins.local.runtime import load_tokenizer, loading_options, quiet_libraries
from ftplug.plugins.trainers.local_lora.data import IGNORED, Encoded


@dataclass(frozen=True)
class LoraSettings:
    """The adapter and optimisation settings (the trainer's options).

    :param batch_size: conversations per forward pass on each device; an optimiser step sees
        ``batch_size × gradient_accumulation × devices`` of them.
    :param warmup: the share of the optimiser steps over which the learning rate rises from 0 (below 1),
        or a number of steps (1 and more).
    :param precision: ``auto`` (bfloat16 on GPUs that have it, float16 on other GPUs, float32 on the CPU).
    """

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    epochs: int = 1
    learning_rate: float = 2e-4
    batch_size: int = 4
    max_length: int = 512
    seed: int = 0
    target_modules: tuple[str, ...] = ()  # empty: every linear layer but the output head
    gradient_accumulation: int = 1
    warmup: float = 0.1
    scheduler: str = "linear"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    gradient_checkpointing: bool = False
    precision: str = "auto"


@dataclass
class TrainingLog:
    """What happened: the loss after each optimiser step, validation loss after each epoch, time and tokens."""

    device: str
    steps: list[tuple[int, float]] = field(default_factory=list)
    validation: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0
    trained_tokens: int = 0
    main_process: bool = True  # false in the other processes of a distributed training
    processes: int = 1


def load_for_training(folder: str, device: str, revision: str = "") -> tuple[Any, Any]:
    """The base model for training (float32 on the CPU, the checkpoint's dtype on a GPU) and its tokenizer;
    the Trainer places it on its device."""
    from transformers import AutoModelForCausalLM

    extra = loading_options(folder, revision)
    with quiet_libraries():
        network = AutoModelForCausalLM.from_pretrained(folder, dtype="float32" if device == "cpu" else "auto", **extra)
    return network, load_tokenizer(folder, revision)


class _Examples:
    """The encoded conversations as the map-style dataset the Trainer's data loader reads."""

    def __init__(self, items: Sequence[Encoded]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        item = self.items[index]
        return {"input_ids": item.input_ids, "labels": item.labels}


def pad_batch(pad_id: int) -> Callable[[list[dict[str, list[int]]]], dict[str, Any]]:
    """A collator: right-padded ids, labels ignored on the padding, and the attention mask."""
    import torch

    def collate(rows: list[dict[str, list[int]]]) -> dict[str, Any]:
        width = max(len(row["input_ids"]) for row in rows)
        return {
            "input_ids": torch.tensor([r["input_ids"] + [pad_id] * (width - len(r["input_ids"])) for r in rows]),
            "labels": torch.tensor([r["labels"] + [IGNORED] * (width - len(r["labels"])) for r in rows]),
            "attention_mask": torch.tensor([[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"]))
                                            for r in rows])}

    return collate


def _precision(settings: LoraSettings, device: str) -> tuple[bool, bool]:
    """(bf16, fp16): the mixed precision to train in; both False for fp32."""
    import torch

    choice = settings.precision
    if choice == "auto":
        if device == "cpu" or not torch.cuda.is_available():
            choice = "fp32"
        else:
            choice = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return choice == "bf16", choice == "fp16"


def train_adapter(network: Any, pad_id: int, train: Sequence[Encoded], validation: Sequence[Encoded],
                  settings: LoraSettings, device: str, output: Path, log: Callable[[str], None]) -> TrainingLog:
    """Wrap ``network`` with a LoRA adapter, train it on ``train`` and save the adapter to ``output`` (by the
    main process only, when several train together)."""
    with quiet_libraries():
        return _train(network, pad_id, train, validation, settings, device, output, log)


def _train(network: Any, pad_id: int, train: Sequence[Encoded], validation: Sequence[Encoded],
           settings: LoraSettings, device: str, output: Path, log: Callable[[str], None]) -> TrainingLog:
    from peft import LoraConfig, get_peft_model
    from transformers import PrinterCallback, ProgressCallback, Trainer, TrainingArguments, set_seed

    set_seed(settings.seed)  # the adapter's initial weights
    config = LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                        target_modules=list(settings.target_modules) or "all-linear", task_type="CAUSAL_LM")
    model = get_peft_model(network, config)
    record = TrainingLog(device=device)
    bf16, fp16 = _precision(settings, device)
    arguments = TrainingArguments(
        output_dir=str(output / "trainer"), num_train_epochs=settings.epochs,
        per_device_train_batch_size=settings.batch_size, per_device_eval_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation, learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.scheduler, warmup_steps=settings.warmup if settings.warmup < 1 else int(
            settings.warmup), weight_decay=settings.weight_decay, max_grad_norm=settings.max_grad_norm,
        seed=settings.seed, data_seed=settings.seed, use_cpu=device == "cpu", bf16=bf16, fp16=fp16,
        **_checkpointing(TrainingArguments, settings.gradient_checkpointing),
        logging_strategy="steps", logging_steps=1, eval_strategy="epoch" if validation else "no",
        save_strategy="no", report_to="none", disable_tqdm=True, log_level="error", remove_unused_columns=False,
        dataloader_num_workers=0, label_names=["labels"],
        ddp_find_unused_parameters=False)  # every adapter weight is used in every step
    trainer = Trainer(model=model, args=arguments, train_dataset=_Examples(train),
                      eval_dataset=_Examples(validation) if validation else None, data_collator=pad_batch(pad_id),
                      callbacks=[_Recorder(record, log)])
    trainer.remove_callback(PrinterCallback)  # it prints every log dict; ftplug logs its own lines
    trainer.remove_callback(ProgressCallback)
    record.main_process = trainer.is_world_process_zero()
    record.processes = arguments.world_size
    started = time.perf_counter()
    trainer.train()
    record.seconds = time.perf_counter() - started
    record.trained_tokens = settings.epochs * sum(len(item.input_ids) for item in train)
    trainer.save_model(str(output))  # the adapter alone, written by the main process
    return record


def _checkpointing(arguments: type, enabled: bool) -> dict[str, Any]:
    """Gradient (activation) checkpointing under the name this transformers version uses."""
    fields = getattr(arguments, "__dataclass_fields__", {})
    name = "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"
    return {name: enabled, f"{name}_kwargs": {"use_reentrant": False} if enabled else None}


class _Recorder(TrainerCallback):
    """Trainer callback: each optimiser step's training loss, each epoch's validation loss, progress lines."""

    def __init__(self, record: TrainingLog, log: Callable[[str], None]) -> None:
        self.record, self.log = record, log
        self.total = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        self.total = state.max_steps
        if state.is_world_process_zero and args.world_size > 1:
            self.log(f"training in {args.world_size} processes")

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **_: Any) -> None:
        logs = logs or {}
        step = state.global_step
        if "loss" in logs:
            self.record.steps.append((step, float(logs["loss"])))
            if state.is_world_process_zero and (step % max(1, self.total // 8) == 0 or step == self.total):
                self.log(f"step {step}/{self.total}, training loss {logs['loss']:.3f}, learning rate "
                         f"{logs.get('learning_rate', 0):.2e}")
        if "eval_loss" in logs:
            self.record.validation.append((step, float(logs["eval_loss"])))
            if state.is_world_process_zero:
                self.log(f"epoch {round(state.epoch or 0)}: validation loss {logs['eval_loss']:.3f}")
