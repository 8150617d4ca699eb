"""Predictions, their scores and fresh cache entries as the NumPy columns the store inserts.

DuckDB scans a NumPy column far faster than Python objects. Each column is gathered by one comprehension,
which creates no object per row (a tuple per row, as ``zip`` transposition makes, sets off the garbage
collector, whose scans then visit every record still alive). At the runner's largest batches this building
is a sizeable part of a commit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ftplug.store.records import PredictionRecord


def objects(values: Sequence[Any]) -> np.ndarray:
    """A column of Python objects (strings, or ``None`` for NULL)."""
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


def numbers(values: Sequence[Any], dtype: Any) -> np.ndarray:
    """A typed number column, or an object column when a value is missing (``None`` is NULL, not NaN)."""
    try:
        column = np.fromiter(values, dtype=dtype, count=len(values))
    except TypeError:  # None in an integer column
        return objects(values)
    # a float column turns None into NaN: look for None only where there is a NaN (searching every column
    # for None took as long as converting it)
    if column.dtype.kind == "f" and np.isnan(column).any() and None in values:
        return objects(values)
    return column


def prediction_rows(records: Sequence[PredictionRecord], simulated: bool, now: datetime,
                       redact: Any) -> dict[str, np.ndarray]:
    """The ``predictions`` table's columns for ``records``; errors pass through ``redact`` (secrets masked)."""
    run_ids, example_ids = [r.run_id for r in records], [r.example_id for r in records]
    errors, samples = [r.error for r in records], [r.samples for r in records]
    n = len(records)
    return {
        "run_id": objects(run_ids), "example_id": objects(example_ids), "output": objects([r.output for r in records]),
        "prompt_tokens": numbers([r.prompt_tokens for r in records], np.int64),
        "completion_tokens": numbers([r.completion_tokens for r in records], np.int64),
        "cached_tokens": numbers([r.cached_tokens for r in records], np.int64),
        "latency_ms": numbers([r.latency_ms for r in records], np.float64),
        "cost_usd": numbers([r.cost_usd for r in records], np.float64),
        "error": objects([redact(e) if e else None for e in errors]) if any(errors) else np.full(n, None, object),
        "simulated": np.full(n, simulated),
        "created_at": np.full(n, np.datetime64(now, "us")),
        "samples": objects([json.dumps(s) if s else None for s in samples]) if any(samples)
        else np.full(n, None, object),
        "from_cache": np.array([r.from_cache for r in records], dtype=bool),
        "server_latency_ms": numbers([r.server_latency_ms for r in records], np.float64),
        "in_flight": numbers([r.in_flight for r in records], np.int64)}


def score_rows(records: Sequence[PredictionRecord], predictions: dict[str, np.ndarray],
                  example_numbers: np.ndarray) -> dict[str, np.ndarray]:
    """The ``scores`` table's columns for ``records`` (``predictions``: their prediction columns, whose ids the
    scores repeat; ``example_numbers``: each record's example number, -1 where it has none).

    When every record has the same scorers (the usual case) each scorer's values are gathered in one pass;
    otherwise a row per (record, scorer) pair. Either way the rows follow the records, and a record's scorers
    are in name order: rows in primary-key order make DuckDB's index inserts markedly cheaper."""
    dicts = [r.scores for r in records]
    names = sorted(dicts[0])
    k, n = len(names), len(records)
    if set(map(len, dicts)) == {k}:
        try:
            values = [[d[name] for d in dicts] for name in names]
        except KeyError:  # same number of scorers, different names
            values = []
        if values or not k:
            return {"run_id": np.repeat(predictions["run_id"], k),
                    "example_id": np.repeat(predictions["example_id"], k), "scorer": np.tile(objects(names), n),
                    "value": _by_record(numbers([v for column in values for v in column], np.float64), k, n),
                    "label": _per_scorer(records, "labels", names),
                    "error": _per_scorer(records, "score_errors", names),
                    "example_no": np.repeat(example_numbers, k),
                    "sample_values": _sample_lists(records, names)}
    rows = [(i, name, value) for i, scores in enumerate(dicts) for name, value in scores.items()]
    at = np.fromiter((i for i, _, _ in rows), dtype=np.int64, count=len(rows))
    return {"run_id": predictions["run_id"][at], "example_id": predictions["example_id"][at],
            "scorer": objects([name for _, name, _ in rows]),
            "value": numbers([value for _, _, value in rows], np.float64),
            "label": objects([records[i].labels.get(name) for i, name, _ in rows]),
            "error": objects([records[i].score_errors.get(name) for i, name, _ in rows]),
            "example_no": example_numbers[at],
            "sample_values": objects([_sample_list(records[i], name) for i, name, _ in rows])}


def _by_record(column: np.ndarray, k: int, n: int) -> np.ndarray:
    """A column gathered a scorer at a time (``k`` runs of ``n``) reordered a record at a time."""
    return column.reshape(k, n).T.ravel()


def _per_scorer(records: Sequence[PredictionRecord], field: str, names: list[str]) -> np.ndarray:
    """A label or error column of the records' rows (all NULL when no record has any)."""
    dicts = [getattr(r, field) for r in records]
    if not any(dicts):
        return np.full(len(records) * len(names), None, object)
    return objects([d.get(name) for d in dicts for name in names])


def _sample_lists(records: Sequence[PredictionRecord], names: list[str]) -> np.ndarray:
    """The ``sample_values`` column of the records' rows (all NULL when no record has several samples)."""
    if not any(r.sample_values for r in records):
        return np.full(len(records) * len(names), None, object)
    return objects([_sample_list(r, name) for r in records for name in names])


def _sample_list(record: PredictionRecord, name: str) -> str | None:
    """One score's values on each sample as list text (``[1.0, null]``), which the insert casts to DOUBLE[]:
    text keeps the column's type whatever the batch holds, where lists of Python objects have it guessed."""
    values = record.sample_values.get(name) if record.sample_values else None
    return json.dumps(values) if values is not None else None


def cache_entry_rows(records: Sequence[PredictionRecord], simulated: bool, now: datetime) -> dict[str, np.ndarray]:
    """Fresh answers to keep in the response cache; two identical requests in one batch make one entry."""
    unique = {r.cache_key: r for r in records if r.cache_key and r.cache_entry}
    return {"key": objects(list(unique)), "run_id": objects([r.run_id for r in unique.values()]),
            "response": objects([r.cache_entry for r in unique.values()]),
            "simulated": np.full(len(unique), simulated),
            "created_at": np.full(len(unique), np.datetime64(now, "us"))}
