"""The report's statistics at the scale where they are subsampled, checked against a direct computation on the
same (seeded, generated) values: point estimates, pairing over the examples both runs scored, missing
values, p95 latency, and which kind of bootstrap each metric gets."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from ftplug.dataset import Example, Splits
from ftplug.plugins.duckdb_store.store import DuckDBStore
from ftplug.report.analysis import analyse
from ftplug.report.matrix import COST, LATENCY, ReportStatistics
from ftplug.report.statistics import DIRECT_LIMIT
from ftplug.store.records import PredictionRecord, RunInfo

EXAMPLES = DIRECT_LIMIT + 5_000  # beyond resampling: t intervals and paired t tests
SCORERS = {"exact": {"name": "exact", "aggregate": "mean", "higher_is_better": True},
           "graded": {"name": "graded", "aggregate": "mean", "higher_is_better": True},
           "mae": {"name": "mae", "aggregate": "mean", "higher_is_better": False}}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, np.ndarray]]]:
    """Three runs over the same examples; the first misses every 13th example, the second every 7th and has
    no `mae` for every 11th; values kept beside the file for the direct computation."""
    path = tmp_path_factory.mktemp("scale") / "scale.duckdb"
    rng = np.random.default_rng(7)
    ids = [f"e{i:06d}" for i in range(EXAMPLES)]
    store = DuckDBStore(str(path))
    shuffled = [Example(ids[i], "x", "y") for i in rng.permutation(EXAMPLES)]  # numbers unrelated to id order
    store.save_examples("exp", Splits(train=(), validation=(), test=tuple(shuffled)))
    truth: dict[str, dict[str, np.ndarray]] = {}
    for r in range(3):
        run_id = f"run-{r}"
        store.start_run(RunInfo(run_id=run_id, experiment="exp", variant=f"v{r}", model="m", base_model="m",
                                trainer="none", prompt_builder="few-shot", simulated=True, endpoint="simulator",
                                started_at=datetime(2026, 1, 1) + timedelta(minutes=r)))
        values = {"exact": (rng.random(EXAMPLES) < 0.5 + 0.1 * r).astype(float),
                  "graded": rng.integers(0, 3, EXAMPLES) / 2, "mae": rng.gamma(2.0, 0.5 - 0.1 * r, EXAMPLES),
                  "latency": rng.lognormal(5, 0.5, EXAMPLES),
                  "cost": rng.integers(50, 60, EXAMPLES) * 1e-7}  # few distinct costs
        kept = np.ones(EXAMPLES, bool)
        kept[::13] = r != 0  # the reference misses some examples, the second run others
        if r == 1:
            kept[::7] = False
            values["mae"][::11] = np.nan
        records = [PredictionRecord(run_id, ids[i], "y", latency_ms=float(values["latency"][i]),
                                    cost_usd=float(values["cost"][i]),
                                    scores={"exact": float(values["exact"][i]), "graded": float(values["graded"][i]),
                                            "mae": None if np.isnan(values["mae"][i]) else float(values["mae"][i])})
                   for i in np.flatnonzero(kept)]
        for first in range(0, len(records), 10_000):
            store.add_predictions(records[first:first + 10_000], simulated=True)
        store.finish_run(run_id, "succeeded", datetime(2026, 1, 2), None,
                         {"scorers": SCORERS, "report": {"primary": "exact", "reference": "v0"}})
        for key in values:
            values[key] = np.where(kept, values[key], np.nan)
        truth[run_id] = values
    store.close()
    return path, truth


def test_every_estimate_matches_the_direct_computation(generated: tuple[Path, dict[str, dict[str, np.ndarray]]]
                                                        ) -> None:
    path, truth = generated
    store = DuckDBStore(str(path))
    try:
        rows = store.variant_rows("exp")
        stats = ReportStatistics(store, rows, SCORERS, resamples=500)
        analysis = analyse(store, "exp", resamples=500)
    finally:
        store.close()
    assert stats.kind == {"exact": "binary", "graded": "mean", "mae": "mean", COST: "mean", LATENCY: "mean"}
    variants = {v["variant"]: v for v in analysis["variants"]}
    # the runs were asked different examples: scores are compared on those all of them were asked
    shared = np.logical_and.reduce([~np.isnan(truth[run]["exact"]) for run in stats.run_ids])
    assert analysis["test_sets"] == {"shared": int(shared.sum()), "asked": {
        f"v{r}": int(np.count_nonzero(~np.isnan(truth[run]["exact"]))) for r, run in enumerate(stats.run_ids)}}
    for r, run_id in enumerate(stats.run_ids):
        values, variant = truth[run_id], variants[f"v{r}"]
        for scorer in SCORERS:
            metric = variant["metrics"][scorer]
            assert metric["value"] == pytest.approx(np.nanmean(values[scorer][shared]), rel=1e-12)
            assert metric["n"] == np.count_nonzero(~np.isnan(values[scorer][shared]))
            assert metric["low"] < metric["value"] < metric["high"]
        missing = np.count_nonzero(np.isnan(values["mae"]) & shared)  # asked, answered, no mae
        assert variant["metrics"]["mae"]["missing"] == missing
        assert variant["cost_per_prediction"] == pytest.approx(np.nanmean(values["cost"]), rel=1e-12)
        latency = values["latency"][~np.isnan(values["latency"])]
        assert variant["latency_ms"]["p95"] == pytest.approx(np.percentile(latency, 95), rel=1e-12)
        assert variant["latency_ms"]["low"] < variant["latency_ms"]["value"] < variant["latency_ms"]["high"]
    for comparison in analysis["comparisons"]:
        a, b = truth[f"run-{comparison['variant'][1]}"], truth["run-0"]
        scorer = comparison["scorer"]
        both = ~np.isnan(a[scorer]) & ~np.isnan(b[scorer]) & shared
        assert comparison["n"] == np.count_nonzero(both)
        assert comparison["difference"] == pytest.approx(np.mean(a[scorer][both] - b[scorer][both]), rel=1e-9)
        assert comparison["low"] < comparison["difference"] < comparison["high"]
    exact = next(c for c in analysis["comparisons"] if c["variant"] == "v2" and c["scorer"] == "exact")
    assert exact["method"] == "McNemar exact" and exact["p_value"] < 1e-6  # 70 % against 50 % right
