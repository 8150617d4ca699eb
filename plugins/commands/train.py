"""``ftplug train``: the fine-tunes of an experiment's local trainers, made ahead of ``ftplug run``.

A trainer that declares ``trains_ahead = True`` (``local-lora``) saves what it trains under a content
key, so a later ``ftplug run`` of the same experiment reuses it instead of training again. This command
trains those variants and nothing else: no requests, no predictions, no result file. That makes it the
command to start under ``accelerate launch`` or ``torchrun``, which run it once per GPU (and per machine):
the Trainer inside splits each batch across the processes, the main process saves the adapter, and the
other processes stay silent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click


@click.command("train")
@click.argument("experiment", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--variant", "variants", multiple=True, metavar="NAME",
              help="Train only this variant (repeatable; default: every variant whose trainer trains ahead).")
def train(experiment: Path, variants: tuple[str, ...]) -> None:
    """Fine-tune the local trainers' models of EXPERIMENT (local-lora adapters) without predicting anything;
    `ftplug run EXPERIMENT` then reuses them. Start it with `accelerate launch -m ftplug.cli train …` or
    `torchrun --nproc-per-node N -m ftplug.cli train …` to train on several GPUs or machines."""
    from ftplug.components import TrainingContext
    from ftplug.config.experiment import load_experiment
    from ftplug.config.run_options import run_options_for
    from ftplug.engine.planning import make_plan, training_rows
    from ftplug.errors import FtplugError
    from ftplug.pluginhost.manager import get_plugins
    from ftplug.plugins.local.runtime import is_main_process

    main = is_main_process()

    def say(line: str) -> None:
        if main:
            click.echo(line, err=True)

    def said_of(name: str) -> Callable[[str], None]:
        """The progress log of variant ``name``: its lines said with the name in front."""
        return lambda line: say(f"{name}: {line}")

    loaded = load_experiment(experiment, get_plugins().registry)
    known = {v.name for v in loaded.variants}
    unknown = [name for name in variants if name not in known]
    if unknown:
        raise FtplugError(f"{experiment}: no variant {', '.join(map(repr, unknown))} (variants: {', '.join(known)})")
    plan = make_plan(loaded, run_options_for(loaded))
    chosen = [v for v in plan.variants if (v.spec.name in variants if variants else
                                           v.trainer_declares.trains_ahead)]
    if not chosen:
        raise FtplugError(f"{experiment}: no variant has a trainer that trains ahead (local-lora)")
    for variant in chosen:
        if variant.error is not None:
            raise variant.error
        if not variant.trainer_declares.trains_ahead:
            raise FtplugError(f"{variant.spec.name}: its trainer {variant.spec.trainer.name!r} does not train ahead; "
                              "`ftplug run` trains it")
        name = variant.spec.name
        context = TrainingContext(
            experiment=loaded.name, variant=name, base_model=loaded.model_for(variant.spec),
            train=training_rows(plan.splits, variant.spec.train_size), validation=plan.splits.validation,
            prompt=variant.prompt, client=None, simulated=False, seed=loaded.seed,
            log=said_of(name), local_options=loaded.local_options,
            temperature=loaded.temperature)
        trained = variant.trainer.train(context)
        where = trained.details.get("adapter")
        say(f"{name}: ready{f' in {where}' if where else ''}")
    say(f"`ftplug run {experiment}` reuses what was trained")

