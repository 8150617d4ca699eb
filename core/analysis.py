"""The decision analysis of an experiment, computed from the result store alone: every metric with a
bootstrap CI, paired comparisons against the reference variant, costs, break-even volumes, confusion
matrices, loss curves and the verdict. :func:`analyse` returns a JSON-ready dict that every report format
renders."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ftplug.statistics import RESAMPLES, compare_paired, f1_interval, mean_interval

PARSE_FAILURE_CAVEAT = 0.05  # flag a variant whose outputs fail to parse this often
SMALL_SAMPLE = 100


def _filled(column: Any) -> np.ndarray:
    """A NumPy column with SQL NULLs as ``None``."""
    if isinstance(column, np.ma.MaskedArray):
        out = np.asarray(column.data, dtype=object)
        out[np.ma.getmaskarray(column)] = None
        return out
    return np.asarray(column)


def _scorer_meta(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    meta: dict[str, dict[str, Any]] = {}
    for row in rows:
        meta.update(row["details"].get("scorers", {}))
    for row in rows:  # runs stored before scorer metadata existed: plain means
        for name in row["scores"]:
            meta.setdefault(name, {"name": name, "aggregate": "mean", "higher_is_better": True})
    return meta


class _ScoreTable:
    """One scorer's values as a matrix run × example (NaN where a run has no value), plus labels."""

    def __init__(self, columns: dict[str, Any], scorer: str, run_ids: list[str]) -> None:
        mask = columns["scorer"] == scorer
        runs = columns["run_id"][mask]
        examples = columns["example_id"][mask]
        self.example_ids, example_index = np.unique(examples.astype(str), return_inverse=True)
        run_position = {run_id: i for i, run_id in enumerate(run_ids)}
        run_index = np.array([run_position[r] for r in runs], dtype=np.int64)
        self.values = np.full((len(run_ids), len(self.example_ids)), np.nan)
        self.values[run_index, example_index] = columns["value"][mask]
        self.labels = np.full((len(run_ids), len(self.example_ids)), None, dtype=object)
        self.labels[run_index, example_index] = _filled(columns["label"])[mask]
        self.expected = np.full(len(self.example_ids), None, dtype=object)
        self.expected[example_index] = _filled(columns["expected"])[mask]
        self.errors = np.zeros(len(run_ids), dtype=np.int64)
        np.add.at(self.errors, run_index, _filled(columns["error"])[mask] != None)  # noqa: E711


def _interval(table: _ScoreTable, row: int, meta: dict[str, Any], rng: np.random.Generator,
              resamples: int) -> dict[str, Any]:
    from ftplug.plugins.scorers import normalize

    values = table.values[row]
    aggregate = meta.get("aggregate", "mean")
    if aggregate == "macro_f1":
        present = ~np.isnan(values)
        truth = [normalize(str(x)) for x in table.expected[present]]
        predicted = [str(x) if x is not None else "" for x in table.labels[row][present]]
        interval = f1_interval(truth, predicted, rng, resamples=resamples)
    else:
        interval = mean_interval(values, rng, transform="sqrt" if aggregate == "rmse" else "identity",
                                 resamples=resamples)
    missing = int(np.isnan(values).sum()) - int((np.isnan(table.values).all(axis=0)).sum())
    return {**interval.as_dict(), "missing": max(0, missing), "errors": int(table.errors[row]),
            "aggregate": aggregate, "higher_is_better": meta.get("higher_is_better", True)}


def _confusion(table: _ScoreTable, row: int) -> dict[str, Any]:
    from ftplug.plugins.scorers import normalize

    present = ~np.isnan(table.values[row])
    truth = [normalize(str(x)) for x in table.expected[present]]
    predicted = [str(x) if x else "(none)" for x in table.labels[row][present]]
    labels = sorted(set(truth)) + sorted(set(predicted) - set(truth))
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(matrix, ([index[t] for t in truth], [index[p] for p in predicted]), 1)
    return {"labels": labels, "matrix": matrix.tolist()}


def _training(details: dict[str, Any]) -> dict[str, Any] | None:
    if not details.get("job_id"):
        return None
    keys = ("job_id", "reused_job", "trained_tokens", "n_epochs", "training_cost_usd", "training_seconds",
            "final_train_loss", "final_valid_loss")
    return {key: details.get(key) for key in keys}


def break_even(training_cost: float, tuned_per_prediction: float, prompt_per_prediction: float) -> int | None:
    """Predictions after which training + fine-tuned inference costs less than prompting; ``None`` if never
    (the fine-tuned model is not cheaper per prediction)."""
    saving = prompt_per_prediction - tuned_per_prediction
    if saving <= 0:
        return None
    return max(0, math.ceil(training_cost / saving))


SCENARIOS = (("as measured", 1.0, 1.0, 1.0), ("training price ×2", 2.0, 1.0, 1.0),
             ("training price ×0.5", 0.5, 1.0, 1.0), ("all inference prices ×0.5", 1.0, 0.5, 0.5),
             ("fine-tuned inference ×1.5", 1.0, 1.5, 1.0))


