"""The primitives every interval and test of the report shares: the result types, the resampling of a sample
held as counts of its distinct values, and the rule that makes an interval and its test agree.

Which method each metric gets is decided in :mod:`ftplug.report.intervals` (one variant's metric) and
:mod:`ftplug.report.paired_tests` (two variants on the same examples); the report applies Holm's correction over
its comparisons (:mod:`ftplug.report.multiplicity`). docs/report.md explains the choices.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from ftplug.report import model

RESAMPLES = 2000
CONFIDENCE = 0.95
ALPHA = round(1 - CONFIDENCE, 12)  # 0.05, not 0.05000000000000004
DISTINCT_LIMIT = 1024  # at most this many distinct values: the bootstrap is drawn from their counts
DIRECT_LIMIT = 20_000  # at most this many values: bootstrapped; beyond, the normal theory is exact enough
BLB_SUBSETS, BLB_RESAMPLES, BLB_EXPONENT = 5, 100, 0.6
SEED = 20_261_124


def seeded(*key: object) -> np.random.Generator:
    """A generator seeded by ``key`` (e.g. a variant's name and a metric), so that every interval and test
    draws the same resamples whatever else the report computes and in whichever order the variants come."""
    return np.random.default_rng([SEED, zlib.crc32("\x1f".join(map(str, key)).encode())])


@dataclass(frozen=True)
class Interval:
    """A point estimate with its confidence interval and the method that gave it."""

    value: float | None
    low: float | None
    high: float | None
    n: int
    method: str = ""

    def as_dict(self) -> model.Interval:
        """JSON-ready."""
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n, "method": self.method}


EMPTY = Interval(None, None, None, 0)


@dataclass(frozen=True)
class Comparison:
    """A variant against another on the same examples: the difference (variant − other), its CI, the
    two-sided p-value of the test the CI inverts (so that the CI excludes 0 exactly when p < 5 %), the
    standard error behind both, and how many examples (and clusters) the comparison used.

    ``p_floor`` is set when no resample was as extreme as the observation: p is then only known to be
    below 1/B, the value held in ``p_value``."""

    difference: float
    low: float | None
    high: float | None
    p_value: float
    n: int
    method: str
    se: float | None = None
    p_floor: bool = False
    clusters: int | None = None

    @property
    def significant(self) -> bool:
        """Whether the difference is significant at the 5 % level, before any correction for many comparisons."""
        return self.p_value < ALPHA

    def as_dict(self) -> model.PairedTest:
        """JSON-ready."""
        return {"difference": self.difference, "low": self.low, "high": self.high, "p_value": self.p_value,
                "p_floor": self.p_floor, "n": self.n, "clusters": self.clusters, "method": self.method,
                "se": self.se, "significant_unadjusted": self.significant, "significant": self.significant}


def tail_count(resamples: int, confidence: float = CONFIDENCE) -> int:
    """How many replicates each tail of an interval leaves out: the largest m with 2m/B below 1 − confidence.
    Taking the (m+1)-th smallest and largest replicates as the interval's ends makes it exclude a value
    exactly when the two-sided p-value :func:`replicate_p` of that value is below 1 − confidence."""
    return max(0, math.ceil(round((1 - confidence) * resamples / 2, 9)) - 1)  # 1 − 0.95 is 0.05000000000000004


def order_quantiles(replicates: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The (m+1)-th smallest and largest of ``replicates`` (m = :func:`tail_count`)."""
    ordered = np.sort(replicates)
    m = tail_count(len(ordered), confidence)
    return float(ordered[m]), float(ordered[len(ordered) - m - 1])


def replicate_p(replicates: np.ndarray, observed: float) -> tuple[float, bool]:
    """The two-sided p-value of ``observed`` against the replicates of its null distribution: twice the
    smaller share at or beyond it on either side, at most 1; when none is, ``(1/B, True)`` (p < 1/B)."""
    tail = min(int(np.count_nonzero(replicates >= observed)), int(np.count_nonzero(replicates <= observed)))
    if tail == 0:
        return 1 / len(replicates), True
    return min(1.0, 2 * tail / len(replicates)), False


# ---- resampling a sample held as distinct values and counts -------------------------------------------------


def weighted_moments(values: np.ndarray, counts: np.ndarray) -> tuple[int, float, float | None]:
    """Size, mean and standard error of the mean of the sample holding ``counts[i]`` copies of ``values[i]``
    (``None`` as the standard error of fewer than two values; the mean of none is NaN)."""
    values = np.asarray(values, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    n = int(counts.sum())
    if n == 0:
        return 0, math.nan, None
    mean = float(values @ counts / n)
    if n < 2:
        return n, mean, None
    return n, mean, math.sqrt(float(((values - mean) ** 2) @ counts / (n - 1)) / n)

DIRECT_PER_VALUE = 16  # draw the sample itself while it has at most this many values per distinct value
_BLOCK = 256  # resamples drawn at once by the direct method (memory: block × n indices)


def resampled_moments(values: np.ndarray, counts: np.ndarray, rng: np.random.Generator,
                      resamples: int) -> tuple[np.ndarray, np.ndarray]:
    """The means and sample variances (n − 1 divisor) of ``resamples`` bootstrap resamples of the sample in
    which ``values[i]`` occurs ``counts[i]`` times — the same exact bootstrap distribution whichever way it
    is drawn: a binomial for two values, the resampled values themselves while the sample is small next to
    its distinct values (a multinomial costs about one binomial draw per distinct value and resample), the
    multinomial counts otherwise. Values are centred first, so that variances keep their digits."""
    values = np.asarray(values, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    n = int(counts.sum())
    centre = float(values @ counts / n)
    centred = values - centre
    if len(values) == 1:
        return np.full(resamples, centre), np.zeros(resamples)
    if len(values) == 2:
        second = rng.binomial(n, counts[1] / n, size=resamples).astype(np.float64)
        tallies = np.stack([n - second, second], axis=1)
    elif n <= DIRECT_PER_VALUE * len(values):
        sample = np.repeat(centred, counts.astype(np.int64))
        means, variances = np.empty(resamples), np.empty(resamples)
        for first in range(0, resamples, _BLOCK):
            size = min(_BLOCK, resamples - first)
            drawn = sample[rng.integers(0, n, size=(size, n), dtype=np.int32)]
            means[first:first + size] = drawn.mean(axis=1)
            variances[first:first + size] = drawn.var(axis=1, ddof=1) if n > 1 else 0.0
        return centre + means, variances
    else:
        tallies = rng.multinomial(n, counts / n, size=resamples).astype(np.float64)
    sums, squares = tallies @ centred, tallies @ (centred * centred)
    variances = np.maximum(squares - sums * sums / n, 0.0) / max(n - 1, 1)
    return centre + sums / n, variances


def _blb_weights(n: int, b: int, rng: np.random.Generator) -> np.ndarray:
    """Weights of a size-``n`` resample from ``b`` points, each row summing to 1: the count of each point
    is Poisson(n/b) (the Poisson bootstrap), drawn through its normal approximation, exact enough for
    n/b ≥ 20 and several times cheaper than Poisson or multinomial draws."""
    mean = n / b
    counts = np.maximum(mean + np.sqrt(mean) * rng.standard_normal(size=(BLB_RESAMPLES, b)), 0.0)
    return counts / counts.sum(axis=1, keepdims=True)


def disjoint_subsets(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Index sets of the bag of little bootstraps: ``BLB_SUBSETS`` disjoint random subsets of size n^BLB_EXPONENT."""
    b = int(n ** BLB_EXPONENT)
    picked = rng.permutation(n)[: BLB_SUBSETS * b]
    return [picked[k * b:(k + 1) * b] for k in range(BLB_SUBSETS)]


# ---- macro-F1 -----------------------------------------------------------------------------------------------


def confusion_cells(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Counts by (true class, answered class), with one last column for answers that are no true class
    (the true classes are those occurring in ``truth``)."""
    classes = np.unique(truth)
    index = {label: i for i, label in enumerate(classes.tolist())}
    other = len(classes)
    t = np.array([index[x] for x in truth.tolist()], dtype=np.int64)
    p = np.array([index.get(x, other) for x in predicted.tolist()], dtype=np.int64)
    return np.bincount(t * (other + 1) + p, minlength=other * (other + 1)).reshape(other, other + 1).astype(float)


def macro_f1_of(matrix: np.ndarray) -> np.ndarray:
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
    return float(macro_f1_of(confusion_cells(np.asarray(truth), np.asarray(predicted)))) if len(truth) else 0.0
