"""What makes two runs of a variant the same run: the key under which an interrupted run is resumed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from ftplug.catalogue.local_models import LocalOptions, is_local_model, locate_local_model
from ftplug.config.experiment import ComponentSpec, Experiment, VariantSpec


def _component(spec: ComponentSpec) -> dict[str, Any]:
    return {"name": spec.name, "options": spec.options}


def ids_digest(ids: Iterable[str]) -> str:
    """A hash of the test examples' ids in their order (streamed: the ids are never all in memory)."""
    digest = hashlib.sha256()
    for index, example_id in enumerate(ids):
        digest.update(example_id.encode() if index == 0 else b"\n" + example_id.encode())
    return digest.hexdigest()


def variant_key(experiment: Experiment, variant: VariantSpec, test_digest: str, simulated: bool) -> str:
    """A hash of everything that decides a variant's answers and scores: the data and split, the base
    model, the variant's trainer and prompt settings, the scorers, sampling and the kind of endpoint.
    A re-run with the same key continues the stored run instead of starting another."""
    payload = {
        "experiment": experiment.name, "seed": experiment.seed, "base_model": experiment.base_model,
        "data": _component(experiment.data), "test": test_digest,
        "trainer": _component(variant.trainer), "prompt": _component(variant.prompt),
        "scorers": [[scorer_id, _component(spec)] for scorer_id, spec in
                    zip(experiment.scorer_ids or [s.name for s in experiment.scorers], experiment.scorers,
                        strict=True)],
        "samples": experiment.samples, "temperature": experiment.temperature, "simulated": simulated,
    }
    # only when set, so keys of runs stored before these existed still match
    if variant.train_size is not None:
        payload["train_size"] = variant.train_size
    if variant.model is not None:
        payload["base_model"] = variant.model
    if variant.endpoint is not None:
        payload["endpoint"] = variant.endpoint
    model = experiment.model_for(variant)
    if is_local_model(model):  # the files it was found in (another folder under the same name is another model)
        payload["local_model"] = locate_local_model(model, experiment.base_dir).location
    if experiment.local_options != LocalOptions():
        payload["local_options"] = asdict(experiment.local_options)
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]
