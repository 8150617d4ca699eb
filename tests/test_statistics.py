"""Bootstrap intervals cover the truth at their stated rate (seeded simulations); exact tests by hand."""

from __future__ import annotations

import numpy as np
import pytest

from ftplug.statistics import compare_paired, f1_interval, macro_f1, mcnemar_p, mean_interval


def _coverage(draw, truth: float, trials: int, **options) -> float:
    rng = np.random.default_rng(12345)
    hits = 0
    for _ in range(trials):
        interval = mean_interval(draw(rng), rng, resamples=1000, **options)
        hits += interval.low <= truth <= interval.high
    return hits / trials


def test_a_rate_interval_covers_the_truth_95_percent_of_the_time() -> None:
    coverage = _coverage(lambda rng: (rng.random(200) < 0.7).astype(float), 0.7, trials=400)
    assert 0.92 <= coverage <= 0.98


def test_a_continuous_mean_interval_covers_the_truth() -> None:
    # 400 trials: at 200 a 95 % procedure leaves the band [0.91, 0.98] by chance alone about once in 30 seeds
    coverage = _coverage(lambda rng: rng.normal(3.0, 2.0, 300), 3.0, trials=400)
    assert 0.92 <= coverage <= 0.98


def test_the_large_sample_path_covers_the_truth_too() -> None:
    # 30,000 continuous values: past the direct-resampling limit, the bag of little bootstraps is used
    coverage = _coverage(lambda rng: rng.normal(1.0, 1.0, 30_000), 1.0, trials=200)
    assert 0.90 <= coverage <= 0.98


def test_rmse_is_the_root_of_the_mean_of_squared_errors() -> None:
    interval = mean_interval(np.array([1.0, 4.0, 4.0, 9.0]), np.random.default_rng(0), transform="sqrt")
    assert interval.value == pytest.approx(np.sqrt(4.5)) and interval.low <= interval.value <= interval.high


def test_macro_f1_by_hand() -> None:
    # class a: tp 1, fn 1, fp 0 → 2/3; class b: tp 2, fp 1 → 0.8
    assert macro_f1(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])) == pytest.approx((2 / 3 + 0.8) / 2)
    interval = f1_interval(["a", "a", "b", "b"] * 25, ["a", "b", "b", "b"] * 25, np.random.default_rng(1))
    assert interval.value == pytest.approx((2 / 3 + 0.8) / 2) and interval.low < interval.value < interval.high
    # a prediction that is no class at all counts against the true class's recall
    assert f1_interval(["a", "b"], ["a", "nonsense"], np.random.default_rng(1)).value == pytest.approx(0.5)


def test_mcnemar_exact_by_hand() -> None:
    assert mcnemar_p(10, 2) == pytest.approx(2 * (1 + 12 + 66) / 4096)
    assert mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(5000, 5000) == 1.0


def test_paired_comparisons_find_a_real_difference_and_not_a_fake_one() -> None:
    rng = np.random.default_rng(7)
    reference = (rng.random(400) < 0.6).astype(float)
    better = reference.copy()
    better[np.flatnonzero(reference == 0)[:60]] = 1.0  # right on 60 more examples
    result = compare_paired(better, reference, rng)
    assert result.method == "McNemar exact" and result.significant and result.difference == pytest.approx(0.15)
    assert result.low > 0
    same = compare_paired(np.roll(reference, 1), reference, rng)
    assert not same.significant
    noisy = rng.normal(0, 1, 3000)
    shifted = compare_paired(noisy + 0.2, noisy + rng.normal(0, 0.5, 3000), rng)
    assert shifted.method == "paired bootstrap" and shifted.significant and shifted.low < 0.2 < shifted.high


def test_the_aggregate_forms_agree_with_the_array_forms() -> None:
    from ftplug.statistics import f1_from_cells, histogram_interval

    rng = np.random.default_rng(3)
    values = rng.integers(0, 5, 1000).astype(float)
    distinct, counts = np.unique(values, return_counts=True)
    from_counts = histogram_interval(distinct, counts, np.random.default_rng(9))
    from_values = mean_interval(values, np.random.default_rng(9))
    assert from_counts.value == pytest.approx(from_values.value)
    assert from_counts.low == pytest.approx(from_values.low, abs=0.02)
    assert from_counts.high == pytest.approx(from_values.high, abs=0.02)
    # rows: true a, b; columns: answered a, b, no class
    cells = np.array([[25, 25, 0], [0, 50, 0]])
    assert f1_from_cells(cells, rng).value == pytest.approx((2 / 3 + 0.8) / 2)


@pytest.mark.parametrize(("kinds", "n"), [(2, 500), (40, 200), (40, 5000)])  # binomial, direct, multinomial
def test_every_way_of_drawing_resamples_gives_the_bootstrap_distribution(kinds: int, n: int) -> None:
    from ftplug.statistics import resampled_means

    rng = np.random.default_rng(kinds + n)
    sample = rng.integers(0, kinds, n).astype(float) * 0.5
    values, counts = np.unique(sample, return_counts=True)
    means = resampled_means(values, counts, rng, 20_000)
    # the bootstrap distribution of a mean: centred on the sample mean, spread sd / sqrt(n)
    assert means.mean() == pytest.approx(sample.mean(), abs=3 * sample.std() / np.sqrt(n) / np.sqrt(20_000) * 3)
    assert means.std() == pytest.approx(sample.std() / np.sqrt(n), rel=0.03)
