"""Every interval and paired comparison of the decision report, from the stored scores, costs and latencies
of the compared runs loaded once as NumPy columns (see :class:`ReportStatistics`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ftplug.report.model import Estimate, Interval, PairedTest

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
    costs and latencies.

    Each scorer's values are laid out as a matrix, one row per run and one column per example (its number in
    the experiment, NaN where a run has no value), so every pairing is a comparison of two rows. When the
    succeeded runs were asked different test examples (one rerun with ``--limit``), every score is restricted
    to the examples all of them were asked (``shared``). When the examples belong to clusters (``[report]
    cluster``), each example's cluster is held beside the matrix and every interval and test of the scores
    is cluster-robust. Each interval and test draws from a generator seeded by the variants' names and the
    metric, so no result depends on the order of the variants or on what else was computed.
    """

    def __init__(self, store: Any, rows: list[dict[str, Any]], meta: dict[str, Any], resamples: int) -> None:
        self.store, self.resamples = store, resamples
        self.run_ids = [r["run_id"] for r in rows]
        self.names = [r["variant"] for r in rows]
        self.experiment = rows[0]["experiment"] if rows else ""
        self.position = {run: i for i, run in enumerate(self.run_ids)}
        described = all(r["details"].get("scorers") for r in rows)
        names = list(meta) if described else sorted(set(meta) | set(store.scorer_names(self.run_ids)))
        self.meta = {name: meta.get(name, {"name": name, "aggregate": "mean", "higher_is_better": True})
                     for name in names}
        self.summary: dict[tuple[int, str], Summary] = {}
        self.kind: dict[str, str] = {}
        self.matrices: dict[str, np.ndarray] = {}  # scorer → runs × examples
        self.scored: dict[str, np.ndarray] = {}  # scorer → runs × examples: a score row exists
        self.span = store.example_span(self.experiment) if names else 0
        self._load_scores(names)
        succeeded = [i for i, r in enumerate(rows) if r["status"] == "succeeded"]
        self.asked, self.shared = self._shared_examples(succeeded)
        self.test_sets = self._restrict(succeeded) if self.shared is not None else None
        self.codes = self._clusters()
        self._summarise_predictions(rows)
        self.values: dict[tuple[int, str], np.ndarray] = {}  # cost and latency values, all or a sample
        self._load_predictions(rows)
        self.labels = self._label_counts()
        self._label_codes: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}

    # ---- loading ------------------------------------------------------------------------------------------

    def _load_scores(self, names: list[str]) -> None:
        """Each scorer's values laid out as the runs × examples matrix, with each run's counts and sums."""
        runs, span = len(self.run_ids), self.span
        errors = {(int(i), scorer): int(count) for i, scorer, count in self.store.score_errors(self.run_ids)}
        for name in names:
            columns = self.store.score_cells(self.run_ids, name, span)
            cell, value = np.asarray(columns["cell"]), np.asarray(columns["value"], np.float64)
            matrix = np.full((runs, span), np.nan)
            scored = np.zeros((runs, span), bool)
            placed = cell >= 0  # a score whose example was never stored is counted but not paired
            matrix.ravel()[cell[placed]] = value[placed]
            scored.ravel()[cell[placed]] = True
            run = np.where(placed, cell // max(span, 1), -1 - cell)
            rows = np.bincount(run, minlength=runs)
            present = ~np.isnan(value)
            counts = np.bincount(run[present], minlength=runs)
            sums = np.bincount(run[present], weights=value[present], minlength=runs)
            for i in np.flatnonzero(rows):
                self.summary[(int(i), name)] = Summary(int(counts[i]), int(rows[i] - counts[i]),
                                                       errors.get((int(i), name), 0), float(sums[i]))
            self.matrices[name], self.scored[name] = matrix, scored
            known = value[present]
            if len(known):
                self.kind[name] = "binary" if np.all((known == 0) | (known == 1)) else "mean"

    def _shared_examples(self, succeeded: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
        """Which examples each run was asked (answered or failed), and — when the succeeded runs were not all
        asked the same ones — the examples all of them were."""
        asked = np.zeros((len(self.run_ids), self.span), bool)
        if self.span and self.run_ids:
            asked.ravel()[np.asarray(self.store.predicted_cells(self.run_ids, self.span, self.experiment))] = True
        if len(succeeded) < 2:
            return asked, None
        shared = np.asarray(asked[succeeded].all(axis=0))  # an array (numpy's stubs allow a scalar for any axis)
        if all(np.array_equal(asked[i], shared) for i in succeeded):
            return asked, None
        return asked, shared

    def _restrict(self, succeeded: list[int]) -> dict[str, Any]:
        """Every succeeded run's scores cut to the shared examples, its summaries recomputed; what each run
        had before, for the report to say."""
        assert self.shared is not None
        before = {self.names[i]: int(self.asked[i].sum()) for i in succeeded}
        outside = ~self.shared
        for name, matrix in self.matrices.items():
            for i in succeeded:
                matrix[i, outside] = np.nan
                self.scored[name][i, outside] = False
                row, scored = matrix[i], self.scored[name][i]
                valid = ~np.isnan(row)
                old = self.summary.get((i, name), Summary())
                self.summary[(i, name)] = Summary(int(valid.sum()), int((scored & ~valid).sum()), old.errors,
                                                  float(row[valid].sum()))
        for i in succeeded:
            self.asked[i] &= self.shared
        return {"shared": int(self.shared.sum()), "asked": before}

    def _clusters(self) -> np.ndarray | None:
        """Each example's cluster as an integer code (an example without one is a cluster of its own), or
        ``None`` when no example has a cluster or every cluster holds one example."""
        if not self.span:
            return None
        found = self.store.example_clusters(self.experiment)
        numbers = np.asarray(found["number"], np.int64)
        if not len(numbers):
            return None
        _, codes_of = np.unique(np.asarray(found["cluster"], dtype=object).astype(str), return_inverse=True)
        codes = np.arange(self.span, dtype=np.int64) + int(codes_of.max()) + 1  # singletons by default
        codes[numbers] = codes_of
        if len(np.unique(codes)) == self.span:
            return None
        return codes

    def _summarise_predictions(self, rows: list[dict[str, Any]]) -> None:
        """Count and sum of each run's costs and latencies (from the variant rows); 0/1 metrics known as such."""
        for metric, prefix, total in ((COST, "cost", "cost_usd"), (LATENCY, "latency", "latency_sum")):
            found = [(i, row) for i, row in enumerate(rows) if row[f"{prefix}_n"]]
            for i, row in found:
                self.summary[(i, metric)] = Summary(int(row[f"{prefix}_n"]), 0, 0, float(row[total] or 0.0))
            if found:
                self.kind[metric] = "binary" if all(row[f"{prefix}_binary"] for _, row in found) else "mean"

    def _load_predictions(self, rows: list[dict[str, Any]]) -> None:
        """Each run's costs and latencies: all of them for a run of at most ``DIRECT_LIMIT`` predictions
        (bootstrapped), a seeded share of about that many for a larger run (whose t interval needs only their
        spread)."""
        from ftplug.report.statistics import DIRECT_LIMIT

        if all(self.kind.get(m) != "mean" for m in (COST, LATENCY)):
            return
        sizes = [max(r["cost_n"], r["latency_n"]) for r in rows]
        small = [i for i, size in enumerate(sizes) if 0 < size <= DIRECT_LIMIT]
        large = [i for i, size in enumerate(sizes) if size > DIRECT_LIMIT]
        groups = [(small, 1.0)] + ([(large, 1.2 * DIRECT_LIMIT / max(sizes))] if large else [])
        for positions, fraction in groups:
            if not positions:
                continue
            columns = self.store.prediction_sample([self.run_ids[i] for i in positions], fraction)
            run = np.asarray(columns["run"], np.int64)
            for metric, name in ((COST, "cost_usd"), (LATENCY, "latency_ms")):
                values = np.asarray(columns[name], np.float64)
                for k, i in enumerate(positions):
                    mine = values[run == k]
                    self.values[(i, metric)] = mine[~np.isnan(mine)]

    def _label_counts(self) -> dict[tuple[str, str], dict[tuple[str, str], int]]:
        labelled = [name for name, m in self.meta.items() if m.get("aggregate") == "macro_f1"
                    or m.get("reads_labels")]
        labels: dict[tuple[str, str], dict[tuple[str, str], int]] = {}
        if labelled:
            from ftplug.dataset.labels import normalize

            for run, scorer, expected, label, count in self.store.label_counts(self.run_ids, labelled):
                cell = (normalize(str(expected)), label if label else "(none)")
                table = labels.setdefault((run, scorer), {})
                table[cell] = table.get(cell, 0) + count
        return labels

    def _labels_by_example(self, scorer: str) -> tuple[np.ndarray, np.ndarray, int]:
        """For a macro-F1 scorer: each example's true class and each run's answered class (runs × examples;
        −1 where unscored, the class count for an answer that is no class), and the class count."""
        if scorer not in self._label_codes:
            from ftplug.dataset.labels import normalize

            columns = self.store.label_cells(self.run_ids, scorer, self.span, self.experiment)
            cell = np.asarray(columns["cell"], np.int64)
            truths = [normalize(str(x)) for x in columns["expected"]]
            classes = sorted(set(truths))
            index = {label: k for k, label in enumerate(classes)}
            truth = np.full(self.span, -1, np.int64)
            answered = np.full((len(self.run_ids), self.span), -1, np.int64)
            truth[cell % max(self.span, 1)] = [index[x] for x in truths]
            answered.ravel()[cell] = [index.get(str(x) if x else "(none)", len(classes)) for x in columns["label"]]
            if self.shared is not None:
                answered[:, ~self.shared] = -1
            self._label_codes[scorer] = (truth, answered, len(classes))
        return self._label_codes[scorer]

    # ---- estimates ----------------------------------------------------------------------------------------

    def mean(self, run: str, metric: str) -> float | None:
        """The plain mean of a run's metric."""
        entry = self.summary.get((self.position[run], metric))
        return entry.sum / entry.n if entry and entry.n else None

    def _transform(self, metric: str) -> str:
        return "sqrt" if self.meta.get(metric, {}).get("aggregate") == "rmse" else "identity"

    def interval(self, run: str, metric: str) -> Estimate:
        """The metric of one run with its CI, as a JSON-ready dict; for a 0/1 higher-is-better scorer also
        its value with every example the run was asked and has no score for counted as wrong
        (``with_failures``)."""
        from ftplug.report.intervals import f1_interval, mean_interval, proportion_interval
        from ftplug.report.statistics import EMPTY, seeded

        i = self.position[run]
        entry = self.summary.get((i, metric), Summary())
        meta = self.meta.get(metric, {})
        rng = seeded(self.names[i], metric)
        result: dict[str, Interval] = {}
        if meta.get("aggregate") == "macro_f1":
            interval = f1_interval(self._cells(run, metric), rng, cluster_cells=self._cluster_cells(i, metric),
                                   resamples=self.resamples)
        elif not entry.n:
            interval = EMPTY
        elif metric in (COST, LATENCY):
            interval = self._prediction_interval(i, metric, entry, rng)
        else:
            row = self.matrices[metric][i]
            valid = ~np.isnan(row)
            codes = self.codes[valid] if self.codes is not None else None
            if self.kind.get(metric) == "binary" and self._transform(metric) == "identity":
                interval = proportion_interval(round(entry.sum), entry.n, codes=codes, values=row[valid])
                if meta.get("higher_is_better", True):
                    result["with_failures"] = self._with_failures(i, metric)
            else:
                interval = mean_interval(row[valid], rng, codes=codes, transform=self._transform(metric),
                                         resamples=self.resamples)
        estimate: Estimate = {**interval.as_dict(), "missing": entry.missing, "errors": entry.errors,
                              "aggregate": meta.get("aggregate", "mean"),
                              "higher_is_better": meta.get("higher_is_better", True)}
        if "with_failures" in result:
            estimate["with_failures"] = result["with_failures"]
        return estimate

    def _with_failures(self, i: int, metric: str) -> Interval:
        """A 0/1 metric over every example the run was asked: a failed request or unscored answer counts as 0."""
        from ftplug.report.intervals import proportion_interval

        asked = self.asked[i]
        n = int(asked.sum())
        values = np.nan_to_num(self.matrices[metric][i][asked], nan=0.0)
        codes = self.codes[asked] if self.codes is not None else None
        return proportion_interval(int(values.sum()), n, codes=codes, values=values).as_dict()

    def _prediction_interval(self, i: int, metric: str, entry: Summary, rng: np.random.Generator) -> Any:
        from ftplug.report.intervals import mean_interval, proportion_interval
        from ftplug.report.statistics import DIRECT_LIMIT, Interval

        if self.kind.get(metric) == "binary":
            return proportion_interval(round(entry.sum), entry.n)
        values = self.values.get((i, metric), np.zeros(0))
        if entry.n <= DIRECT_LIMIT:
            return mean_interval(values, rng, resamples=self.resamples)
        from scipy.stats import t

        mean = entry.sum / entry.n
        if len(values) < 2:
            return Interval(mean, None, None, entry.n, "t")
        half = float(t.ppf(0.975, entry.n - 1)) * float(values.std(ddof=1)) / np.sqrt(entry.n)
        return Interval(mean, mean - half, mean + half, entry.n, "t (spread from a sample)")

    def _cells(self, run: str, scorer: str) -> np.ndarray:
        table = self.labels.get((run, scorer), {})
        classes = sorted({truth for truth, _ in table})
        index = {label: i for i, label in enumerate(classes)}
        cells = np.zeros((len(classes), len(classes) + 1))
        for (expected, label), count in table.items():
            cells[index[expected], index.get(label, len(classes))] += count
        if self.shared is not None:
            truth, answered, k = self._labels_by_example(scorer)
            row = answered[self.position[run]]
            keep = row >= 0
            flat = np.bincount(truth[keep] * (k + 1) + row[keep], minlength=k * (k + 1))
            cells = flat.reshape(k, k + 1).astype(np.float64)
        return cells

    def _cluster_cells(self, i: int, scorer: str) -> np.ndarray | None:
        """Per cluster, the confusion matrix's cells of run ``i`` (clusters × cells), for the cluster bootstrap."""
        if self.codes is None:
            return None
        truth, answered, k = self._labels_by_example(scorer)
        keep = answered[i] >= 0
        if not keep.any():
            return None
        _, compact = np.unique(self.codes[keep], return_inverse=True)
        cell = truth[keep] * (k + 1) + answered[i][keep]
        cells = np.zeros((int(compact.max()) + 1, k * (k + 1)))
        np.add.at(cells, (compact, cell), 1.0)
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

    def compare_all(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str, str, PairedTest]]:
        """Paired comparisons ``(variant run, other run)`` on every scorer, over the examples both runs scored:
        ``(variant run, other run, scorer, result)``."""
        results = []
        for scorer in self.matrices:
            for run_a, run_b in pairs:
                result = self._compare(scorer, self.position[run_a], self.position[run_b])
                if result is not None:
                    results.append((run_a, run_b, scorer, result.as_dict()))
        return results

    def _compare(self, scorer: str, a: int, b: int) -> Any:
        from ftplug.report.paired_tests import compare_paired, f1_comparison
        from ftplug.report.statistics import seeded

        rng = seeded(self.names[a], self.names[b], scorer)
        if self.meta[scorer].get("aggregate") == "macro_f1":
            truth, answered, classes = self._labels_by_example(scorer)
            both = (answered[a] >= 0) & (answered[b] >= 0)
            if not both.any():
                return None
            codes = self.codes[both] if self.codes is not None else None
            return f1_comparison(truth[both], answered[a][both], answered[b][both], classes, rng, codes=codes,
                                 resamples=self.resamples)
        matrix = self.matrices[scorer]
        return compare_paired(matrix[a], matrix[b], rng, codes=self.codes, transform=self._transform(scorer),
                              resamples=self.resamples)
