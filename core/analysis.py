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
    by_name = {r["variant"]: r["run_id"] for r in rows}
    variant_of = {run: name for name, run in by_name.items()}
    pairs = [(by_name[name], by_name[reference]) for name in names if name != reference]
    head_pair = None
    if primary in meta and meta[primary].get("aggregate") != "macro_f1":
        # the two best by the point estimate (from the summary) are also compared head to head
        means = [(stats.mean(r["run_id"], primary), r["run_id"]) for r in rows if r["status"] == "succeeded"]
        ranked = sorted(((m, run) for m, run in means if m is not None),
                        reverse=meta[primary].get("higher_is_better", True))
        if len(ranked) > 1:
            head_pair = (ranked[0][1], ranked[1][1])
            if head_pair not in pairs:
                pairs.append(head_pair)
    stats.load_histograms(pairs)
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
    results = stats.compare_all(pairs)
    comparisons = [{"variant": variant_of[a], "reference": reference, "scorer": scorer, **result}
                   for a, b, scorer, result in results if b == by_name[reference] and a != b]
    head_to_head = next(({"variant": variant_of[a], "reference": variant_of[b], "scorer": scorer, **result}
                         for a, b, scorer, result in results if (a, b) == head_pair and scorer == primary), None)
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
    """Intervals and paired comparisons from a few SQL aggregations of the store (no row-by-row loading):

    the scores of the compared runs are pivoted once (one row per scorer and example, one column per run);
    a 0/1 metric then needs only its counts — its bootstrap is exact from them; a metric with few distinct
    values, its histogram; a continuous one, a seeded subsample of examples (aligned across runs, so paired),
    resampled directly when small and with the bag of little bootstraps when large; the paired comparisons,
    one aggregation over the pivot; macro-F1 and the confusion matrices, label counts.
    """

    def __init__(self, store: Any, rows: list[dict[str, Any]], meta: dict[str, Any], resamples: int) -> None:
        from ftplug.statistics import BLB_EXPONENT, BLB_SUBSETS, DIRECT_LIMIT

        self.store, self.meta, self.resamples = store, meta, resamples
        self.run_ids = [r["run_id"] for r in rows]
        self.position = {run: i for i, run in enumerate(self.run_ids)}
        self.rng = np.random.default_rng(20_261_124)
        self._weights: dict[tuple[int, int], np.ndarray] = {}
        self.summary: dict[tuple[int, str], dict[str, Any]] = {}
        for i, row in enumerate(rows):
            for scorer, entry in row.get("score_summary", {}).items():
                self.summary[(i, scorer)] = entry
            self.summary[(i, COST)] = {"n": row["cost_n"], "missing": 0, "errors": 0, "sum": row["cost_usd"] or 0.0,
                                       "binary": bool(row["cost_binary"]), "distinct": row["cost_distinct"]}
            self.summary[(i, LATENCY)] = {"n": row["latency_n"], "missing": 0, "errors": 0,
                                          "sum": row["latency_sum"] or 0.0, "binary": bool(row["latency_binary"]),
                                          "distinct": row["latency_distinct"]}
        self.kind = self._kinds()
        largest = max((e["n"] for (_, m), e in self.summary.items() if self.kind.get(m) == "continuous"), default=0)
        self.direct = largest <= DIRECT_LIMIT
        self.parts = 1 if self.direct else BLB_SUBSETS
        fraction = 1.01 if self.direct else min(1.0, BLB_SUBSETS * largest ** BLB_EXPONENT / largest)
        self.histograms: dict[tuple[int, str], tuple[list[float], list[int]]] = {}
        self.discrete_rows: list[tuple[Any, ...]] = []  # value and difference histograms (load_histograms)
        self.samples: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # scorer → (parts, runs × examples)
        continuous = [m for m, k in self.kind.items() if k == "continuous" and m in meta]
        if continuous:
            columns = store.score_subsample(self.run_ids, continuous, fraction, self.parts)
            scorers = np.asarray(columns["scorer"], dtype=object)
            bounds = np.concatenate([[0], np.flatnonzero(scorers[1:] != scorers[:-1]) + 1, [len(scorers)]])
            matrix = np.vstack([np.asarray(columns[f"v{i}"], dtype=np.float64) for i in range(len(self.run_ids))])
            parts = np.asarray(columns["part"], dtype=np.int64)
            for start, end in itertools.pairwise(bounds):
                if start < end:
                    self.samples[str(scorers[start])] = (parts[start:end], matrix[:, start:end])
        for metric, column in ((COST, "cost_usd"), (LATENCY, "latency_ms")):
            if self.kind.get(metric) == "discrete":
                for i, value, count in store.prediction_histograms(self.run_ids, column):
                    values, counts = self.histograms.setdefault((i, metric), ([], []))
                    values.append(value)
                    counts.append(count)
        self.prediction_samples: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}
        if any(self.kind.get(m) == "continuous" for m in (COST, LATENCY)):
            columns = store.prediction_subsample(self.run_ids, fraction, self.parts)
            runs = np.asarray(columns["run"], dtype=np.int64) - 1
            parts = np.asarray(columns["part"], dtype=np.int64)
            for i in range(len(self.run_ids)):
                mine = runs == i
                for metric, key in ((COST, "cost_usd"), (LATENCY, "latency_ms")):
                    values = np.asarray(columns[key], dtype=np.float64)[mine]
                    keep = ~np.isnan(values)
                    self.prediction_samples[(i, metric)] = (parts[mine][keep], values[keep])
        self.labels = self._label_counts()

    def _kinds(self) -> dict[str, str]:
        from ftplug.statistics import DISTINCT_LIMIT

        kinds = {}
        for metric in {m for _, m in self.summary}:
            entries = [e for (_, m), e in self.summary.items() if m == metric and e["n"]]
            if not entries:
                continue
            if all(e["binary"] for e in entries):
                kinds[metric] = "binary"
            elif max(e["distinct"] for e in entries) <= DISTINCT_LIMIT:
                kinds[metric] = "discrete"
            else:
                kinds[metric] = "continuous"
        return kinds

    def _label_counts(self) -> dict[tuple[str, str], dict[tuple[str, str], int]]:
        labelled = [name for name, m in self.meta.items() if m.get("aggregate") == "macro_f1"
                    or m.get("name") in ("accuracy", "f1")]
        labels: dict[tuple[str, str], dict[tuple[str, str], int]] = {}
        if labelled:
            from ftplug.plugins.scorers import normalize

            for run, scorer, expected, label, count in self.store.label_counts(self.run_ids, labelled):
                cell = (normalize(str(expected)), label if label else "(none)")
                table = labels.setdefault((run, scorer), {})
                table[cell] = table.get(cell, 0) + count
        return labels

    def _split(self, parts: np.ndarray, values: np.ndarray) -> list[np.ndarray]:
        """The subsample's parts, cut to a common size so that one weight matrix serves them all."""
        pieces = [values[parts == k] for k in range(self.parts)]
        size = min((len(piece) for piece in pieces), default=0)
        return [piece[:size] for piece in pieces]

    def mean(self, run: str, metric: str) -> float | None:
        """The plain mean of a run's metric (from the summary)."""
        entry = self.summary.get((self.position[run], metric))
        return entry["sum"] / entry["n"] if entry and entry["n"] else None

    def weights(self, n: int, b: int) -> np.ndarray:
        """Resampling weights for the bag of little bootstraps, drawn once per size and shared by every
        metric and run (each interval stays valid; only their Monte Carlo noise is shared)."""
        from ftplug.statistics import _blb_weights

        if (n, b) not in self._weights:
            self._weights[(n, b)] = _blb_weights(n, b, self.rng)
        return self._weights[(n, b)]

    def _transform(self, metric: str) -> str:
        return "sqrt" if self.meta.get(metric, {}).get("aggregate") == "rmse" else "identity"

    def _continuous(self, i: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
        if metric in (COST, LATENCY):
            return self.prediction_samples.get((i, metric), (np.zeros(0, np.int64), np.zeros(0)))
        parts, matrix = self.samples.get(metric, (np.zeros(0, np.int64), np.zeros((len(self.run_ids), 0))))
        keep = ~np.isnan(matrix[i])
        return parts[keep], matrix[i][keep]

    def interval(self, run: str, metric: str) -> dict[str, Any]:
        """The metric of one run with its CI, as a JSON-ready dict."""
        from ftplug.statistics import (
            EMPTY,
            f1_from_cells,
            histogram_interval,
            mean_interval,
            subsample_interval,
        )

        i = self.position[run]
        entry = self.summary.get((i, metric), {"n": 0, "missing": 0, "errors": 0, "sum": 0.0})
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
            values, counts = self.histograms.get((i, metric), ([], []))
            interval = histogram_interval(np.array(values), np.array(counts), self.rng, transform=transform,
                                          resamples=self.resamples)
        else:
            parts, values = self._continuous(i, metric)
            if self.direct:
                interval = mean_interval(values, self.rng, transform=transform, resamples=self.resamples)
            else:
                interval = subsample_interval(self._split(parts, values), n, entry["sum"] / n, self.rng,
                                              transform=transform, weights=self.weights)
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

    def load_histograms(self, pairs: list[tuple[str, str]]) -> None:
        """Fetch the value and difference histograms of the metrics with few distinct values."""
        discrete = [m for m, k in self.kind.items() if k == "discrete" and m in self.meta]
        positions = [(self.position[a], self.position[b]) for a, b in pairs]
        self.discrete_rows = self.store.score_histograms(self.run_ids, discrete, positions) if discrete else []
        for k, scorer, value, count in self.discrete_rows:
            if k < len(self.run_ids):
                values, counts = self.histograms.setdefault((k, scorer), ([], []))
                values.append(value)
                counts.append(count)

    def compare_all(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str, str, Any]]:
        """Paired comparisons ``(variant run, reference run)`` on every scorer but macro-F1:
        ``(variant run, reference run, scorer, result)``."""
        from ftplug.statistics import (
            binary_comparison,
            compare_paired,
            histogram_comparison,
            subsample_comparison,
        )

        positions = [(self.position[a], self.position[b]) for a, b in pairs]
        if not positions:
            return []
        scorers = [m for m in self.meta if self.meta[m].get("aggregate") != "macro_f1"]
        stats = {row[0]: row[1:] for row in self.store.score_pairs(self.run_ids, positions)}
        differences: dict[tuple[int, str], tuple[list[float], list[int]]] = {}
        runs = len(self.run_ids)
        for k, scorer, value, count in self.discrete_rows:
            if k >= runs:
                values, counts = differences.setdefault((k - runs, scorer), ([], []))
                values.append(value)
                counts.append(count)
        results = []
        for k, ((run_a, run_b), (a, b)) in enumerate(zip(pairs, positions, strict=True)):
            for scorer in scorers:
                if scorer not in stats:
                    continue
                n, mean_d, only_a, only_b = stats[scorer][4 * k: 4 * k + 4]
                if not n:
                    continue
                transform = self._transform(scorer)
                if self.kind.get(scorer) == "binary" and transform == "identity":
                    result = binary_comparison(only_a, only_b, n, self.rng, resamples=self.resamples)
                elif (k, scorer) in differences and transform == "identity":
                    values, counts = differences[(k, scorer)]
                    result = histogram_comparison(np.array(values), np.array(counts), self.rng,
                                                  resamples=self.resamples)
                else:
                    parts, matrix = self.samples.get(scorer, (np.zeros(0, np.int64), np.zeros((len(self.run_ids), 0))))
                    both = ~(np.isnan(matrix[a]) | np.isnan(matrix[b]))
                    x, y, part = matrix[a][both], matrix[b][both], parts[both]
                    if not len(x):
                        continue
                    if self.direct:
                        result = compare_paired(x, y, self.rng, transform=transform, resamples=self.resamples)
                    else:
                        point = (float(np.sqrt(x.mean()) - np.sqrt(y.mean())) if transform == "sqrt"
                                 else float(mean_d))
                        result = subsample_comparison(self._split(part, x), self._split(part, y), n, point, self.rng,
                                                      transform=transform, weights=self.weights)
                if result is not None:
                    results.append((run_a, run_b, scorer, result.as_dict()))
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
