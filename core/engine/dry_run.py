"""``ftplug run --dry-run``: every variant's estimated training and inference cost, with no request made."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftplug.catalogue.costs import usd
from ftplug.catalogue.local_models import is_local_model
from ftplug.components import TrainingContext
from ftplug.config.experiment import Experiment


@dataclass(frozen=True)
class VariantEstimate:
    """What one variant would cost on the test split."""

    variant: str
    trainer: str
    training_cost_usd: float | None
    training_detail: str
    predictions: int
    mean_prompt_tokens: float
    mean_completion_tokens: float
    inference_cost_usd: float | None

    @property
    def per_1k_usd(self) -> float | None:
        """Inference cost per 1,000 predictions."""
        if self.inference_cost_usd is None or not self.predictions:
            return None
        return self.inference_cost_usd / self.predictions * 1000


def estimate_variants(experiment: Experiment, plan: Any) -> list[VariantEstimate]:
    """Estimate every variant of ``plan``: training from the trainer's own ``estimate`` (if it has one),
    inference from the exact prompt tokens of every test prompt and the expected answers' tokens as the
    completion length, at the catalogue's prices (fine-tuned rates for a trained variant)."""
    from ftplug.catalogue.costs import request_cost
    from ftplug.catalogue.tokens import prompt_counter
    from ftplug.components import prompts_for
    from ftplug.engine.planning import training_rows

    estimates = []
    for variant in plan.variants:
        base_model = experiment.model_for(variant.spec)
        if variant.error is not None:
            raise variant.error
        local_model = is_local_model(base_model)
        counter = prompt_counter(base_model, variant.prompt_declares.counter)
        trainer = variant.trainer_declares
        training_cost, detail, tuned = (None if trainer.trains else 0.0), "none", False
        estimate_fn = trainer.estimate
        train = training_rows(plan.splits, variant.spec.train_size)
        if trainer.local:  # trained and answered here: no API cost (a local trainer's hourly price shows in the report)
            estimates.append(VariantEstimate(
                variant=variant.spec.name, trainer=variant.spec.trainer.name, training_cost_usd=0.0,
                training_detail=f"local, fitted on {len(train)} rows, no API cost",
                predictions=len(plan.test), mean_prompt_tokens=0.0, mean_completion_tokens=0.0,
                inference_cost_usd=0.0))
            continue
        if estimate_fn is not None:
            context = TrainingContext(experiment=experiment.name, variant=variant.spec.name,
                                      base_model=base_model, train=train,
                                      validation=plan.splits.validation, prompt=variant.prompt, client=None,
                                      simulated=False, seed=experiment.seed)
            estimate = estimate_fn(context)
            if estimate is not None:
                tuned = True
                training_cost = estimate.cost_usd
                detail = (f"{len(train)} examples × {estimate.epochs} epochs = "
                          f"{estimate.billed_tokens:,} billed tokens")
        elif trainer.trains:
            detail = "local (no API cost)"
        elif local_model:
            price = experiment.local_options.price_per_hour
            detail = (f"local model in this process: its time at ${price:,.2f} an hour, known after it runs"
                      if price else "local model in this process: no API cost (no price_per_hour)")
        model = f"ft:{base_model}:estimate" if tuned else base_model
        prompt_total = completion_total = 0
        cost: float | None = 0.0
        for example, messages in prompts_for(variant.prompt, plan.test, variant.prompt_declares):
            prompt_tokens = counter.messages(messages)
            completion_tokens = counter.text(example.expected)
            prompt_total += prompt_tokens
            completion_total += completion_tokens
            one = request_cost(model, prompt_tokens, completion_tokens)
            cost = None if one is None or cost is None else cost + one
        # a third-party trainer without estimate is assumed to run locally: no API cost
        inference = 0.0 if detail.startswith("local") else cost
        if local_model:  # answered here: what it costs is its time, which only running it tells
            inference = None if experiment.local_options.price_per_hour else 0.0
        n = len(plan.test)
        estimates.append(VariantEstimate(
            variant=variant.spec.name, trainer=variant.spec.trainer.name, training_cost_usd=training_cost,
            training_detail=detail, predictions=n, mean_prompt_tokens=prompt_total / n if n else 0.0,
            mean_completion_tokens=completion_total / n if n else 0.0, inference_cost_usd=inference))
    return estimates


def _usd(value: float | None) -> str:
    return usd(value, missing="unknown")


def format_estimates(experiment: Experiment, estimates: list[VariantEstimate]) -> str:
    """The dry-run table."""
    from ftplug.catalogue.models import default_catalogue

    width = max([20, *(len(e.variant) for e in estimates)])
    lines = [f"Dry run of {experiment.name}: estimated costs on {experiment.base_model}, nothing was called",
             f"{'variant':<{width}} {'training':>12} {'inference':>12} {'per 1k':>10} {'prompt tok':>10}  "
             "training basis"]
    for e in estimates:
        lines.append(f"{e.variant:<{width}} {_usd(e.training_cost_usd):>12} {_usd(e.inference_cost_usd):>12} "
                     f"{_usd(e.per_1k_usd):>10} {e.mean_prompt_tokens:>10.1f}  {e.training_detail}")
    total = [x for e in estimates for x in (e.training_cost_usd, e.inference_cost_usd)]
    known = sum(x for x in total if x is not None)
    lines.append(f"total: {_usd(known)}{' (some costs unknown)' if None in total else ''} for "
                 f"{estimates[0].predictions if estimates else 0} test predictions per variant; prices from the "
                 f"catalogue as of {default_catalogue().as_of}; completion length estimated from the expected answers")
    return "\n".join(lines)
