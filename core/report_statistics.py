"""Every interval and paired comparison of the decision report, from the stored scores, costs and latencies
of the compared runs loaded once as NumPy columns (see :class:`ReportStatistics`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

COST, LATENCY = "$cost_usd", "$latency_ms"


@dataclass
class Summary:
    """One run's metric in numbers: values, missing values, scorer errors, their sum."""

    n: int = 0
    missing: int = 0
    errors: int = 0
    sum: float = 0.0


class ReportStatistics:
    """Intervals and paired comparisons, computed in NumPy from one fetch of the runs' scores and one of their
    costs and latencies (no per-row Python, no further query but label counts for classification scorers).

    Each scorer's values are laid out as a matrix, one row per run and one column per example (its number in
    the experiment, NaN where a run has no value), so every pairing is a comparison of two rows. A 0/1
    metric then needs only its counts — its bootstrap is exact from them; a metric with few distinct values,
    its histogram; a continuous one is resampled directly when small, and with the bag of little bootstraps
    on a seeded subset of examples (the same examples in every run, so paired) when large; macro-F1 and the
    confusion matrices come from label counts.
    """

    def __init__(self, store: Any, rows: list[dict[str, Any]], meta: dict[str, Any], resamples: int) -> None:
        from ftplug.statistics import BLB_EXPONENT, BLB_SUBSETS, DIRECT_LIMIT

        self.store, self.resamples = store, resamples
        self.run_ids = [r["run_id"] for r in rows]
        self.experiment = rows[0]["experiment"] if rows else ""
        self.position = {run: i for i, run in enumerate(self.run_ids)}
        self.rng = np.random.default_rng(20_261_124)
        self._weights: dict[tuple[int, int], np.ndarray] = {}
        described = all(r["details"].get("scorers") for r in rows)
        names = list(meta) if described else sorted(set(meta) | set(store.scorer_names(self.run_ids)))
        self.meta = {name: meta.get(name, {"name": name, "aggregate": "mean", "higher_is_better": True})
                     for name in names}
        self.summary: dict[tuple[int, str], Summary] = {}
        self.kind: dict[str, str] = {}
        self.histograms: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}
        self.matrices: dict[str, np.ndarray] = {}  # scorer → runs × examples
        self.values: dict[tuple[int, str], np.ndarray] = {}  # continuous metrics when resampled directly
        self._load_scores(names)
        self._summarise_predictions(rows)
        largest = max((e.n for (_, m), e in self.summary.items() if self.kind.get(m, "continuous") == "continuous"),
                      default=0)
        self.direct = largest <= DIRECT_LIMIT
        self.parts = 1 if self.direct else BLB_SUBSETS
        size = int(BLB_SUBSETS * largest ** BLB_EXPONENT) if largest else 0
        self.samples: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # scorer → (parts, runs × examples)
        self.prediction_samples: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}
        if not self.direct:
            self._draw_subsamples(size)
        self._load_predictions(1.0 if self.direct else 1.2 * size / largest, size)
        self.labels = self._label_counts()

    def _load_scores(self, names: list[str]) -> None:
        """Each scorer's values laid out as the runs × examples matrix, with each run's counts and sums."""
        runs = len(self.run_ids)
        errors = {(int(i), scorer): int(count) for i, scorer, count in self.store.score_errors(self.run_ids)}
        span = self.store.example_span(self.experiment) if names else 0
        for name in names:
            columns = self.store.score_cells(self.run_ids, name, span)
            cell, value = np.asarray(columns["cell"]), np.asarray(columns["value"], np.float64)
            matrix = np.full((runs, span), np.nan)
            placed = cell >= 0  # a score whose example was never stored is counted but not paired
            if placed.all() and not np.isnan(value).any():  # the usual case: the matrix holds every score
                matrix.ravel()[cell] = value
                valid = ~np.isnan(matrix)
                rows = counts = np.count_nonzero(valid, axis=1)
                sums = np.where(valid, matrix, 0.0).sum(axis=1)
                run = cell // max(span, 1)
            else:
                matrix.ravel()[cell[placed]] = value[placed]
                run = np.where(placed, cell // max(span, 1), -1 - cell)
                rows = np.bincount(run, minlength=runs)
                present = ~np.isnan(value)
                run, value = run[present], value[present]
                counts, sums = np.bincount(run, minlength=runs), np.bincount(run, weights=value, minlength=runs)
            for i in np.flatnonzero(rows):
                self.summary[(int(i), name)] = Summary(int(counts[i]), int(rows[i] - counts[i]),
                                                       errors.get((int(i), name), 0), float(sums[i]))
            self.matrices[name] = matrix
            self._classify(name, run, value)

    def _summarise_predictions(self, rows: list[dict[str, Any]]) -> None:
        """Count and sum of each run's costs and latencies (from the variant rows); 0/1 metrics known as such."""
        for metric, prefix, total in ((COST, "cost", "cost_usd"), (LATENCY, "latency", "latency_sum")):
            found = [(i, row) for i, row in enumerate(rows) if row[f"{prefix}_n"]]
            for i, row in found:
                self.summary[(i, metric)] = Summary(int(row[f"{prefix}_n"]), 0, 0, float(row[total] or 0.0))
            if found and all(row[f"{prefix}_binary"] for _, row in found):
                self.kind[metric] = "binary"

    def _load_predictions(self, fraction: float, size: int) -> None:
        """Costs and latencies that are not 0/1: each run's values (all of them when resampled directly,
        else a seeded share for the bag of little bootstraps, at most ``size`` values each) or, with few
        distinct values, histograms."""
        from ftplug.statistics import DISTINCT_LIMIT

        metrics = [(m, c) for m, c in ((COST, "cost_usd"), (LATENCY, "latency_ms"))
                   if self.kind.get(m) != "binary" and any(metric == m for _, metric in self.summary)]
        if not metrics:
            return
        columns = self.store.prediction_sample(self.run_ids, fraction)
        run = np.asarray(columns["run"], np.uint16)
        order = np.argsort(run, kind="stable")  # a radix sort for 16-bit keys
        run = run[order]
        bounds = np.searchsorted(run, np.arange(len(self.run_ids) + 1))
        for metric, name in metrics:
            values = np.asarray(columns[name], np.float64)[order]
            present = ~np.isnan(values)
            if fraction >= 1:
                self._classify(metric, run[present], values[present])
                continue
            known = values[present]
            if len(np.unique(known[:4 * DISTINCT_LIMIT])) <= DISTINCT_LIMIT \
                    and len(np.unique(known)) <= DISTINCT_LIMIT:  # perhaps few values in all: count them
                found = self.store.prediction_histograms(self.run_ids, name)
                if len({value for _, value, _ in found}) <= DISTINCT_LIMIT:
                    self.kind[metric] = "discrete"
                    tables: dict[int, tuple[list[float], list[int]]] = {}
                    for i, value, count in found:
                        tables.setdefault(int(i), ([], []))[0].append(value)
                        tables[int(i)][1].append(count)
                    for i, (seen, counts) in tables.items():
                        self.histograms[(i, metric)] = (np.array(seen), np.array(counts))
                    continue
            self.kind[metric] = "continuous"
            for i in range(len(self.run_ids)):
                mine = values[bounds[i]:bounds[i + 1]]
                mine = mine[~np.isnan(mine)][:size]  # one size for all runs: one weight matrix serves them
                self.prediction_samples[(i, metric)] = (np.arange(len(mine)) % self.parts, mine)

    def _classify(self, metric: str, runs: np.ndarray, values: np.ndarray) -> None:
        """Decide whether ``metric`` is 0/1, discrete (its per-run histograms are kept) or continuous;
        ``runs`` holds the run position of each value."""
        from ftplug.statistics import DIRECT_LIMIT, DISTINCT_LIMIT

        if not len(values):
            return
        if np.all((values == 0) | (values == 1)):
            self.kind[metric] = "binary"
            return
        if len(np.unique(values[:4 * DISTINCT_LIMIT])) > DISTINCT_LIMIT:  # most continuous metrics stop here
            distinct = None
        else:
            distinct, index = np.unique(values, return_inverse=True)
        if distinct is None or len(distinct) > DISTINCT_LIMIT:
            self.kind[metric] = "continuous"
            counts = np.bincount(runs, minlength=len(self.run_ids))
            for i in np.flatnonzero((counts > 0) & (counts <= DIRECT_LIMIT)):  # resampled directly
                self.values[(int(i), metric)] = values[runs == i]
            return
        self.kind[metric] = "discrete"
        counts = np.bincount(runs.astype(np.int64) * len(distinct) + index, minlength=len(self.run_ids) * len(distinct))
        for i in np.unique(runs):
            row = counts[i * len(distinct):(i + 1) * len(distinct)]
            self.histograms[(int(i), metric)] = (distinct[row > 0], row[row > 0])

    def _draw_subsamples(self, size: int) -> None:
        """The seeded subset of examples the bag of little bootstraps resamples for continuous scores: the same
        examples in every run, so that comparisons stay paired."""
        picker = np.random.default_rng(20_261_125)
        for name, matrix in self.matrices.items():
            if self.kind.get(name) == "continuous":
                picked = np.sort(picker.choice(matrix.shape[1], min(size, matrix.shape[1]), replace=False))
                self.samples[name] = (np.arange(len(picked)) % self.parts, matrix[:, picked])

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
        """The plain mean of a run's metric."""
        entry = self.summary.get((self.position[run], metric))
        return entry.sum / entry.n if entry and entry.n else None

    def weights(self, n: int, b: int) -> np.ndarray:
        """Resampling weights for the bag of little bootstraps, drawn once per size and shared by every
        metric and run (each interval stays valid; only their Monte Carlo noise is shared)."""
        from ftplug.statistics import _blb_weights

        if (n, b) not in self._weights:
            self._weights[(n, b)] = _blb_weights(n, b, self.rng)
        return self._weights[(n, b)]

    def _transform(self, metric: str) -> str:
        return "sqrt" if self.meta.get(metric, {}).get("aggregate") == "rmse" else "identity"

    def _subsample(self, i: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
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
        entry = self.summary.get((i, metric), Summary())
        meta = self.meta.get(metric, {})
        kind, n, transform = self.kind.get(metric), entry.n, self._transform(metric)
        if meta.get("aggregate") == "macro_f1":
            interval = f1_from_cells(self._cells(run, metric), self.rng, resamples=self.resamples)
        elif not n:
            interval = EMPTY
        elif kind == "binary":
            interval = histogram_interval(np.array([0.0, 1.0]), np.array([n - entry.sum, entry.sum]), self.rng,
                                          transform=transform, resamples=self.resamples)
        elif kind == "discrete":
            values, counts = self.histograms.get((i, metric), (np.zeros(0), np.zeros(0)))
            interval = histogram_interval(values, counts, self.rng, transform=transform, resamples=self.resamples)
        elif self.direct:
            interval = mean_interval(self.values.get((i, metric), np.zeros(0)), self.rng, transform=transform,
                                     resamples=self.resamples)
        else:
            parts, values = self._subsample(i, metric)
            interval = subsample_interval(self._split(parts, values), n, entry.sum / n, self.rng,
                                          transform=transform, weights=self.weights)
        return {**interval.as_dict(), "missing": entry.missing, "errors": entry.errors,
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

    def compare_all(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str, str, Any]]:
        """Paired comparisons ``(variant run, reference run)`` on every scorer but macro-F1, over the examples
        both runs scored: ``(variant run, reference run, scorer, result)``."""
        results = []
        for scorer, matrix in self.matrices.items():
            if self.meta[scorer].get("aggregate") == "macro_f1":
                continue
            valid = ~np.isnan(matrix)
            # a 0/1 scorer's comparisons are counts of its rows' cells: the masks are made once for all pairs
            ones = (matrix == 1, matrix == 0) if self.kind.get(scorer) == "binary" else None
            for run_a, run_b in pairs:
                result = self._compare(scorer, matrix, valid, ones, self.position[run_a], self.position[run_b])
                if result is not None:
                    results.append((run_a, run_b, scorer, result.as_dict()))
        return results

    def _compare(self, scorer: str, matrix: np.ndarray, valid: np.ndarray,
                 binary: tuple[np.ndarray, np.ndarray] | None, a: int, b: int) -> Any:
        from ftplug.statistics import (
            binary_comparison,
            compare_paired,
            histogram_comparison,
            subsample_comparison,
        )

        both = valid[a] & valid[b]
        n = int(np.count_nonzero(both))
        if not n:
            return None
        transform, kind = self._transform(scorer), self.kind.get(scorer)
        if binary is not None and transform == "identity":
            ones, zeros = binary
            only_a = int(np.count_nonzero(ones[a] & zeros[b]))
            only_b = int(np.count_nonzero(zeros[a] & ones[b]))
            return binary_comparison(only_a, only_b, n, self.rng, resamples=self.resamples)
        x, y = matrix[a], matrix[b]
        if kind == "discrete" and transform == "identity":
            differences, counts = np.unique(x[both] - y[both], return_counts=True)
            return histogram_comparison(differences, counts, self.rng, resamples=self.resamples)
        if self.direct:
            return compare_paired(x[both], y[both], self.rng, transform=transform, resamples=self.resamples)
        parts, sample = self.samples.get(scorer, (np.zeros(0, np.int64), np.zeros((len(self.run_ids), 0))))
        paired = ~(np.isnan(sample[a]) | np.isnan(sample[b]))
        if not paired.any():
            return None
        xs, ys = x[both], y[both]
        point = float(np.sqrt(xs.mean()) - np.sqrt(ys.mean())) if transform == "sqrt" else float((xs - ys).mean())
        return subsample_comparison(self._split(parts[paired], sample[a][paired]),
                                    self._split(parts[paired], sample[b][paired]), n, point, self.rng,
                                    transform=transform, weights=self.weights)

