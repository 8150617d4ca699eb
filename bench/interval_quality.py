"""How well the report's intervals and tests keep their promises, against the percentile bootstrap they
replaced (the reference), both measured in the same run on the same seeded samples.

    python bench/interval_quality.py [--reps 2000]

Prints, for each check, the reference's number, ftplug's, and the target:

- the interval of 0/60 (the percentile bootstrap collapses to zero width);
- coverage of a rate at n = 60, p = 0.97 (target ≥ 0.95);
- Clopper–Pearson's exact worst-case coverage over n = 10 … 200 and p = 0.01 … 0.99 (computed, not simulated);
- coverage of a lognormal mean at n = 15 (target close to 0.95);
- the false-positive rate of a paired test on skewed differences of mean 0 at n = 15 (target close to 0.05);
- how often a 0/1 comparison's interval and its test disagree, over random 2×2 tables at n = 30 (target 0);
- coverage of a rate when the examples come in clusters of 5 that share their outcome's probability
  (intra-cluster correlation about 0.3), without and with the cluster-robust interval.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy.stats import binom

from ftplug.report.intervals import clopper_pearson, mean_interval, proportion_interval
from ftplug.report.paired_tests import binary_comparison, compare_paired
from ftplug.report.statistics import RESAMPLES

Q = (0.025, 0.975)


def percentile_rate(successes: int, n: int, rng: np.random.Generator) -> tuple[float, float]:
    """The reference: the percentile bootstrap of a rate (its resamples are binomial draws)."""
    draws = rng.binomial(n, successes / n, RESAMPLES) / n
    low, high = np.quantile(draws, Q)
    return float(low), float(high)


def percentile_mean(values: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """The reference: the percentile bootstrap of a mean."""
    means = values[rng.integers(0, len(values), (RESAMPLES, len(values)))].mean(axis=1)
    low, high = np.quantile(means, Q)
    return float(low), float(high)


def zero_of_sixty(rng: np.random.Generator) -> None:
    old = percentile_rate(0, 60, rng)
    new = proportion_interval(0, 60)
    print(f"0/60 interval                      reference [{old[0]:.4f}, {old[1]:.4f}]   ftplug [{new.low:.4f}, "
          f"{new.high:.4f}]   target: not of zero width")


def rate_coverage(rng: np.random.Generator, reps: int, n: int = 60, p: float = 0.97) -> None:
    successes = rng.binomial(n, p, reps)
    old = new = 0
    for k in successes:
        low, high = percentile_rate(int(k), n, rng)
        old += low <= p <= high
        interval = proportion_interval(int(k), n)
        new += interval.low <= p <= interval.high
    print(f"rate coverage n={n} p={p}          reference {old / reps:.3f}   ftplug {new / reps:.3f}   target ≥ 0.95")


def clopper_pearson_worst() -> None:
    worst = (1.0, 0, 0.0)
    for n in range(10, 201, 10):
        ends = [clopper_pearson(k, n) for k in range(n + 1)]
        low, high = np.array(ends).T
        for p in np.linspace(0.01, 0.99, 99):
            covered = (low <= p) & (p <= high)
            coverage = float(binom.pmf(np.arange(n + 1), n, p)[covered].sum())
            worst = min(worst, (coverage, n, float(p)))
    print(f"Clopper–Pearson worst coverage     ftplug {worst[0]:.4f} (n={worst[1]}, p={worst[2]:.2f}) over "
          "n=10…200, p=0.01…0.99   target ≥ 0.95")


def lognormal_coverage(rng: np.random.Generator, reps: int, n: int = 15) -> None:
    truth = math.exp(0.5)
    old = new = 0
    for _ in range(reps):
        values = rng.lognormal(0.0, 1.0, n)
        low, high = percentile_mean(values, rng)
        old += low <= truth <= high
        interval = mean_interval(values, rng)
        new += interval.low <= truth <= interval.high
    print(f"lognormal mean coverage n={n}      reference {old / reps:.3f}   ftplug {new / reps:.3f}   "
          "target close to 0.95")


def skewed_null(rng: np.random.Generator, reps: int, n: int = 15) -> None:
    old = new = 0
    for _ in range(reps):
        differences = rng.lognormal(0.0, 1.0, n) - math.exp(0.5)  # mean 0, skewed
        other = rng.random(n)
        low, high = percentile_mean(differences, rng)
        old += not (low <= 0 <= high)
        comparison = compare_paired(other + differences, other, rng)
        assert comparison is not None
        new += comparison.p_value < 0.05
    print(f"paired skewed null n={n} FPR        reference {old / reps:.3f}   ftplug {new / reps:.3f}   "
          "target close to 0.05")


def mcnemar_agreement(rng: np.random.Generator, reps: int, n: int = 30) -> None:
    from ftplug.report.paired_tests import mcnemar_p

    old = new = 0
    for _ in range(reps):
        cells = rng.multinomial(n, rng.dirichlet((1, 1, 1, 1)))  # both right, only variant, only other, neither
        b, c = int(cells[1]), int(cells[2])
        draws = rng.multinomial(n, cells / n, RESAMPLES)
        low, high = np.quantile((draws[:, 1] - draws[:, 2]) / n, Q)
        old += (not (low <= 0 <= high)) != (mcnemar_p(b, c) < 0.05)
        comparison = binary_comparison(b, c, n)
        if comparison is not None and comparison.low is not None:
            new += (not (comparison.low <= 0 <= comparison.high)) != (comparison.p_value < 0.05)
    print(f"0/1 interval vs test disagreements  reference {old}/{reps}   ftplug {new}/{reps}   target 0")


def clustered_coverage(rng: np.random.Generator, reps: int, clusters: int = 20, size: int = 5) -> None:
    p, concentration = 0.6, 2.0  # each cluster's rate ~ Beta(1.2, 0.8): intra-cluster correlation 1/(1+2)
    plain = robust = 0
    codes = np.repeat(np.arange(clusters), size)
    for _ in range(reps):
        rates = rng.beta(p * concentration, (1 - p) * concentration, clusters)
        values = (rng.random(clusters * size) < np.repeat(rates, size)).astype(float)
        k = int(values.sum())
        naive = proportion_interval(k, len(values))
        plain += naive.low <= p <= naive.high
        grouped = proportion_interval(k, len(values), codes=codes, values=values)
        robust += grouped.low <= p <= grouped.high
    print(f"rate coverage, {clusters} clusters of {size}   independent {plain / reps:.3f}   clustered "
          f"{robust / reps:.3f}   target ≥ 0.95 (Korn–Graubard)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000, help="simulated samples per check")
    parser.add_argument("--seed", type=int, default=20261204)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    zero_of_sixty(rng)
    rate_coverage(rng, args.reps)
    clopper_pearson_worst()
    lognormal_coverage(rng, args.reps)
    skewed_null(rng, args.reps)
    mcnemar_agreement(rng, args.reps)
    clustered_coverage(rng, args.reps)
    print(f"({args.reps} samples per check, seed {args.seed}, {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
