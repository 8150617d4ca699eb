"""Bootstrap confidence intervals and paired comparisons, vectorised with NumPy.

Percentile bootstrap, 95 % by default. When a metric's values take few distinct values (match scores,
rates, token-priced costs) the bootstrap is done exactly and cheaply on their counts: resampling n values
with replacement is a multinomial draw over the distinct values. Macro-F1 is bootstrapped the same way over
the cells of the confusion matrix. Continuous values are resampled directly up to ``DIRECT_LIMIT`` values,
and beyond that with the bag of little bootstraps (Kleiner et al., 2014), which gives the same interval at a
fraction of the cost. Paired comparisons use McNemar's exact test for 0/1 metrics and a paired bootstrap of
the per-example differences otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

RESAMPLES = 2000
CONFIDENCE = 0.95
DISTINCT_LIMIT = 1024  # at most this many distinct values: exact multinomial bootstrap
DIRECT_LIMIT = 20_000  # at most this many values: resample them directly
BLB_SUBSETS, BLB_RESAMPLES, BLB_EXPONENT = 5, 100, 0.6


@dataclass(frozen=True)
class Interval:
    """A point estimate with its confidence interval."""

    value: float | None
    low: float | None
    high: float | None
    n: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}


EMPTY = Interval(None, None, None, 0)


def _percentiles(stats: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_means(values: np.ndarray, rng: np.random.Generator, resamples: int = RESAMPLES) -> np.ndarray:
    """``resamples`` bootstrap replicates of the mean of ``values`` (for large continuous samples: one
    subset's replicates of the bag of little bootstraps — use :func:`mean_interval` for intervals)."""
    n = len(values)
    distinct, counts = np.unique(values, return_counts=True)
    if len(distinct) <= DISTINCT_LIMIT:
        draws = rng.multinomial(n, counts / n, size=resamples)
        return draws @ distinct / n
    out = np.empty(resamples)
    chunk = max(1, 2_000_000 // n)
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        out[start:start + size] = values[rng.integers(0, n, size=(size, n))].mean(axis=1)
    return out


def mean_interval(values: np.ndarray, rng: np.random.Generator, *, transform: str = "identity",
                  confidence: float = CONFIDENCE, resamples: int = RESAMPLES) -> Interval:
    """The mean of ``values`` (or its square root, ``transform="sqrt"``, for RMSE) with a bootstrap CI."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    n = len(values)
    if n == 0:
        return EMPTY
    point = float(values.mean())

    def shape(x: Any) -> Any:
        return np.sqrt(x) if transform == "sqrt" else x

    if len(np.unique(values)) <= DISTINCT_LIMIT or n <= DIRECT_LIMIT:
        low, high = _percentiles(shape(bootstrap_means(values, rng, resamples)), confidence)
    else:
        low, high = _little_bootstraps(values, rng, confidence, shape)
    return Interval(float(shape(point)), low, high, n)


def _blb_weights(n: int, b: int, rng: np.random.Generator) -> np.ndarray:
    """Weights of a size-``n`` resample from ``b`` points, each row summing to 1: the count of each point
    is Poisson(n/b) (the Poisson bootstrap), drawn through its normal approximation, exact enough for
    n/b ≥ 20 and several times cheaper than Poisson or multinomial draws."""
    mean = n / b
    counts = np.maximum(mean + np.sqrt(mean) * rng.standard_normal(size=(BLB_RESAMPLES, b)), 0.0)
    return counts / counts.sum(axis=1, keepdims=True)


def _little_bootstraps(values: np.ndarray, rng: np.random.Generator, confidence: float,
                       shape: Any) -> tuple[float, float]:
    """The bag of little bootstraps: each subset's replicates give the estimator's error distribution
    (replicates minus the subset's own estimate); the averaged error quantiles are put around the full
    sample's estimate."""
    n = len(values)
    b = int(n ** BLB_EXPONENT)
    lows, highs = [], []
    for _ in range(BLB_SUBSETS):
        subset = values[rng.choice(n, size=b, replace=False)]
        centre = shape(subset.mean())
        low, high = _percentiles(shape(_blb_weights(n, b, rng) @ subset) - centre, confidence)
        lows.append(low)
        highs.append(high)
    point = shape(values.mean())
    return float(point + np.mean(lows)), float(point + np.mean(highs))


def macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Macro-averaged F1 over the labels that occur in ``truth`` (label codes as integers)."""
    labels = np.unique(truth)
    scores = []
    for label in labels:
        tp = np.sum((truth == label) & (predicted == label))
        fp = np.sum((truth != label) & (predicted == label))
        fn = np.sum((truth == label) & (predicted != label))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def f1_interval(truth: list[str], predicted: list[str], rng: np.random.Generator, *,
                confidence: float = CONFIDENCE, resamples: int = RESAMPLES) -> Interval:
    """Macro-F1 with a bootstrap CI, resampling the cells of the confusion matrix."""
    n = len(truth)
    if n == 0:
        return EMPTY
    classes = sorted(set(truth))
    codes = {label: i for i, label in enumerate(classes)}
    other = len(classes)  # predictions that are no true class
    t = np.array([codes[x] for x in truth])
    p = np.array([codes.get(x, other) for x in predicted])
    k = other + 1
    cells = np.bincount(t * k + p, minlength=other * k).astype(np.float64)
    draws = rng.multinomial(n, cells / n, size=resamples).reshape(resamples, other, k)
    tp = draws[:, np.arange(other), np.arange(other)]
    row = draws.sum(axis=2)  # true counts
    column = draws[:, :, :other].sum(axis=1)  # predicted counts per true class
    present = row > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(tp > 0, 2 * tp / (row + column), 0.0)
    stats = (f1 * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)
    low, high = _percentiles(stats, confidence)
    return Interval(macro_f1(t, p), low, high, n)


@dataclass(frozen=True)
class Comparison:
    """A variant against the reference on the same examples: the difference (variant − reference), its
    CI, a p-value and the method that gave it."""

    difference: float
    low: float
    high: float
    p_value: float
    n: int
    method: str

    @property
    def significant(self) -> bool:
        """Whether the difference is significant at the 5 % level."""
        return self.p_value < 0.05

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"difference": self.difference, "low": self.low, "high": self.high, "p_value": self.p_value,
                "n": self.n, "method": self.method, "significant": self.significant}


def _paired_direct(a: np.ndarray, r: np.ndarray, rng: np.random.Generator, resamples: int,
                   shape: Any) -> np.ndarray:
    n = len(a)
    out = np.empty(resamples)
    chunk = max(1, 2_000_000 // n)
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        index = rng.integers(0, n, size=(size, n))
        out[start:start + size] = shape(a[index].mean(axis=1)) - shape(r[index].mean(axis=1))
    return out


def mcnemar_p(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c``."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    # the binomial tail P(X ≤ k), X ~ Binomial(n, 1/2), summed in log space: log C(n, i) built up by
    # cumulative sums of log((n − i) / (i + 1)), so large counts neither overflow nor loop in Python
    i = np.arange(k, dtype=np.float64)
    log_terms = np.concatenate([[0.0], np.cumsum(np.log(n - i) - np.log(i + 1))]) - n * math.log(2)
    top = log_terms.max()
    return float(min(1.0, 2 * math.exp(top) * np.exp(log_terms - top).sum()))


def compare_paired(variant: np.ndarray, reference: np.ndarray, rng: np.random.Generator, *,
                   transform: str = "identity", confidence: float = CONFIDENCE,
                   resamples: int = RESAMPLES) -> Comparison | None:
    """Compare two metrics measured on the same examples (aligned arrays; NaN where a value is missing)."""
    both = ~(np.isnan(variant) | np.isnan(reference))
    a, r = variant[both], reference[both]
    n = len(a)
    if n == 0:
        return None
    binary = np.isin(a, (0.0, 1.0)).all() and np.isin(r, (0.0, 1.0)).all() and transform == "identity"
    differences = a - r
    if binary:
        b, c = int(np.sum((a == 1) & (r == 0))), int(np.sum((a == 0) & (r == 1)))
        draws = rng.multinomial(n, np.array([b, c, n - b - c]) / n, size=resamples)
        stats = (draws[:, 0] - draws[:, 1]) / n
        low, high = _percentiles(stats, confidence)
        return Comparison(float(differences.mean()), low, high, mcnemar_p(b, c), n, "McNemar exact")
    shape = np.sqrt if transform == "sqrt" else (lambda x: x)
    point = float(shape(a.mean()) - shape(r.mean()))
    if transform == "identity" and len(np.unique(differences)) <= DISTINCT_LIMIT:
        stats_sets = [bootstrap_means(differences, rng, resamples)]  # exact, on the distinct differences
    elif n <= DIRECT_LIMIT:
        stats_sets = [_paired_direct(a, r, rng, resamples, shape)]
    else:  # bag of little bootstraps over pairs: each subset's error distribution, around the full estimate
        stats_sets = []
        b = int(n ** BLB_EXPONENT)
        for _ in range(BLB_SUBSETS):
            pick = rng.choice(n, size=b, replace=False)
            weights = _blb_weights(n, b, rng)
            centre = shape(a[pick].mean()) - shape(r[pick].mean())
            stats_sets.append(point + shape(weights @ a[pick]) - shape(weights @ r[pick]) - centre)
    bounds = [_percentiles(stats, confidence) for stats in stats_sets]
    low, high = float(np.mean([x[0] for x in bounds])), float(np.mean([x[1] for x in bounds]))
    p_value = float(np.mean([min(1.0, 2 * min(np.mean(stats <= 0), np.mean(stats >= 0))) for stats in stats_sets]))
    return Comparison(point, low, high, p_value, n, "paired bootstrap")


# ---- from sufficient statistics (what the report gets from SQL aggregations) -----------------------------------


def _shape(transform: str) -> Any:
    return np.sqrt if transform == "sqrt" else (lambda x: x)


def histogram_interval(values: np.ndarray, counts: np.ndarray, rng: np.random.Generator, *,
                       transform: str = "identity", confidence: float = CONFIDENCE,
                       resamples: int = RESAMPLES) -> Interval:
    """The exact bootstrap of a mean from the distinct ``values`` and how often each occurs."""
    counts = np.asarray(counts, dtype=np.float64)
    n = int(counts.sum())
    if n == 0:
        return EMPTY
    values = np.asarray(values, dtype=np.float64)
    shape = _shape(transform)
    draws = rng.multinomial(n, counts / n, size=resamples)
    low, high = _percentiles(shape(draws @ values / n), confidence)
    return Interval(float(shape(values @ counts / n)), low, high, n)


Weights = Any  # a callable (n, b) -> resampling weights, e.g. a cache over _blb_weights


def subsample_interval(subsets: list[np.ndarray], n: int, mean: float, rng: np.random.Generator, *,
                       transform: str = "identity", confidence: float = CONFIDENCE,
                       weights: Weights = None) -> Interval:
    """The bag of little bootstraps from ``subsets`` (disjoint random subsets of the ``n`` values, whose
    mean is ``mean``): each subset's error distribution for a size-``n`` sample, around the full mean."""
    shape = _shape(transform)
    if n == 0:
        return EMPTY
    lows, highs = [], []
    for subset in subsets:
        if len(subset) < 2:
            continue
        centre = shape(subset.mean())
        matrix = weights(n, len(subset)) if weights else _blb_weights(n, len(subset), rng)
        low, high = _percentiles(shape(matrix @ subset) - centre, confidence)
        lows.append(low)
        highs.append(high)
    point = float(shape(mean))
    if not lows:
        return Interval(point, None, None, n)
    return Interval(point, point + float(np.mean(lows)), point + float(np.mean(highs)), n)


def binary_comparison(b: int, c: int, n: int, rng: np.random.Generator, *, confidence: float = CONFIDENCE,
                      resamples: int = RESAMPLES) -> Comparison | None:
    """A 0/1 metric on ``n`` paired examples: ``b`` right only for the variant, ``c`` only for the reference."""
    if n == 0:
        return None
    draws = rng.multinomial(n, np.array([b, c, n - b - c]) / n, size=resamples)
    low, high = _percentiles((draws[:, 0] - draws[:, 1]) / n, confidence)
    return Comparison((b - c) / n, low, high, mcnemar_p(b, c), n, "McNemar exact")


def histogram_comparison(differences: np.ndarray, counts: np.ndarray, rng: np.random.Generator, *,
                         confidence: float = CONFIDENCE, resamples: int = RESAMPLES) -> Comparison | None:
    """A paired bootstrap of the mean difference from the distinct per-example differences and counts."""
    counts = np.asarray(counts, dtype=np.float64)
    n = int(counts.sum())
    if n == 0:
        return None
    differences = np.asarray(differences, dtype=np.float64)
    stats = rng.multinomial(n, counts / n, size=resamples) @ differences / n
    low, high = _percentiles(stats, confidence)
    p_value = min(1.0, 2 * min(float(np.mean(stats <= 0)), float(np.mean(stats >= 0))))
    return Comparison(float(differences @ counts / n), low, high, p_value, n, "paired bootstrap")


def subsample_comparison(variant_subsets: list[np.ndarray], reference_subsets: list[np.ndarray], n: int,
                         point: float, rng: np.random.Generator, *, transform: str = "identity",
                         confidence: float = CONFIDENCE, weights: Weights = None) -> Comparison | None:
    """A paired bag of little bootstraps: aligned subsets of both metrics on the same examples."""
    shape = _shape(transform)
    stats_sets = []
    for a, r in zip(variant_subsets, reference_subsets, strict=True):
        if len(a) < 2:
            continue
        matrix = weights(n, len(a)) if weights else _blb_weights(n, len(a), rng)
        centre = shape(a.mean()) - shape(r.mean())
        stats_sets.append(point + shape(matrix @ a) - shape(matrix @ r) - centre)
    if not stats_sets or n == 0:
        return None
    bounds = [_percentiles(stats, confidence) for stats in stats_sets]
    p_value = float(np.mean([min(1.0, 2 * min(np.mean(s <= 0), np.mean(s >= 0))) for s in stats_sets]))
    return Comparison(point, float(np.mean([b[0] for b in bounds])), float(np.mean([b[1] for b in bounds])),
                      p_value, n, "paired bootstrap")


def f1_from_cells(cells: np.ndarray, rng: np.random.Generator, *, confidence: float = CONFIDENCE,
                  resamples: int = RESAMPLES) -> Interval:
    """Macro-F1 with its bootstrap CI from a confusion matrix of counts: rows are the true classes, columns
    the same classes followed by one column for answers that are no class."""
    cells = np.asarray(cells, dtype=np.float64)
    classes = cells.shape[0]
    n = int(cells.sum())
    if n == 0:
        return EMPTY

    def score(matrix: np.ndarray) -> np.ndarray:
        tp = matrix[..., np.arange(classes), np.arange(classes)]
        row = matrix.sum(axis=-1)
        column = matrix[..., :, :classes].sum(axis=-2)
        present = row > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            f1 = np.where(tp > 0, 2 * tp / (row + column), 0.0)
        return (f1 * present).sum(axis=-1) / np.maximum(present.sum(axis=-1), 1)

    flat = cells.reshape(-1)
    draws = rng.multinomial(n, flat / n, size=resamples).reshape(resamples, *cells.shape)
    low, high = _percentiles(score(draws), confidence)
    return Interval(float(score(cells)), low, high, n)
