"""Intervals hold their level at small n and extreme rates; every interval agrees with its test; clusters and
many comparisons are accounted for. Exact coverages by enumeration where the distribution is discrete, seeded
simulations otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom, multinomial

from ftplug.report.intervals import f1_interval, mean_interval, proportion_interval
from ftplug.report.multiplicity import detectable_difference, holm
from ftplug.report.paired_tests import binary_comparison, compare_paired, f1_comparison, mcnemar_p
from ftplug.report.statistics import macro_f1, seeded


def _excludes_zero(c) -> bool:
    return c.low > 0 or c.high < 0


@pytest.mark.parametrize("n", [15, 60])
def test_a_rate_interval_covers_at_least_95_percent_at_every_rate(n: int) -> None:
    for p in np.concatenate([np.linspace(0.001, 0.05, 15), np.linspace(0.05, 0.95, 31), np.linspace(0.95, 0.999, 15)]):
        coverage = sum(binom.pmf(k, n, p) for k in range(n + 1)
                       if (lambda i: i.low <= p <= i.high)(proportion_interval(k, n)))
        assert coverage >= 0.95, (n, p, coverage)


def test_a_rate_of_none_or_all_keeps_a_width() -> None:
    none, every = proportion_interval(0, 60), proportion_interval(60, 60)
    assert none.low == 0 and none.high == pytest.approx(1 - 0.025 ** (1 / 60))  # Clopper–Pearson: 0.0596
    assert every.high == 1 and every.low == pytest.approx(0.025 ** (1 / 60))


@pytest.mark.parametrize(("p10", "p01"), [(0.2, 0.05), (0.1, 0.0), (0.3, 0.1), (0.4, 0.4), (0.02, 0.0)])
def test_the_paired_rate_difference_interval_covers_at_small_n(p10: float, p01: float) -> None:
    n = 30
    coverage = 0.0
    for b in range(n + 1):
        for c in range(n + 1 - b):
            result = binary_comparison(b, c, n)
            if result.low <= p10 - p01 <= result.high:
                coverage += multinomial.pmf([b, c, n - b - c], n, [p10, p01, 1 - p10 - p01])
    assert coverage >= 0.95


def test_mcnemar_interval_and_test_always_agree() -> None:
    for b in range(41):
        for c in range(41 - b):
            result = binary_comparison(b, c, 40)
            assert _excludes_zero(result) == result.significant, (b, c, result)
    assert mcnemar_p(10, 2) == pytest.approx(2 * (1 + 12 + 66) / 4096)
    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(5000, 5000) == 1.0


def test_a_skewed_mean_is_covered_and_its_paired_test_holds_its_level_at_n_15() -> None:
    # lognormal(0, 1): mean e^0.5; the percentile bootstrap covered 0.835 and rejected a true null 17 % of the time
    rng = np.random.default_rng(1)
    covered = rejected = 0
    trials = 600
    for k in range(trials):
        x = rng.lognormal(0, 1, 15)
        interval = mean_interval(x, seeded("mean", k), resamples=1000)
        covered += interval.low <= np.exp(0.5) <= interval.high
        test = compare_paired(rng.lognormal(0, 1, 15) - np.exp(0.5), np.zeros(15), seeded("pair", k), resamples=1000)
        rejected += test.significant
        assert _excludes_zero(test) == test.significant
    assert covered / trials >= 0.89 and rejected / trials <= 0.11


def test_large_samples_use_the_t_interval_and_cover() -> None:
    rng = np.random.default_rng(4)
    hits = sum((lambda i: i.low <= 1.0 <= i.high)(mean_interval(rng.normal(1.0, 1.0, 30_000), rng))
               for _ in range(200))
    assert 0.92 <= hits / 200 <= 0.98
    assert mean_interval(rng.normal(size=30_000), rng).method == "t"


def test_rmse_is_the_root_of_the_mean_of_squared_errors() -> None:
    interval = mean_interval(np.array([1.0, 4.0, 4.0, 9.0]), np.random.default_rng(0), transform="sqrt")
    assert interval.value == pytest.approx(np.sqrt(4.5)) and interval.low <= interval.value <= interval.high


def test_p_below_the_resampling_floor_is_said_so() -> None:
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 1, 200)
    result = compare_paired(noise + 1.0, noise + rng.normal(0, 0.3, 200), seeded("floor"), resamples=500)
    assert result.p_floor and result.p_value == 1 / 500 and result.significant and result.low > 0


def test_clustered_tests_hold_their_level_where_independent_ones_do_not() -> None:
    # 20 clusters of 5: a shared shift per cluster and no true difference on average
    rng = np.random.default_rng(8)
    codes = np.repeat(np.arange(20), 5)
    naive = clustered = 0
    trials = 400
    for k in range(trials):
        difference = np.repeat(rng.normal(0, 1, 20), 5) + rng.normal(0, 0.3, 100)
        plain = compare_paired(difference, np.zeros(100), seeded("plain", k), resamples=400)
        robust = compare_paired(difference, np.zeros(100), seeded("robust", k), codes=codes)
        naive += plain.significant
        clustered += robust.significant
        assert _excludes_zero(robust) == robust.significant and robust.clusters == 20
    assert clustered / trials <= 0.08 < 0.3 <= naive / trials


def test_a_clustered_rate_interval_is_wider_than_the_independent_one() -> None:
    codes = np.repeat(np.arange(10), 10)
    values = np.repeat([1.0, 0.0] * 5, 10)  # whole clusters right or wrong
    plain = proportion_interval(50, 100)
    clustered = proportion_interval(50, 100, codes=codes, values=values)
    assert clustered.low < plain.low and clustered.high > plain.high and "10 clusters" in clustered.method


def test_macro_f1_by_hand_and_its_paired_comparison() -> None:
    # class a: tp 1, fn 1, fp 0 → 2/3; class b: tp 2, fp 1 → 0.8
    assert macro_f1(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])) == pytest.approx((2 / 3 + 0.8) / 2)
    cells = np.array([[25, 25, 0], [0, 50, 0]])
    interval = f1_interval(cells, np.random.default_rng(1))
    assert interval.value == pytest.approx((2 / 3 + 0.8) / 2) and interval.low < interval.value < interval.high
    truth = np.array([0, 1] * 100)
    good = truth.copy()
    bad = np.where(np.arange(200) % 3 == 0, 1 - truth, truth)
    result = f1_comparison(truth, good, bad, 2, seeded("f1"))
    assert result.difference > 0 and result.significant and _excludes_zero(result)
    same = f1_comparison(truth, bad, np.roll(bad, 2), 2, seeded("f1 same"))
    assert not same.significant and not _excludes_zero(same)


def test_holm_by_hand() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5] and holm([0.9, 0.4]) == pytest.approx([0.9, 0.8]) and holm([0.9, 0.8]) == [1, 1]


def test_the_detectable_difference_is_the_power_formula() -> None:
    assert detectable_difference(0.1) == pytest.approx((1.959964 + 0.841621) * 0.1, rel=1e-5)
    assert detectable_difference(0.1, family=5) > detectable_difference(0.1) and detectable_difference(None) is None
