"""``ftplug run --explain VARIANT``: the exact messages a variant sends for the first test example."""

from __future__ import annotations

import json

from ftplug.catalogue.local_models import is_local_model
from ftplug.catalogue.tokens import count_message_tokens, prompt_counter
from ftplug.config.experiment import Experiment
from ftplug.config.run_options import RunOptions
from ftplug.engine.planning import make_plan
from ftplug.errors import ConfigError


def explain_variant(experiment: Experiment, variant_name: str, options: RunOptions) -> str:
    """A readable listing: each message with its role, token count and full content, then the totals."""
    names = [v.name for v in experiment.variants]
    if variant_name not in names:
        raise ConfigError(f"no variant {variant_name!r} (variants: {', '.join(names)})", path=experiment.path,
                          where="--explain")
    plan = make_plan(experiment, options)
    variant = next(v for v in plan.variants if v.spec.name == variant_name)
    if variant.error is not None:
        raise variant.error
    example = plan.test[0]
    messages = variant.prompt.build(example)
    model = experiment.model_for(variant.spec)
    local = is_local_model(model)
    counter = prompt_counter(model, variant.prompt_declares.counter)
    lines = [f"Variant {variant_name!r}: trainer {variant.spec.trainer.name}, prompt builder "
             f"{variant.spec.prompt.name}; first test example {example.id!r} (expected: {example.expected!r})",
             f"Model for counting: {model}", ""]
    for number, message in enumerate(messages, start=1):
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content)
        tokens = counter.message(message["role"], text or "", message.get("name"))
        lines.append(f"--- message {number}: {message['role']} ({tokens} tokens)")
        lines.append(text or "")
    if local:
        lines += ["", f"Prompt tokens (as the model reads them, rendered with its chat template): "
                      f"{counter.messages(messages)}"]
    else:
        lines += ["", f"Prompt tokens (as the API counts them, with 3 priming the reply): "
                      f"{count_message_tokens(messages, model)}"]
    if variant.prompt_declares.describe is not None:
        lines.append(variant.prompt_declares.describe())
    if variant.trainer_declares.trains:
        lines.append(f"Trainer {variant.spec.trainer.name!r}: these messages go to the model it produces.")
    return "\n".join(lines)