def _break_even_rows(variants: list[dict[str, Any]], primary: str) -> list[dict[str, Any]]:
    rows = []
    for tuned in variants:
        training = tuned.get("training")
        if not training or training.get("training_cost_usd") is None or tuned["cost_per_prediction"] is None:
            continue
        for prompted in variants:
            if prompted.get("training") or prompted["trainer"] != "none" or prompted["cost_per_prediction"] is None:
                continue
            scenarios = []
            for label, train_x, tuned_x, prompt_x in SCENARIOS:
                n = break_even(training["training_cost_usd"] * train_x, tuned["cost_per_prediction"] * tuned_x,
                               prompted["cost_per_prediction"] * prompt_x)
                scenarios.append({"scenario": label, "predictions": n})
            tuned_metric = tuned["metrics"].get(primary, {})
            prompted_metric = prompted["metrics"].get(primary, {})
            rows.append({"fine_tuned": tuned["variant"], "prompted": prompted["variant"],
                         "training_cost_usd": training["training_cost_usd"],
                         "fine_tuned_per_prediction": tuned["cost_per_prediction"],
                         "prompted_per_prediction": prompted["cost_per_prediction"],
                         "predictions": scenarios[0]["predictions"], "scenarios": scenarios,
                         "primary": primary, "fine_tuned_metric": tuned_metric.get("value"),
                         "prompted_metric": prompted_metric.get("value")})
    return rows


def analyse(store: Any, experiment: str | None = None, *, resamples: int = RESAMPLES,
            volume: int | None = None, reference: str | None = None, primary: str | None = None) -> dict[str, Any]:
    """Everything the report shows for the latest run of each variant of ``experiment``."""
    rows = store.variant_rows(experiment)
    if not rows:
        return {"experiment": experiment, "variants": []}
    settings = next((r["details"].get("report") for r in rows if r["details"].get("report")), {}) or {}
    meta = _scorer_meta(rows)
    primary = primary or settings.get("primary") or next(iter(meta), None)
    names = [r["variant"] for r in rows]
    reference = reference or settings.get("reference") or names[0]
    if reference not in names:
        reference = names[0]
    volume = volume if volume is not None else settings.get("volume") or 0
    rng = np.random.default_rng(20_261_124)
    run_ids = [r["run_id"] for r in rows]
    columns = store.score_values(run_ids)
    predictions = store.prediction_values(run_ids)
    tables = {name: _ScoreTable(columns, name, run_ids) for name in meta} if columns else {}
    variants = []
    for i, row in enumerate(rows):
        in_run = predictions["run_id"] == row["run_id"] if predictions else np.zeros(0, dtype=bool)
        costs = predictions["cost_usd"][in_run] if predictions else np.zeros(0)
        latency = predictions["latency_ms"][in_run] if predictions else np.zeros(0)
        cost_interval = mean_interval(costs, rng, resamples=resamples)
        latency_interval = mean_interval(latency, rng, resamples=resamples)
        metrics = {name: _interval(table, i, meta[name], rng, resamples) for name, table in tables.items()}
        confusion = {name: _confusion(table, i) for name, table in tables.items()
                     if any(label is not None for label in table.labels[i])}
        per_1k = {key: (value * 1000 if value is not None else None)
                  for key, value in cost_interval.as_dict().items() if key != "n"}
        variants.append({
            "variant": row["variant"], "model": row["model"], "trainer": row["trainer"] or "none",
            "status": row["status"], "simulated": bool(row["simulated"]), "predictions": row["predictions"],
            "errors": row["errors"], "metrics": metrics, "confusion": confusion,
            "cost_per_1k_usd": per_1k, "cost_per_prediction": cost_interval.value,
            "latency_ms": {**latency_interval.as_dict(), "p95": row["p95_latency_ms"]},
            "mean_prompt_tokens": row["mean_prompt_tokens"], "mean_completion_tokens": row["mean_completion_tokens"],
            "training": _training(row["details"]), "shots": (row["details"].get("prompt") or {}).get("packed_mean"),
        })
    comparisons = []
    ref_row = names.index(reference)
    for i, row in enumerate(rows):
        if i == ref_row:
            continue
        for name, table in tables.items():
            aggregate = meta[name].get("aggregate", "mean")
            if aggregate == "macro_f1":
                continue  # compared through its per-example correctness under accuracy scorers
            result = compare_paired(table.values[i], table.values[ref_row], rng,
                                    transform="sqrt" if aggregate == "rmse" else "identity", resamples=resamples)
            if result is not None:
                comparisons.append({"variant": row["variant"], "reference": reference, "scorer": name,
                                    **result.as_dict()})
    head_to_head = None
    if primary in tables:
        scored = [i for i, v in enumerate(variants) if v["metrics"][primary]["value"] is not None
                  and v["status"] == "succeeded"]
        higher = meta[primary].get("higher_is_better", True)
        scored.sort(key=lambda i: variants[i]["metrics"][primary]["value"], reverse=higher)
        aggregate = meta[primary].get("aggregate", "mean")
        if len(scored) > 1 and aggregate != "macro_f1":
            first, second = scored[0], scored[1]
            result = compare_paired(tables[primary].values[first], tables[primary].values[second], rng,
                                    transform="sqrt" if aggregate == "rmse" else "identity", resamples=resamples)
            if result is not None:
                head_to_head = {"variant": variants[first]["variant"], "reference": variants[second]["variant"],
                                "scorer": primary, **result.as_dict()}
    analysis = {"experiment": rows[0]["experiment"], "simulated": any(v["simulated"] for v in variants),
                "primary": primary, "reference": reference, "volume": volume, "resamples": resamples,
                "scorers": meta, "variants": variants, "comparisons": comparisons, "head_to_head": head_to_head,
                "break_even": _break_even_rows(variants, primary) if primary else [],
                "loss_curves": _loss_curves(store, variants)}
    from ftplug.verdict import verdict

    analysis["verdict"] = verdict(analysis, rows)
    return analysis


def _loss_curves(store: Any, variants: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    curves = {}
    for variant in variants:
        training = variant.get("training")
        if training and hasattr(store, "job_events"):
            events = [e for e in store.job_events(training["job_id"]) if e.step is not None]
            curves[variant["variant"]] = [{"step": e.step, "train_loss": e.train_loss, "valid_loss": e.valid_loss}
                                          for e in events]
    return curves
