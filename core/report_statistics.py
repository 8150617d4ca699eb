"""Every interval and paired comparison of the decision report, drawn from a few SQL aggregations of the
result store (see :class:`ReportStatistics`)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

COST, LATENCY = "$cost_usd", "$latency_ms"


class ReportStatistics:
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
