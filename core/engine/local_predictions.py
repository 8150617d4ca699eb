"""Predictions computed in this process: local baselines and locally trained models."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable

from ftplug.components import Generated, TrainedModel
from ftplug.dataset import Example
from ftplug.engine.predictions import PredictionFactory
from ftplug.engine.sink import PredictionSink


def predict_locally(trained: TrainedModel, todo: Iterable[Example], records: PredictionFactory,
                    sink: PredictionSink) -> None:
    """Answer every example of ``todo`` with ``trained``'s local predictor and store each answer's record,
    with its token counts, latency, cost and ``in_flight`` (the size of its batch). A batch's time (and its
    cost at the trainer's hourly price) is shared equally by its predictions."""
    examples = iter(todo)
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
            sink.add(records.scored(example, answer.output, prompt_tokens=answer.prompt_tokens,
                                    completion_tokens=answer.completion_tokens, latency_ms=each * 1000,
                                    cost_usd=each * trained.cost_per_hour / 3600, in_flight=len(chunk)))
