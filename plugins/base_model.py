"""The ``none`` trainer: no training, the variant uses the experiment's base model."""

from __future__ import annotations

from typing import Any

from ftplug import hookimpl
from ftplug.components import TrainedModel, TrainingContext


class NoTraining:
    """Use the base model as it is (zero-shot and few-shot variants)."""

    def train(self, context: TrainingContext) -> TrainedModel:
        """Return the base model unchanged."""
        return TrainedModel(model=context.base_model)


@hookimpl
def ftplug_register_trainers(register: Any) -> None:
    """Contribute ``none``."""
    register("none", NoTraining, description="no training: prompt the base model")
