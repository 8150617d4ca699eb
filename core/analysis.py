"""The decision analysis of an experiment, computed from the result store alone: every metric with a
bootstrap CI, paired comparisons against the reference variant, costs, break-even volumes, confusion
matrices, loss curves and the verdict. :func:`analyse` returns a JSON-ready dict that every report format
renders."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from ftplug.statistics import RESAMPLES

PARSE_FAILURE_CAVEAT = 0.05  # flag a variant whose outputs fail to parse this often
SMALL_SAMPLE = 100


def _scorer_meta(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What each scorer is (its aggregate, its direction), as stored with the runs."""
    meta: dict[str, dict[str, Any]] = {}
    for row in rows:
        meta.update(row["details"].get("scorers", {}))
    for row in rows:  # runs stored before scorer metadata existed: plain means
        for name in row["scores"]:
            meta.setdefault(name, {"name": name, "aggregate": "mean", "higher_is_better": True})
    return meta


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
    """Everything the report shows for the latest run of each variant of ``experiment``: the data come
    from SQL aggregations of the result store (see :class:`_Statistics`), the intervals from bootstraps
    on those aggregates."""
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
    stats = _Statistics(store, rows, meta, resamples)
    variants = []
    for row in rows:
        run_id = row["run_id"]
        metrics = {name: stats.interval(run_id, name) for name in meta}
        cost = stats.interval(run_id, COST)
        latency = stats.interval(run_id, LATENCY)
        variants.append({
            "variant": row["variant"], "model": row["model"], "trainer": row["trainer"] or "none",
            "status": row["status"], "simulated": bool(row["simulated"]), "predictions": row["predictions"],
            "errors": row["errors"], "metrics": metrics, "confusion": stats.confusions(run_id),
            "cost_per_1k_usd": {key: (cost[key] * 1000 if cost.get(key) is not None else None)
                                for key in ("value", "low", "high")},
            "cost_per_prediction": cost.get("value"),
            "latency_ms": {key: latency.get(key) for key in ("value", "low", "high", "n")}
            | {"p95": row["p95_latency_ms"]},
            "mean_prompt_tokens": row["mean_prompt_tokens"], "mean_completion_tokens": row["mean_completion_tokens"],
            "training": _training(row["details"]), "shots": (row["details"].get("prompt") or {}).get("packed_mean"),
        })
    by_name = {r["variant"]: r["run_id"] for r in rows}
    comparisons = [{"variant": name, "reference": reference, "scorer": scorer, **result}
                   for name, scorer, result in stats.compare([n for n in names if n != reference], reference,
                                                             by_name)]
    head_to_head = None
    if primary in meta and meta[primary].get("aggregate") != "macro_f1":
        scored = [v for v in variants if v["metrics"][primary]["value"] is not None and v["status"] == "succeeded"]
        scored.sort(key=lambda v: v["metrics"][primary]["value"], reverse=meta[primary].get("higher_is_better", True))
        if len(scored) > 1:
            first, second = scored[0]["variant"], scored[1]["variant"]
            found = [result for _, _, result in stats.compare([first], second, by_name, only=primary)]
            if found:
                head_to_head = {"variant": first, "reference": second, "scorer": primary, **found[0]}
    analysis = {"experiment": rows[0]["experiment"], "simulated": any(v["simulated"] for v in variants),
                "primary": primary, "reference": reference, "volume": volume, "resamples": resamples,
                "scorers": meta, "variants": variants, "comparisons": comparisons, "head_to_head": head_to_head,
                "break_even": _break_even_rows(variants, primary) if primary else [],
                "loss_curves": _loss_curves(store, variants)}
    from ftplug.verdict import verdict

    analysis["verdict"] = verdict(analysis, rows)
    return analysis


COST, LATENCY = "$cost_usd", "$latency_ms"


