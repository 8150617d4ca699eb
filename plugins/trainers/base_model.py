"""The ``none`` trainer: no training, the variant uses the experiment's base model.

For a local base model (``local:…``) the answers are generated in this process
(:class:`~ftplug.plugins.local.generation.LocalGenerator`), priced by the hour of ``[model] local``.
"""

from __future__ import annotations

from typing import Any

from ftplug import hookimpl
from ftplug.capabilities import PromptCapabilities, declared
from ftplug.catalogue.local_models import is_local_model
from ftplug.components import TrainedModel, TrainingContext

DEFAULT_MAX_NEW_TOKENS = 256  # when the prompt builder reserves nothing for the answer


class NoTraining:
    """Use the base model as it is (zero-shot and few-shot variants)."""

    trains = False

    def train(self, context: TrainingContext) -> TrainedModel:
        """Return the base model unchanged; a local one with its in-process predictor."""
        if not is_local_model(context.base_model):
            return TrainedModel(model=context.base_model)
        from ftplug.plugins.local.generation import LocalGenerator
        from ftplug.plugins.local.runtime import model_folder, pick_device, require_local_stack

        require_local_stack()
        options = context.local_options
        device = pick_device(options.device)
        limit = declared(PromptCapabilities, context.prompt).max_output_tokens or DEFAULT_MAX_NEW_TOKENS
        generator = LocalGenerator(model_folder(context.base_model, context.log), context.prompt.build, device=device,
                                   dtype=options.dtype, max_new_tokens=limit, temperature=context.temperature,
                                   seed=context.seed, prefix_cache=options.prefix_cache)
        return TrainedModel(model=context.base_model, predict_many=generator.predict_many,
                            batch_size=options.batch_size, cost_per_hour=options.price_per_hour,
                            details={"device": device, "price_per_hour": options.price_per_hour},
                            report=generator.report, warm_up=generator.load)


@hookimpl
def ftplug_register_trainers(register: Any) -> None:
    """Contribute ``none``."""
    register("none", NoTraining, description="no training: prompt the base model (a local:… model in this process)")
