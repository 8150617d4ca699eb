"""One variant's metric with a confidence interval that holds its level at small n and extreme rates.

- A 0/1 metric (a rate): the Clopper–Pearson interval, exact — never narrower than 95 % coverage, and not
  of zero width at 0/n or n/n. With clusters, Korn & Graubard's version: the same beta quantiles at the
  effective sample size the clustering leaves.
- A mean of other values: the bootstrap-t (studentised) interval up to ``DIRECT_LIMIT`` values — second-order
  accurate, so skewed metrics at small n are covered at close to their level, where the percentile bootstrap
  is too narrow — and the t interval beyond (exact enough there). With clusters: the t interval on the
  cluster-robust standard error, with C − 1 degrees of freedom.
- RMSE: the interval of the mean squared error, square-rooted (a monotone map keeps the coverage).
- Macro-F1: the percentile bootstrap over the confusion matrix's cells (or over clusters).
"""

from __future__ import annotations

import math

import numpy as np

from ftplug.report.statistics import (
    CONFIDENCE,
    DIRECT_LIMIT,
    DISTINCT_LIMIT,
    EMPTY,
    RESAMPLES,
    Interval,
    macro_f1_of,
    order_quantiles,
    resampled_moments,
    weighted_moments,
)


def clopper_pearson(successes: float, n: float, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The exact binomial interval of a rate (fractional counts allowed, for an effective sample size)."""
    from scipy.stats import beta

    tail = (1 - confidence) / 2
    low = 0.0 if successes <= 0 else float(beta.ppf(tail, successes, n - successes + 1))
    high = 1.0 if successes >= n else float(beta.ppf(1 - tail, successes + 1, n - successes))
    return low, high


def proportion_interval(successes: int, n: int, *, codes: np.ndarray | None = None,
                        values: np.ndarray | None = None, confidence: float = CONFIDENCE) -> Interval:
    """A rate ``successes / n`` with its Clopper–Pearson interval; with cluster ``codes`` (and the 0/1
    ``values`` they label), Korn & Graubard's: the design effect of the clustering shrinks n to an effective
    size (never above n), itself adjusted for the clusters' degrees of freedom."""
    if n == 0:
        return EMPTY
    rate = successes / n
    clusters = len(np.unique(codes)) if codes is not None else n
    if codes is None or values is None or clusters >= n or rate in (0.0, 1.0):
        low, high = clopper_pearson(successes, n, confidence)
        return Interval(rate, low, high, n, "Clopper–Pearson" if codes is None or clusters >= n
                        else f"Clopper–Pearson, {clusters} clusters")
    from scipy.stats import t

    se = clustered_se(values, codes)
    design_effect = max(1.0, se * se / (rate * (1 - rate) / n)) if se is not None else 1.0
    effective = n / design_effect
    if clusters > 1:
        level = 1 - (1 - confidence) / 2
        effective *= (t.ppf(level, n - 1) / t.ppf(level, clusters - 1)) ** 2
    effective = min(n, effective)
    low, high = clopper_pearson(rate * effective, effective, confidence)
    return Interval(rate, low, high, n, f"Korn–Graubard, {clusters} clusters")


def clustered_se(values: np.ndarray, codes: np.ndarray) -> float | None:
    """The cluster-robust standard error of the mean of ``values`` (``codes``: each value's cluster), with
    the small-sample factor C / (C − 1); one cluster per value gives the usual s / √n. ``None`` below two
    clusters."""
    n = len(values)
    _, compact = np.unique(codes, return_inverse=True)
    clusters = int(compact.max()) + 1 if n else 0
    if clusters < 2:
        return None
    totals = np.bincount(compact, weights=values - values.mean(), minlength=clusters)
    return float(math.sqrt(clusters / (clusters - 1) * float(totals @ totals)) / n)


def t_interval(values: np.ndarray, codes: np.ndarray | None = None, *, transform: str = "identity",
               confidence: float = CONFIDENCE) -> Interval:
    """The mean with the t interval on its (cluster-robust, when ``codes`` are given) standard error."""
    from scipy.stats import t

    n = len(values)
    if n == 0:
        return EMPTY
    mean = float(values.mean())
    units = codes if codes is not None else np.arange(n)
    se = clustered_se(values, units)
    clusters = len(np.unique(units))
    method = f"t, {clusters} clusters" if codes is not None and clusters < n else "t"
    if se is None:
        return _shaped(Interval(mean, None, None, n, method), transform)
    half = float(t.ppf(1 - (1 - confidence) / 2, clusters - 1)) * se
    return _shaped(Interval(mean, mean - half, mean + half, n, method), transform)


def bootstrap_t_interval(values: np.ndarray, counts: np.ndarray, rng: np.random.Generator, *,
                         transform: str = "identity", confidence: float = CONFIDENCE,
                         resamples: int = RESAMPLES) -> Interval:
    """The studentised bootstrap interval of a mean, from the distinct ``values`` and their ``counts``:
    [m − t*₉₇.₅ · se, m − t*₂.₅ · se] with t* = (m* − m) / se* over the resamples."""
    n, mean, se = weighted_moments(values, counts)
    if n == 0:
        return EMPTY
    if se is None:
        return _shaped(Interval(mean, None, None, n, "bootstrap-t"), transform)
    if se == 0:
        return _shaped(Interval(mean, mean, mean, n, "bootstrap-t"), transform)
    means, variances = resampled_moments(values, counts, rng, resamples)
    lower, upper = order_quantiles(studentised(means, variances, mean, n), confidence)
    return _shaped(Interval(mean, mean - upper * se, mean - lower * se, n, "bootstrap-t"), transform)


def studentised(means: np.ndarray, variances: np.ndarray, centre: float, n: int) -> np.ndarray:
    """(m* − centre) / se* of each resample; a resample of one repeated value has no spread: 0 when it sits
    on the centre, ±∞ otherwise (it is as far as can be)."""
    spread = np.sqrt(variances / n)
    shift = means - centre
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = shift / spread
        return np.where(spread > 0, ratio, np.where(shift == 0, 0.0, np.sign(shift) * np.inf))


def mean_interval(values: np.ndarray, rng: np.random.Generator, *, codes: np.ndarray | None = None,
                  transform: str = "identity", confidence: float = CONFIDENCE,
                  resamples: int = RESAMPLES) -> Interval:
    """The mean of ``values`` (NaN left out; ``transform="sqrt"``: its square root, for RMSE) with its
    interval: clustered t with ``codes``, bootstrap-t up to ``DIRECT_LIMIT`` values, t beyond."""
    values = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(values)
    values = values[keep]
    if codes is not None:
        return t_interval(values, np.asarray(codes)[keep], transform=transform, confidence=confidence)
    if len(values) > DIRECT_LIMIT:
        return t_interval(values, transform=transform, confidence=confidence)
    counts: np.ndarray  # how often each distinct value occurs, or one per value
    distinct, counts = np.unique(values, return_counts=True)
    if len(distinct) > DISTINCT_LIMIT:
        distinct, counts = values, np.ones(len(values))
    return bootstrap_t_interval(distinct, counts, rng, transform=transform, confidence=confidence,
                                resamples=resamples)


def _shaped(interval: Interval, transform: str) -> Interval:
    """The interval of √mean from that of the mean (RMSE from the mean squared error)."""
    if transform != "sqrt" or interval.value is None:
        return interval

    def root(x: float | None) -> float | None:
        return None if x is None else math.sqrt(max(0.0, x))

    return Interval(root(interval.value), root(interval.low), root(interval.high), interval.n, interval.method)


def f1_interval(cells: np.ndarray, rng: np.random.Generator, *, cluster_cells: np.ndarray | None = None,
                confidence: float = CONFIDENCE, resamples: int = RESAMPLES) -> Interval:
    """Macro-F1 with its percentile bootstrap interval from a confusion matrix of counts (rows: true classes;
    columns: the same classes and one for answers that are no class); with ``cluster_cells`` (clusters ×
    the matrix's cells), the clusters are resampled instead of the examples."""
    cells = np.asarray(cells, dtype=np.float64)
    n = int(cells.sum())
    if n == 0:
        return EMPTY
    if cluster_cells is not None and len(cluster_cells) > 1:
        clusters = len(cluster_cells)
        weights = rng.multinomial(clusters, np.full(clusters, 1 / clusters), size=resamples).astype(np.float64)
        draws = (weights @ cluster_cells).reshape(resamples, *cells.shape)
        method = f"percentile bootstrap, {clusters} clusters"
    else:
        draws = rng.multinomial(n, cells.reshape(-1) / n, size=resamples).reshape(resamples, *cells.shape)
        method = "percentile bootstrap"
    low, high = order_quantiles(macro_f1_of(draws), confidence)
    return Interval(float(macro_f1_of(cells)), low, high, n, method)
