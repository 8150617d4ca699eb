"""Predictions computed in this process: local baselines and locally trained models."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from typing import Any

from ftplug.components import Generated, TrainedModel
from ftplug.dataset import Example


def predict_locally(trained: TrainedModel, test: Iterable[Example], store: Callable[..., Any]) -> None:
    """Answer every test example with ``trained``'s local predictor and hand each answer to ``store(example,
    output, prompt_tokens=…, completion_tokens=…, latency_ms=…, cost_usd=…, in_flight=…)``. A batch's time (and
    its cost at the trainer's hourly price) is shared equally by its predictions; ``in_flight`` is its size."""
    examples = iter(test)
    size = trained.batch_size if trained.predict_many is not None else 1
    while chunk := list(itertools.islice(examples, size)):
        started = time.perf_counter()
        if trained.predict_many is not None:
            answers = trained.predict_many(chunk)
        else:
            assert trained.predict is not None
            answers = [Generated(trained.predict(chunk[0]))]
        each = (time.perf_counter() - started) / len(chunk)
        for example, answer in zip(chunk, answers, strict=True):
            store(example, answer.output, prompt_tokens=answer.prompt_tokens,
                  completion_tokens=answer.completion_tokens, latency_ms=each * 1000,
                  cost_usd=each * trained.cost_per_hour / 3600, in_flight=len(chunk))
