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
    """The percentile interval of the replicates ``stats`` (resamples, or resamples × subsets: then the
    interval of each subset, averaged)."""
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail], axis=0).reshape(2, -1).mean(axis=1)
    return float(low), float(high)


def _resampled(values: list[np.ndarray], rng: np.random.Generator, resamples: int, shape: Any) -> np.ndarray:
    """Direct bootstrap replicates: ``shape`` of each array's mean over the same resampled indices, minus
    one another when two arrays are given (paired). In chunks, so memory stays bounded."""
    n = len(values[0])
    out = np.empty(resamples)
    chunk = max(1, 2_000_000 // n)
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        index = rng.integers(0, n, size=(size, n))
        means = [shape(v[index].mean(axis=1)) for v in values]
        out[start:start + size] = means[0] if len(means) == 1 else means[0] - means[1]
    return out


def _disjoint_subsets(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Index sets of the bag of little bootstraps: ``BLB_SUBSETS`` disjoint random subsets of size n^BLB_EXPONENT."""
    b = int(n ** BLB_EXPONENT)
    picked = rng.permutation(n)[: BLB_SUBSETS * b]
    return [picked[k * b:(k + 1) * b] for k in range(BLB_SUBSETS)]


def mean_interval(values: np.ndarray, rng: np.random.Generator, *, transform: str = "identity",
                  confidence: float = CONFIDENCE, resamples: int = RESAMPLES) -> Interval:
    """The mean of ``values`` (or its square root, ``transform="sqrt"``, for RMSE) with a bootstrap CI:
    exact on the distinct values when there are few, direct up to ``DIRECT_LIMIT`` values, and the bag of
    little bootstraps beyond."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    n = len(values)
    if n == 0:
        return EMPTY
    distinct, counts = np.unique(values, return_counts=True)
    if len(distinct) <= DISTINCT_LIMIT:
        return histogram_interval(distinct, counts, rng, transform=transform, confidence=confidence,
                                  resamples=resamples)
    if n > DIRECT_LIMIT:
        return subsample_interval([values[pick] for pick in _disjoint_subsets(n, rng)], n, float(values.mean()),
                                  rng, transform=transform, confidence=confidence)
    shape = _shape(transform)
    low, high = _percentiles(_resampled([values], rng, resamples, shape), confidence)
    return Interval(float(shape(values.mean())), low, high, n)


def _blb_weights(n: int, b: int, rng: np.random.Generator) -> np.ndarray:
    """Weights of a size-``n`` resample from ``b`` points, each row summing to 1: the count of each point
    is Poisson(n/b) (the Poisson bootstrap), drawn through its normal approximation, exact enough for
    n/b ≥ 20 and several times cheaper than Poisson or multinomial draws."""
    mean = n / b
    counts = np.maximum(mean + np.sqrt(mean) * rng.standard_normal(size=(BLB_RESAMPLES, b)), 0.0)
    return counts / counts.sum(axis=1, keepdims=True)


def _confusion_cells(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Counts by (true class, answered class), with one last column for answers that are no true class
    (label codes as integers; the true classes are those occurring in ``truth``)."""
    classes = np.unique(truth)
    index = {label: i for i, label in enumerate(classes.tolist())}
    other = len(classes)
    t = np.array([index[x] for x in truth.tolist()], dtype=np.int64)
    p = np.array([index.get(x, other) for x in predicted.tolist()], dtype=np.int64)
    return np.bincount(t * (other + 1) + p, minlength=other * (other + 1)).reshape(other, other + 1).astype(float)


def _macro_f1_of(matrix: np.ndarray) -> np.ndarray:
    """Macro-F1 of confusion matrices (the last two axes: true classes × answered classes + no class)."""
    classes = matrix.shape[-2]
    tp = matrix[..., np.arange(classes), np.arange(classes)]
    row = matrix.sum(axis=-1)
    column = matrix[..., :, :classes].sum(axis=-2)
    present = row > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(tp > 0, 2 * tp / (row + column), 0.0)
    return (f1 * present).sum(axis=-1) / np.maximum(present.sum(axis=-1), 1)


def macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Macro-averaged F1 over the labels that occur in ``truth``."""
    return float(_macro_f1_of(_confusion_cells(np.asarray(truth), np.asarray(predicted)))) if len(truth) else 0.0


def f1_interval(truth: list[str], predicted: list[str], rng: np.random.Generator, *,
                confidence: float = CONFIDENCE, resamples: int = RESAMPLES) -> Interval:
    """Macro-F1 with a bootstrap CI, resampling the cells of the confusion matrix."""
    if not truth:
        return EMPTY
    cells = _confusion_cells(np.array(truth, dtype=object), np.array(predicted, dtype=object))
    return f1_from_cells(cells, rng, confidence=confidence, resamples=resamples)


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


def mcnemar_p(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c``."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    # the binomial tail P(X ≤ k), X ~ Binomial(n, 1/2), summed in log space from log C(n, first) onwards by
    # cumulative sums of log((n − i) / (i + 1)), so large counts neither overflow nor loop in Python. The
    # terms fall at least as fast as a normal density of sd √n / 2 below k: those more than 20 sd below are
    # under e^-200 of the largest and left out.
    first = max(0, k - math.ceil(10 * math.sqrt(n)) - 10)
    i = np.arange(first, k, dtype=np.float64)
    start = math.lgamma(n + 1) - math.lgamma(first + 1) - math.lgamma(n - first + 1)
    log_terms = start + np.concatenate([[0.0], np.cumsum(np.log(n - i) - np.log(i + 1))]) - n * math.log(2)
    top = log_terms.max()
    return float(min(1.0, 2 * math.exp(top) * np.exp(log_terms - top).sum()))


def compare_paired(variant: np.ndarray, reference: np.ndarray, rng: np.random.Generator, *,
                   transform: str = "identity", confidence: float = CONFIDENCE,
                   resamples: int = RESAMPLES) -> Comparison | None:
    """Compare two metrics measured on the same examples (aligned arrays; NaN where a value is missing):
    McNemar for 0/1 values, else a paired bootstrap — exact on few distinct differences, direct up to
    ``DIRECT_LIMIT`` pairs, the bag of little bootstraps beyond."""
    both = ~(np.isnan(variant) | np.isnan(reference))
    a, r = variant[both], reference[both]
    n = len(a)
    if n == 0:
        return None
    if transform == "identity" and np.isin(a, (0.0, 1.0)).all() and np.isin(r, (0.0, 1.0)).all():
        b, c = int(np.sum((a == 1) & (r == 0))), int(np.sum((a == 0) & (r == 1)))
        return binary_comparison(b, c, n, rng, confidence=confidence, resamples=resamples)
    differences = a - r
    distinct, counts = np.unique(differences, return_counts=True)
    if transform == "identity" and len(distinct) <= DISTINCT_LIMIT:
        return histogram_comparison(distinct, counts, rng, confidence=confidence, resamples=resamples)
    shape = _shape(transform)
    point = float(shape(a.mean()) - shape(r.mean()))
    if n > DIRECT_LIMIT:
        subsets = _disjoint_subsets(n, rng)
        return subsample_comparison([a[pick] for pick in subsets], [r[pick] for pick in subsets], n, point, rng,
                                    transform=transform, confidence=confidence)
    stats = _resampled([a, r], rng, resamples, shape)
    low, high = _percentiles(stats, confidence)
    return Comparison(point, low, high, _two_sided_p(stats), n, "paired bootstrap")


def _two_sided_p(stats: np.ndarray) -> float:
    """Twice the smaller share of bootstrap replicates on either side of zero, at most 1 (for resamples ×
    subsets, of each subset, averaged)."""
    return float(np.mean(np.minimum(1.0, 2 * np.minimum((stats <= 0).mean(axis=0), (stats >= 0).mean(axis=0)))))


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
    low, high = _percentiles(shape(resampled_means(values, counts, rng, resamples)), confidence)
    return Interval(float(shape(values @ counts / n)), low, high, n)


DIRECT_PER_VALUE = 16  # draw the sample itself while it has at most this many values per distinct value
_BLOCK = 256  # resamples drawn at once by the direct method (memory: block × n indices)


def resampled_means(values: np.ndarray, counts: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """The means of ``resamples`` bootstrap resamples of the sample in which ``values[i]`` occurs ``counts[i]``
    times — the same exact bootstrap distribution whichever way it is drawn: a binomial for two values, the
    resampled values themselves while the sample is small next to its distinct values (a multinomial costs
    about one binomial draw per distinct value and resample: 59 ms against 8 ms for 1,000 values of 500 kinds,
    measured), the multinomial counts otherwise."""
    counts = np.asarray(counts, dtype=np.float64)
    n = int(counts.sum())
    if len(values) == 2:
        second = rng.binomial(n, counts[1] / n, size=resamples)
        return (values[0] * (n - second) + values[1] * second) / n
    if n <= DIRECT_PER_VALUE * len(values):
        sample = np.repeat(values, counts.astype(np.int64))
        means = np.empty(resamples)
        for first in range(0, resamples, _BLOCK):
            size = min(_BLOCK, resamples - first)
            means[first:first + size] = sample[rng.integers(0, n, size=(size, n), dtype=np.int32)].mean(axis=1)
        return means
    return rng.multinomial(n, counts / n, size=resamples) @ values / n


Weights = Any  # a callable (n, b) -> resampling weights, e.g. a cache over _blb_weights


def subsample_interval(subsets: list[np.ndarray], n: int, mean: float, rng: np.random.Generator, *,
                       transform: str = "identity", confidence: float = CONFIDENCE,
                       weights: Weights = None) -> Interval:
    """The bag of little bootstraps from ``subsets`` (disjoint random subsets of the ``n`` values, of one
    size, whose mean is ``mean``): each subset's error distribution for a size-``n`` sample, around the full
    mean."""
    shape = _shape(transform)
    if n == 0:
        return EMPTY
    point = float(shape(mean))
    stacked = _stack(subsets)
    if stacked is None:
        return Interval(point, None, None, n)
    matrix = weights(n, stacked.shape[1]) if weights else _blb_weights(n, stacked.shape[1], rng)
    errors = shape(matrix @ stacked.T) - shape(stacked.mean(axis=1))  # resamples × subsets
    low, high = _percentiles(errors, confidence)
    return Interval(point, point + low, point + high, n)


def _stack(subsets: list[np.ndarray]) -> np.ndarray | None:
    """The subsets as rows of one array (those of fewer than two values left out), or ``None``."""
    usable = [subset for subset in subsets if len(subset) >= 2]
    if not usable:
        return None
    size = min(len(subset) for subset in usable)
    return np.vstack([subset[:size] for subset in usable])


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
    stats = resampled_means(differences, counts, rng, resamples)
    low, high = _percentiles(stats, confidence)
    return Comparison(float(differences @ counts / n), low, high, _two_sided_p(stats), n, "paired bootstrap")


def subsample_comparison(variant_subsets: list[np.ndarray], reference_subsets: list[np.ndarray], n: int,
                         point: float, rng: np.random.Generator, *, transform: str = "identity",
                         confidence: float = CONFIDENCE, weights: Weights = None) -> Comparison | None:
    """A paired bag of little bootstraps: aligned subsets (of one size) of both metrics on the same examples."""
    shape = _shape(transform)
    a, r = _stack(variant_subsets), _stack(reference_subsets)
    if a is None or r is None or n == 0:
        return None
    matrix = weights(n, a.shape[1]) if weights else _blb_weights(n, a.shape[1], rng)
    centre = shape(a.mean(axis=1)) - shape(r.mean(axis=1))
    stats = point + shape(matrix @ a.T) - shape(matrix @ r.T) - centre  # resamples × subsets
    low, high = _percentiles(stats, confidence)
    return Comparison(point, low, high, _two_sided_p(stats), n, "paired bootstrap")


def f1_from_cells(cells: np.ndarray, rng: np.random.Generator, *, confidence: float = CONFIDENCE,
                  resamples: int = RESAMPLES) -> Interval:
    """Macro-F1 with its bootstrap CI from a confusion matrix of counts: rows are the true classes, columns
    the same classes followed by one column for answers that are no class."""
    cells = np.asarray(cells, dtype=np.float64)
    n = int(cells.sum())
    if n == 0:
        return EMPTY
    draws = rng.multinomial(n, cells.reshape(-1) / n, size=resamples).reshape(resamples, *cells.shape)
    low, high = _percentiles(_macro_f1_of(draws), confidence)
    return Interval(float(_macro_f1_of(cells)), low, high, n)