class _Statistics:
    """Intervals and paired comparisons from a handful of SQL aggregations over the whole store:

    - one summary per run and metric (count, sum, whether all values are 0/1, distinct values): 0/1
      metrics need nothing more — their bootstrap is exact from the counts;
    - histograms of metrics with few distinct values (exact multinomial bootstrap);
    - for continuous metrics, a seeded subsample of examples (the same in every run, hence paired),
      bootstrapped directly when small and with the bag of little bootstraps when large;
    - one join per reference for the paired comparisons (discordant counts, mean differences);
    - label counts for macro-F1 and the confusion matrices.
    """

    def __init__(self, store: Any, rows: list[dict[str, Any]], meta: dict[str, Any], resamples: int) -> None:
        from ftplug.statistics import BLB_EXPONENT, BLB_SUBSETS, DIRECT_LIMIT, DISTINCT_LIMIT

        self.store, self.meta, self.resamples = store, meta, resamples
        self.run_ids = [r["run_id"] for r in rows]
        self.rng = np.random.default_rng(20_261_124)
        self.summary = {(run, metric): {"n": n, "missing": missing, "errors": errors, "sum": total or 0.0,
                                        "binary": bool(binary), "distinct": distinct}
                        for run, metric, n, missing, errors, total, binary, distinct
                        in store.metric_summary(self.run_ids)}
        self.kind: dict[str, str] = {}
        for metric in {m for _, m in self.summary}:
            entries = [e for (_, m), e in self.summary.items() if m == metric and e["n"]]
            if not entries:
                continue
            if all(e["binary"] for e in entries):
                self.kind[metric] = "binary"
            elif max(e["distinct"] for e in entries) <= DISTINCT_LIMIT:
                self.kind[metric] = "discrete"
            else:
                self.kind[metric] = "continuous"
        self.histograms: dict[tuple[str, str], tuple[list[float], list[int]]] = {}
        discrete = [m for m, k in self.kind.items() if k == "discrete"]
        for run, metric, value, count in (store.metric_histograms(self.run_ids, discrete) if discrete else []):
            values, counts = self.histograms.setdefault((run, metric), ([], []))
            values.append(value)
            counts.append(count)
        continuous = [m for m, k in self.kind.items() if k == "continuous"]
        largest = max((e["n"] for (_, m), e in self.summary.items() if m in continuous), default=0)
        self.direct = largest <= DIRECT_LIMIT
        self.parts = 1 if self.direct else BLB_SUBSETS
        fraction = 1.0 if self.direct else min(1.0, BLB_SUBSETS * largest ** BLB_EXPONENT / largest)
        self.samples: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        if continuous:
            columns = store.metric_subsample(self.run_ids, continuous, fraction if not self.direct else 1.01,
                                             self.parts)
            key = np.asarray(columns["run"], dtype=np.int64) * (len(continuous) + 1) + np.asarray(columns["metric"])
            bounds = np.concatenate([[0], np.flatnonzero(np.diff(key)) + 1, [len(key)]])
            examples = np.asarray(columns["example"], dtype=np.int64)
            parts = np.asarray(columns["part"], dtype=np.int64)
            values = np.asarray(columns["value"], dtype=np.float64)
            for start, end in itertools.pairwise(bounds):
                if start == end:
                    continue
                run = self.run_ids[int(columns["run"][start]) - 1]
                metric = continuous[int(columns["metric"][start]) - 1]
                self.samples[(run, metric)] = (examples[start:end], parts[start:end], values[start:end])
        self._weights: dict[tuple[int, int], np.ndarray] = {}
        labelled = [name for name, m in meta.items() if m.get("aggregate") == "macro_f1" or m["name"] in
                    ("accuracy", "f1")]
        self.labels: dict[tuple[str, str], dict[tuple[str, str], int]] = {}
        if labelled:
            from ftplug.plugins.scorers import normalize

            for run, scorer, expected, label, count in store.label_counts(self.run_ids, labelled):
                cell = (normalize(str(expected)), label if label else "(none)")
                table = self.labels.setdefault((run, scorer), {})
                table[cell] = table.get(cell, 0) + count

    def weights(self, n: int, b: int) -> np.ndarray:
        """Resampling weights for the bag of little bootstraps, drawn once per size and shared by every
        metric and run (each interval stays valid; only their Monte Carlo noise is shared)."""
        from ftplug.statistics import _blb_weights

        if (n, b) not in self._weights:
            self._weights[(n, b)] = _blb_weights(n, b, self.rng)
        return self._weights[(n, b)]

    def _transform(self, metric: str) -> str:
        return "sqrt" if self.meta.get(metric, {}).get("aggregate") == "rmse" else "identity"

    def interval(self, run: str, metric: str) -> dict[str, Any]:
        """The metric of one run with its CI, as a JSON-ready dict."""
        from ftplug.statistics import (
            EMPTY,
            f1_from_cells,
            histogram_interval,
            mean_interval,
            subsample_interval,
        )

        entry = self.summary.get((run, metric), {"n": 0, "missing": 0, "errors": 0, "sum": 0.0})
        meta = self.meta.get(metric, {})
        kind, n, transform = self.kind.get(metric), entry["n"], self._transform(metric)
        if meta.get("aggregate") == "macro_f1":
            interval = f1_from_cells(self._cells(run, metric), self.rng, resamples=self.resamples)
        elif not n:
            interval = EMPTY
        elif kind == "binary":
            interval = histogram_interval(np.array([0.0, 1.0]), np.array([n - entry["sum"], entry["sum"]]), self.rng,
                                          transform=transform, resamples=self.resamples)
        elif kind == "discrete":
            values, counts = self.histograms[(run, metric)]
            interval = histogram_interval(np.array(values), np.array(counts), self.rng, transform=transform,
                                          resamples=self.resamples)
        else:
            _, parts, values = self.samples.get((run, metric), (None, np.zeros(0, np.int64), np.zeros(0)))
            if self.direct:
                interval = mean_interval(values, self.rng, transform=transform, resamples=self.resamples)
            else:
                interval = subsample_interval([values[parts == k] for k in range(self.parts)], n, entry["sum"] / n,
                                              self.rng, transform=transform, weights=self.weights)
        return {**interval.as_dict(), "missing": entry["missing"], "errors": entry["errors"],
                "aggregate": meta.get("aggregate", "mean"), "higher_is_better": meta.get("higher_is_better", True)}

    def _cells(self, run: str, scorer: str) -> np.ndarray:
        table = self.labels.get((run, scorer), {})
        classes = sorted({truth for truth, _ in table})
        index = {label: i for i, label in enumerate(classes)}
        cells = np.zeros((len(classes), len(classes) + 1))
        for (truth, label), count in table.items():
            cells[index[truth], index.get(label, len(classes))] += count
        return cells

    def confusions(self, run: str) -> dict[str, Any]:
        """Confusion matrices of the run's classification scorers."""
        found = {}
        for (r, scorer), table in self.labels.items():
            if r != run:
                continue
            truths = sorted({t for t, _ in table})
            labels = truths + sorted({p for _, p in table} - set(truths))
            index = {label: i for i, label in enumerate(labels)}
            matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
            for (truth, label), count in table.items():
                matrix[index[truth], index[label]] += count
            found[scorer] = {"labels": labels, "matrix": matrix.tolist()}
        return found

    def compare(self, variants: list[str], reference: str, run_of: dict[str, str],
                only: str | None = None) -> list[tuple[str, str, Any]]:
        """Paired comparisons of ``variants`` against ``reference`` on every scorer but macro-F1 (or on
        ``only``)."""
        from ftplug.statistics import (
            binary_comparison,
            compare_paired,
            histogram_comparison,
            subsample_comparison,
        )

        reference_run = run_of[reference]
        runs = [run_of[v] for v in variants]
        if not runs:
            return []
        scorers = [m for m in self.meta if self.meta[m].get("aggregate") != "macro_f1" and only in (None, m)]
        paired = {(run, metric): (n, mean_a, mean_r, mean_d, b, c, binary, distinct)
                  for run, metric, n, mean_a, mean_r, mean_d, b, c, binary, distinct
                  in self.store.paired_summary(runs, reference_run, scorers)}
        discrete = [m for m in scorers if self.kind.get(m) == "discrete"]
        differences: dict[tuple[str, str], tuple[list[float], list[int]]] = {}
        for run, metric, difference, count in (self.store.difference_histograms(runs, reference_run, discrete)
                                               if discrete else []):
            values, counts = differences.setdefault((run, metric), ([], []))
            values.append(difference)
            counts.append(count)
        results = []
        for variant, run in zip(variants, runs, strict=True):
            for metric in scorers:
                if (run, metric) not in paired:
                    continue
                n, mean_a, mean_r, mean_d, b, c, binary, _ = paired[(run, metric)]
                transform = self._transform(metric)
                if binary and transform == "identity":
                    result = binary_comparison(b, c, n, self.rng, resamples=self.resamples)
                elif (run, metric) in differences and transform == "identity":
                    values, counts = differences[(run, metric)]
                    result = histogram_comparison(np.array(values), np.array(counts), self.rng,
                                                  resamples=self.resamples)
                else:
                    a_ids, a_parts, a_values = self.samples.get((run, metric), (np.zeros(0, np.int64), None, None))
                    r_ids, _, r_values = self.samples.get((reference_run, metric), (np.zeros(0, np.int64), None, None))
                    _, ia, ir = np.intersect1d(a_ids, r_ids, assume_unique=True, return_indices=True)
                    if not len(ia):
                        continue
                    a, r, parts = a_values[ia], r_values[ir], a_parts[ia]
                    if self.direct:
                        result = compare_paired(a, r, self.rng, transform=transform, resamples=self.resamples)
                    else:
                        point = (float(np.sqrt(mean_a) - np.sqrt(mean_r)) if transform == "sqrt" else float(mean_d))
                        result = subsample_comparison([a[parts == k] for k in range(self.parts)],
                                                      [r[parts == k] for k in range(self.parts)], n, point,
                                                      self.rng, transform=transform, weights=self.weights)
                if result is not None:
                    results.append((variant, metric, result.as_dict()))
        return results


def _loss_curves(store: Any, variants: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    curves = {}
    for variant in variants:
        training = variant.get("training")
        if training and hasattr(store, "job_events"):
            events = [e for e in store.job_events(training["job_id"]) if e.step is not None]
            curves[variant["variant"]] = [{"step": e.step, "train_loss": e.train_loss, "valid_loss": e.valid_loss}
                                          for e in events]
    return curves
