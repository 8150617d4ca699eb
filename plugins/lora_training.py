"""LoRA fine-tuning of a causal language model on PyTorch with Hugging Face ``transformers`` and ``peft``.

A plain training loop (AdamW on the adapter's weights only, right-padded batches, loss on the answers),
deterministic for a seed on the CPU. Imported only when a ``local-lora`` variant trains.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftplug.plugins.lora_data import IGNORED, Encoded


@dataclass(frozen=True)
class LoraSettings:
    """The adapter and optimisation settings (the trainer's options)."""

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    epochs: int = 1
    learning_rate: float = 2e-4
    batch_size: int = 4
    max_length: int = 512
    seed: int = 0
    target_modules: tuple[str, ...] = ()  # empty: every linear layer but the output head


@dataclass
class TrainingLog:
    """What happened: the loss after each step, validation loss after each epoch, time and tokens."""

    device: str
    steps: list[tuple[int, float]] = field(default_factory=list)
    validation: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0
    trained_tokens: int = 0

    @property
    def total_steps(self) -> int:
        """Optimiser steps taken."""
        return len(self.steps)


def pick_device(choice: str) -> str:
    """``auto``: the GPU when PyTorch sees one, else the CPU."""
    import torch

    if choice != "auto":
        return choice
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_base(model: str, device: str, revision: str = "") -> tuple[Any, Any]:
    """The base model (float32 on the CPU, the checkpoint's dtype on a GPU) and its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()
    extra = {"revision": revision} if revision else {}
    tokenizer = AutoTokenizer.from_pretrained(model, **extra)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = torch.float32 if device == "cpu" else "auto"
    network = AutoModelForCausalLM.from_pretrained(model, dtype=dtype, **extra).to(device)
    return network, tokenizer


def _batch(items: Sequence[Encoded], pad_id: int, device: str) -> dict[str, Any]:
    import torch

    width = max(len(item.input_ids) for item in items)
    ids = [item.input_ids + [pad_id] * (width - len(item.input_ids)) for item in items]
    labels = [item.labels + [IGNORED] * (width - len(item.labels)) for item in items]
    mask = [[1] * len(item.input_ids) + [0] * (width - len(item.input_ids)) for item in items]
    return {"input_ids": torch.tensor(ids, device=device), "labels": torch.tensor(labels, device=device),
            "attention_mask": torch.tensor(mask, device=device)}


def train_adapter(network: Any, pad_id: int, train: Sequence[Encoded], validation: Sequence[Encoded],
                  settings: LoraSettings, device: str, output: Path, log: Callable[[str], None]) -> TrainingLog:
    """Wrap ``network`` with a LoRA adapter, train it on ``train`` and save the adapter to ``output``."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(settings.seed)
    config = LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                        target_modules=list(settings.target_modules) or "all-linear", task_type="CAUSAL_LM")
    model = get_peft_model(network, config)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.learning_rate)
    order = random.Random(settings.seed)
    per_epoch = math.ceil(len(train) / settings.batch_size)
    record = TrainingLog(device=device)
    started = time.perf_counter()
    step = 0
    for epoch in range(1, settings.epochs + 1):
        model.train()
        indices = list(range(len(train)))
        order.shuffle(indices)
        for first in range(0, len(indices), settings.batch_size):
            items = [train[i] for i in indices[first:first + settings.batch_size]]
            loss = model(**_batch(items, pad_id, device)).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            step += 1
            record.steps.append((step, float(loss.item())))
            record.trained_tokens += sum(len(item.input_ids) for item in items)
            if step % max(1, per_epoch // 4) == 0 or step == per_epoch * settings.epochs:
                log(f"step {step}/{per_epoch * settings.epochs}, training loss {loss.item():.3f}")
        if validation:
            record.validation.append((step, validation_loss(model, pad_id, validation, settings.batch_size, device)))
            log(f"epoch {epoch}: validation loss {record.validation[-1][1]:.3f}")
    record.seconds = time.perf_counter() - started
    model.save_pretrained(str(output))
    return record


def validation_loss(model: Any, pad_id: int, examples: Sequence[Encoded], batch_size: int, device: str) -> float:
    """The mean loss per answer token over ``examples``, without training."""
    import torch

    model.eval()
    total = tokens = 0.0
    with torch.no_grad():
        for first in range(0, len(examples), batch_size):
            items = examples[first:first + batch_size]
            batch = _batch(items, pad_id, device)
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            shifted, labels = logits[:, :-1, :], batch["labels"][:, 1:]
            loss = torch.nn.functional.cross_entropy(shifted.reshape(-1, shifted.shape[-1]), labels.reshape(-1),
                                                     ignore_index=IGNORED, reduction="sum")
            total += float(loss.item())
            tokens += float((labels != IGNORED).sum().item())
    return total / tokens if tokens else float("nan")
