"""Two variants compared on the same examples: the difference (variant − other), an interval, and the p-value
of the test the interval inverts — so that a 95 % interval excludes 0 exactly when p < 0.05.

- 0/1 metric: McNemar's exact test, with the exact conditional interval (Clopper–Pearson on the share of
  the discordant pairs the variant won, scaled by the discordant pairs' share of all pairs).
- Other means: the paired studentised bootstrap (bootstrap-t) up to ``DIRECT_LIMIT`` pairs, the paired t
  test beyond. RMSE: the paired t test on the delta method's influence values.
- With clusters: the paired t test on the cluster-robust standard error, C − 1 degrees of freedom
  (Miller, 2024, "Adding Error Bars to Evals"), for every kind of metric.
- Macro-F1: the paired percentile bootstrap over examples (or clusters), both variants' confusion matrices
  drawn from the same resample.
"""

from __future__ import annotations

import math

import numpy as np

from ftplug.report.intervals import clopper_pearson, clustered_se, studentised
from ftplug.report.statistics import (
    ALPHA,
    CONFIDENCE,
    DIRECT_LIMIT,
    DISTINCT_LIMIT,
    RESAMPLES,
    Comparison,
    macro_f1_of,
    order_quantiles,
    replicate_p,
    resampled_moments,
    weighted_moments,
)


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


def binary_comparison(b: int, c: int, n: int, *, confidence: float = CONFIDENCE) -> Comparison | None:
    """A 0/1 metric on ``n`` paired examples: ``b`` right only for the variant, ``c`` only for the other.

    Given the d = b + c discordant pairs, b is Binomial(d, θ) and the difference is (2θ − 1)·d/n; the
    interval maps θ's Clopper–Pearson interval, which excludes ½ exactly when the exact test rejects.
    With no discordant pair the difference can still be as large as the discordance rate's upper bound."""
    if n == 0:
        return None
    d = b + c
    p = mcnemar_p(b, c)
    if d == 0:
        bound = clopper_pearson(0, n, confidence)[1]
        return Comparison(0.0, -bound, bound, p, n, "McNemar exact", se=math.sqrt(bound / n))
    low, high = clopper_pearson(b, d, confidence)
    least, most = clopper_pearson(d, n, confidence)  # the discordance rate

    # (2θ − 1)·π over both intervals: the lowest and highest the difference can be; its sign is θ's alone
    lowest, highest = 2 * low - 1, 2 * high - 1
    return Comparison((b - c) / n, lowest * (most if lowest < 0 else least),
                      highest * (most if highest > 0 else least), p, n, "McNemar exact", se=math.sqrt(d) / n)


def paired_t(differences: np.ndarray, codes: np.ndarray | None = None, *, point: float | None = None,
             method: str = "paired t", confidence: float = CONFIDENCE) -> Comparison | None:
    """The paired t test of the mean of ``differences`` (per example, or the delta method's influence values
    around ``point``), on the cluster-robust standard error when ``codes`` are given."""
    from scipy.stats import t

    n = len(differences)
    if n == 0:
        return None
    mean = float(differences.mean()) if point is None else point
    units = codes if codes is not None else np.arange(n)
    clusters = len(np.unique(units))
    se = clustered_se(differences, units)
    if codes is not None and clusters < n:
        method = f"{method}, {clusters} clusters"
    if se is None:
        return Comparison(mean, None, None, 1.0, n, method, clusters=clusters)
    if se == 0:
        return _constant(mean, n, method, clusters if codes is not None else None)
    df = clusters - 1
    half = float(t.ppf(1 - (1 - confidence) / 2, df)) * se
    p = float(2 * t.sf(abs(mean / se), df))
    return Comparison(mean, mean - half, mean + half, p, n, method, se=se,
                      clusters=clusters if codes is not None else None)


def _constant(difference: float, n: int, method: str, clusters: int | None) -> Comparison:
    """Every difference the same: the sign test of n equal signs, with the interval that agrees with it."""
    if difference == 0:
        return Comparison(0.0, 0.0, 0.0, 1.0, n, method, se=0.0, clusters=clusters)
    p = min(1.0, 2 * 0.5 ** (clusters or n))
    if p < ALPHA:
        return Comparison(difference, difference, difference, p, n, method + " (all differences equal: sign test)",
                          se=0.0, clusters=clusters)
    return Comparison(difference, min(0.0, difference), max(0.0, difference), p, n,
                      method + " (all differences equal: sign test)", se=0.0, clusters=clusters)


def bootstrap_t_comparison(differences: np.ndarray, counts: np.ndarray, rng: np.random.Generator, *,
                           confidence: float = CONFIDENCE, resamples: int = RESAMPLES) -> Comparison | None:
    """The paired studentised bootstrap of the mean difference, from the distinct per-example differences and
    their counts: t* = (m* − m) / se* is the null distribution of m / se, which gives p; the interval is
    [m − t*₉₇.₅ · se, m − t*₂.₅ · se] from the same replicates."""
    n, mean, se = weighted_moments(differences, counts)
    if n == 0:
        return None
    if se is None:
        return Comparison(mean, None, None, 1.0, n, "paired bootstrap-t")
    if se == 0:
        return _constant(mean, n, "paired bootstrap-t", None)
    means, variances = resampled_moments(differences, counts, rng, resamples)
    replicates = studentised(means, variances, mean, n)
    lower, upper = order_quantiles(replicates, confidence)
    p, floor = replicate_p(replicates, mean / se)
    return Comparison(mean, mean - upper * se, mean - lower * se, p, n, "paired bootstrap-t", se=se, p_floor=floor)


