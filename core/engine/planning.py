"""Everything decided before a request is sent: the splits, the prepared variants, the test examples
this invocation predicts (the whole test split, or one shard of it)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ftplug.capabilities import (
    Capabilities,
    CapabilityError,
    LoaderCapabilities,
    PromptCapabilities,
    TrainerCapabilities,
    declared,
)
from ftplug.components import Component, LoadContext
from ftplug.config.experiment import Experiment, VariantSpec
from ftplug.config.run_options import RunOptions
from ftplug.dataset import Example, Splits, split_chronologically, split_dataset, split_key
from ftplug.dataset.clusters import cluster_key, clusters_of
from ftplug.dataset.spool import SpooledExamples
from ftplug.engine.run_keys import ids_digest
from ftplug.errors import ConfigError
from ftplug.pluginhost.guard import ComponentError, blame, guarded


@dataclass
class PreparedVariant:
    """A variant with its components instantiated and its prompt builder prepared."""

    spec: VariantSpec
    prompt: Any
    trainer: Any
    error: ComponentError | None = None  # a component failed while the variant was being prepared
    prompt_declares: PromptCapabilities = field(default_factory=PromptCapabilities)
    trainer_declares: TrainerCapabilities = field(default_factory=TrainerCapabilities)


def load_splits(experiment: Experiment) -> Splits:
    """Load the experiment's dataset and split it (reading the loader's examples once, as they come)."""
    loader = experiment.data.create()
    in_time = declared(LoaderCapabilities, loader, experiment.data.component.named).chronological
    method = experiment.split_method or ("chronological" if in_time else "random")
    if in_time and method == "random":
        raise ConfigError(f"the {experiment.data.name!r} loader makes overlapping time windows: a random split would "
                          "let test data leak into training and shots; use method = \"chronological\" (the "
                          "default for it)", path=str(experiment.path), where="[split] method")
    examples = loader.load(LoadContext(base_dir=experiment.base_dir, config_path=str(experiment.path)))
    source = str(experiment.data.options.get("path", experiment.path))
    if method == "chronological":
        return split_chronologically(examples, test=experiment.test_split, validation=experiment.validation_split,
                                     config_path=str(experiment.path), source=source)
    return split_dataset(examples, seed=experiment.seed, test=experiment.test_split,
                         validation=experiment.validation_split, config_path=str(experiment.path), source=source)


def training_rows(splits: Splits, size: int | float | None) -> Sequence[Example]:
    """The training examples a trainer sees for a variant's ``train_size``: all of them (``None``), or a count
    or fraction — the most recent windows of a chronological split, otherwise the first in the seeded split
    order (so a smaller size's rows are always among a larger one's, and learning curves are nested)."""
    if size is None:
        return splits.train
    count = max(1, round(len(splits.train) * size)) if isinstance(size, float) else min(int(size), len(splits.train))
    if splits.method == "chronological":
        return splits.train[len(splits.train) - count:]
    return splits.train[:count]


@dataclass
class Plan:
    """Everything decided before a request is sent: the splits, the prepared variants, the test examples."""

    splits: Splits
    variants: list[PreparedVariant]
    test: Sequence[Example]  # what this invocation predicts: the test split, or its shard
    whole_test: Sequence[Example] = ()  # the test split (after --limit) that runs are keyed by
    cluster_key: str | None = None  # the field clustering the test examples ([report] cluster), if any
    clusters: dict[str, str] | None = None  # each test example's cluster, by id

    @functools.cached_property
    def test_digest(self) -> str:
        """The ids of the whole test split, hashed: part of every run's key."""
        return ids_digest(example.id for example in self.whole_test)


def make_plan(experiment: Experiment, options: RunOptions) -> Plan:
    """Load and split the data and prepare every variant, so bad input fails before anything runs; a
    variant whose plugin component raises while being prepared is kept with its error (it fails alone)."""
    splits = load_splits(experiment)
    key = cluster_key(experiment.report_options.get("cluster"), splits)
    clusters = clusters_of(splits.test, key, str(experiment.path)) if key else None
    variants = []
    for spec in experiment.variants:
        try:
            with blame(spec.prompt.component, "its constructor"):
                prompt = guarded(spec.prompt.create(), spec.prompt.component)
            with spec.prompt.locate_errors():
                prompt.prepare(splits.train, experiment.model_for(spec),
                               spec.draw.seed(experiment.seed) if spec.draw else experiment.seed)
            with blame(spec.trainer.component, "its constructor"):
                trainer = guarded(spec.trainer.create(), spec.trainer.component)
            prompt_declares = _declared(PromptCapabilities, prompt, spec.prompt.component)
            trainer_declares = _declared(TrainerCapabilities, trainer, spec.trainer.component)
        except ComponentError as error:  # that variant fails when the run reaches it; the others go on
            variants.append(PreparedVariant(spec=spec, prompt=None, trainer=None, error=error))
            continue
        variants.append(PreparedVariant(spec=spec, prompt=prompt, trainer=trainer, prompt_declares=prompt_declares,
                                        trainer_declares=trainer_declares))
    test = splits.test[: options.limit] if options.limit else splits.test
    shard = options.shard
    return Plan(splits=splits, variants=variants, whole_test=test, cluster_key=key, clusters=clusters,
                test=shard_of(test, experiment.seed, *shard) if shard else test)


def _declared(kind: type[Capabilities], instance: Any, component: Component) -> Capabilities:
    """``instance``'s capabilities; a wrong declaration fails its variant like any error of its plugin."""
    try:
        return declared(kind, instance, component.named)
    except CapabilityError as error:
        raise ComponentError(str(error), component.plugin) from None


def shard_of(test: Sequence[Example], seed: int, index: int, count: int) -> Sequence[Example]:
    """The ``index``-th (1-based) of ``count`` disjoint slices of ``test``: the examples whose split key is
    ``index − 1`` modulo ``count``; every example is in exactly one slice, whatever ``count`` is."""
    if not 1 <= index <= count:
        raise ValueError(f"shard {index}/{count}: the index must be between 1 and {count}")

    def belongs(example: Example) -> bool:
        return split_key(seed, example.id) % count == index - 1

    if isinstance(test, SpooledExamples):  # filtered on disk, not read into memory
        return test.matching(belongs)
    return tuple(example for example in test if belongs(example))


def describe_split(splits: Splits) -> str:
    """How the split was made, when it was not the default random one."""
    if splits.method != "chronological":
        return ""
    dropped = f", {splits.dropped} overlapping windows left out" if splits.dropped else ""
    return f" (chronological: every test window after every shown or trained one{dropped})"
