"""Which test examples belong together (``[report] cluster``): examples of one cluster — the windows of one
origin date, the questions about one document — are not independent evidence, so the report's intervals and
tests treat each cluster as one unit of evidence (see :mod:`ftplug.report.intervals`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ftplug.dataset import Example, Splits
from ftplug.errors import InputError

CHRONOLOGICAL_DEFAULT = "origin"  # the date a time-series window is forecast from: every series shares it


def cluster_key(configured: str | None, splits: Splits) -> str | None:
    """The metadata field that clusters the test examples: the configured one (``""``: none), else the origin
    date for a chronological split, else none."""
    if configured is not None:
        return configured or None
    return CHRONOLOGICAL_DEFAULT if splits.method == "chronological" else None


def value_of(example: Example, key: str) -> Any:
    """``key`` of an example: a loader's own metadata field, or a field of the source record."""
    if key in example.metadata:
        return example.metadata[key]
    return (example.metadata.get("fields") or {}).get(key)


def clusters_of(examples: Iterable[Example], key: str, where: str) -> dict[str, str]:
    """The cluster of each example by id; an example without the field is a one-line error naming it."""
    clusters = {}
    for example in examples:
        value = value_of(example, key)
        if value is None or isinstance(value, dict | list):
            line = example.metadata.get("line")
            fields = sorted(set(example.metadata.get("fields") or {})
                            | {k for k in example.metadata if k not in ("fields", "line", "source")})
            source = f" ({example.metadata.get('source', 'data')} line {line})" if line else ""
            raise InputError(f"{where}: [report] cluster: test example {example.id!r}{source} has no field {key!r}"
                             f" to cluster by (its fields: {', '.join(fields) or 'none'})")
        clusters[example.id] = str(value)
    return clusters