def compare_paired(variant: np.ndarray, other: np.ndarray, rng: np.random.Generator, *,
                   codes: np.ndarray | None = None, transform: str = "identity", confidence: float = CONFIDENCE,
                   resamples: int = RESAMPLES) -> Comparison | None:
    """Compare a metric measured on the same examples (aligned arrays; NaN where a value is missing; cluster
    ``codes`` aligned too): McNemar for 0/1 values without clusters, clustered paired t with them, the paired
    bootstrap-t for other means up to ``DIRECT_LIMIT`` pairs and the paired t beyond; RMSE (``"sqrt"``) by
    the delta method."""
    both = ~(np.isnan(variant) | np.isnan(other))
    a, r = variant[both], other[both]
    units = None if codes is None else np.asarray(codes)[both]
    n = len(a)
    if n == 0:
        return None
    if transform == "sqrt":
        ma, mr = float(a.mean()), float(r.mean())
        if ma <= 0 or mr <= 0:
            return paired_t(np.sqrt(np.maximum(a, 0)) - np.sqrt(np.maximum(r, 0)), units)
        influence = a / (2 * math.sqrt(ma)) - r / (2 * math.sqrt(mr))
        return paired_t(influence, units, point=math.sqrt(ma) - math.sqrt(mr), method="paired t (delta method)")
    if units is not None:
        return paired_t(a - r, units, method="paired t")
    if np.isin(a, (0.0, 1.0)).all() and np.isin(r, (0.0, 1.0)).all():
        return binary_comparison(int(np.sum((a == 1) & (r == 0))), int(np.sum((a == 0) & (r == 1))), n,
                                 confidence=confidence)
    if n > DIRECT_LIMIT:
        return paired_t(a - r)
    counts: np.ndarray  # how often each distinct difference occurs, or one per difference
    distinct, counts = np.unique(a - r, return_counts=True)
    if len(distinct) > DISTINCT_LIMIT:
        distinct, counts = a - r, np.ones(n)
    return bootstrap_t_comparison(distinct, counts, rng, confidence=confidence, resamples=resamples)


def f1_comparison(truth: np.ndarray, variant: np.ndarray, other: np.ndarray, classes: int,
                  rng: np.random.Generator, *, codes: np.ndarray | None = None, confidence: float = CONFIDENCE,
                  resamples: int = RESAMPLES) -> Comparison | None:
    """Macro-F1 of two variants on the same examples: ``truth`` holds each example's class (0 … classes − 1),
    ``variant`` and ``other`` each one's answered class (``classes`` for an answer that is no class). Each
    resample of examples (or of clusters, with ``codes``) gives both confusion matrices, hence the
    difference; its percentile interval and the share of replicates beyond 0 give the interval and p."""
    n = len(truth)
    if n == 0:
        return None
    width = classes + 1
    cell = (truth * width + variant) * width + other
    size = classes * width * width
    point = _f1_pair(np.bincount(cell, minlength=size).astype(np.float64)[None, :], classes)[0]
    if codes is not None and len(np.unique(codes)) > 1:
        _, compact = np.unique(codes, return_inverse=True)
        clusters = int(compact.max()) + 1
        per_cluster = np.zeros((clusters, size))
        np.add.at(per_cluster, (compact, cell), 1.0)
        weights = rng.multinomial(clusters, np.full(clusters, 1 / clusters), size=resamples).astype(np.float64)
        replicates = _f1_pair(weights @ per_cluster, classes)
        method, units = f"paired percentile bootstrap, {clusters} clusters", clusters
    else:
        counts = np.bincount(cell, minlength=size).astype(np.float64)
        replicates = np.concatenate([_f1_pair(rng.multinomial(n, counts / n, size=block).astype(np.float64), classes)
                                     for block in _blocks(resamples, max(1, 4_000_000 // size))])
        method, units = "paired percentile bootstrap", None
    low, high = order_quantiles(replicates, confidence)
    p, floor = replicate_p(replicates, 0.0)
    return Comparison(point, low, high, p, n, method, se=float(replicates.std(ddof=1)), p_floor=floor,
                      clusters=units)


def _f1_pair(cells: np.ndarray, classes: int) -> np.ndarray:
    """Macro-F1 of the variant minus the other's, for rows of (truth, variant's answer, other's answer) counts."""
    width = classes + 1
    cube = cells.reshape(len(cells), classes, width, width)
    return macro_f1_of(cube.sum(axis=3)) - macro_f1_of(cube.sum(axis=2))


def _blocks(total: int, size: int) -> list[int]:
    return [min(size, total - first) for first in range(0, total, size)]
