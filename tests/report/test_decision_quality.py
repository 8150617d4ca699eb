"""What the report may claim, on result files written through the store's own API with seeded scores: one
consistent subset per comparison, order independence, ties, one variant, the cheapest among the good enough,
the sign of margins for lower-is-better metrics, clusters and a paired test for macro-F1."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest

from ftplug.dataset import Example, Splits
from ftplug.plugins.duckdb_store.store import DuckDBStore
from ftplug.report.analysis import analyse
from ftplug.store.records import PredictionRecord, RunInfo

EXACT = {"exact": {"name": "exact", "aggregate": "mean", "higher_is_better": True}}


def _store(path: Path, runs: dict[str, dict[str, Any]], *, scorers: dict[str, Any] = EXACT, n: int = 60,
           clusters: dict[str, str] | None = None, order: list[str] | None = None,
           report: dict[str, Any] | None = None) -> DuckDBStore:
    """A result file with one run per entry of ``runs``: ``scores`` (per scorer, per example; None = no score),
    ``asked`` (example positions asked; default all), ``errors`` (positions whose request failed), ``cost``,
    ``labels`` (per scorer, per example), ``details``; runs started in ``order``."""
    store = DuckDBStore(str(path))
    ids = [f"e{i:03d}" for i in range(n)]
    store.save_examples("exp", Splits(train=(), validation=(), test=tuple(Example(i, "x", "a") for i in ids)), clusters)
    for k, name in enumerate(order or list(runs)):
        spec = runs[name]
        run_id = f"run-{name}"
        store.start_run(RunInfo(run_id=run_id, experiment="exp", variant=name, model="m", base_model="m",
                                trainer=spec.get("trainer", "none"), prompt_builder="few-shot", simulated=True,
                                endpoint="simulator", started_at=datetime(2026, 1, 1) + timedelta(minutes=k)))
        records = []
        for i in spec.get("asked", range(n)):
            if i in spec.get("errors", ()):
                records.append(PredictionRecord(run_id, ids[i], None, error="timed out", latency_ms=5.0))
                continue
            scores = {scorer: values[i] for scorer, values in spec["scores"].items()}
            labels = {scorer: values[i] for scorer, values in spec.get("labels", {}).items()}
            records.append(PredictionRecord(run_id, ids[i], "y", latency_ms=10.0 + i, cost_usd=spec.get("cost", 1e-4),
                                            scores=scores, labels=labels))
        store.add_predictions(records, simulated=True)
        store.finish_run(run_id, "succeeded", datetime(2026, 1, 2), None,
                         {"scorers": scorers, "report": report or {"primary": next(iter(scorers))},
                          **spec.get("details", {})})
    return store


def _rate(rng: np.random.Generator, p: float, n: int = 60) -> list[float]:
    return [float(x) for x in (rng.random(n) < p)]


def _numbers(analysis: dict[str, Any]) -> dict[str, Any]:
    metrics = {v["variant"]: {k: v["metrics"]["exact"][k] for k in ("value", "low", "high")}
               for v in analysis["variants"]}
    tests = {(c["variant"], c["reference"]): (c["difference"], c["low"], c["high"], c["p_value"])
             for c in analysis["comparisons"]}
    return {"metrics": metrics, "tests": tests, "verdict": analysis["verdict"]["lines"]}


def test_the_numbers_do_not_depend_on_the_order_of_the_variants(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    scorers = {**EXACT, "graded": {"name": "graded", "aggregate": "mean", "higher_is_better": True}}
    runs = {name: {"scores": {"exact": _rate(rng, p), "graded": list(rng.gamma(2.0, 1.0, 60))}}
            for name, p in (("a", 0.5), ("b", 0.6), ("c", 0.7))}
    report = {"primary": "graded", "reference": "a"}
    first = _store(tmp_path / "1.duckdb", runs, scorers=scorers, order=["a", "b", "c"], report=report)
    second = _store(tmp_path / "2.duckdb", runs, scorers=scorers, order=["c", "a", "b"], report=report)
    one, two = analyse(first, "exp"), analyse(second, "exp")
    assert _numbers(one) == _numbers(two)
    graded = {v["variant"]: v["metrics"]["graded"]["method"] for v in one["variants"]}
    assert set(graded.values()) == {"bootstrap-t"}


def test_runs_asked_different_examples_are_compared_on_the_shared_ones(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    runs = {"full": {"scores": {"exact": _rate(rng, 0.5)}},
            "rerun": {"scores": {"exact": _rate(rng, 0.9)}, "asked": range(10)}}  # a rerun with --limit 10
    analysis = analyse(_store(tmp_path / "r.duckdb", runs), "exp")
    assert analysis["test_sets"] == {"shared": 10, "asked": {"full": 60, "rerun": 10}}
    assert {v["metrics"]["exact"]["n"] for v in analysis["variants"]} == {10}
    assert analysis["comparisons"][0]["n"] == 10
    assert any("not asked the same test examples (full 60, rerun 10)" in c and "the 10 examples" in c
               for c in analysis["verdict"]["caveats"])


def test_failed_requests_count_as_wrong_beside_the_scored_rate(tmp_path: Path) -> None:
    runs = {"steady": {"scores": {"exact": [1.0] * 30 + [0.0] * 30}},
            "flaky": {"scores": {"exact": [1.0] * 60}, "errors": set(range(24))}}  # 36 answered, all right
    analysis = analyse(_store(tmp_path / "f.duckdb", runs), "exp")
    flaky = next(v for v in analysis["variants"] if v["variant"] == "flaky")["metrics"]["exact"]
    assert flaky["value"] == 1.0 and flaky["n"] == 36
    assert flaky["with_failures"]["value"] == pytest.approx(36 / 60) and flaky["with_failures"]["n"] == 60
    comparison = analysis["comparisons"][0]
    assert comparison["n"] == 36  # the pairs both scored, and the text says so
    assert "on the 36 examples both scored" in analysis["verdict"]["lines"][0]
    assert any("with failures counted as wrong: 0.600" in c for c in analysis["verdict"]["caveats"])


def test_ties_are_stated_and_the_runner_up_is_the_tested_pair(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    same = _rate(rng, 0.6)
    runs = {"b": {"scores": {"exact": same}}, "a": {"scores": {"exact": list(reversed(same))}},
            "c": {"scores": {"exact": _rate(rng, 0.3)}}}
    analysis = analyse(_store(tmp_path / "t.duckdb", runs), "exp")
    assert analysis["ranking"][:2] == ["a", "b"] and analysis["tied"] == ["a", "b"]
    head = analysis["head_to_head"]
    assert (head["variant"], head["reference"]) == ("a", "b")
    line = analysis["verdict"]["lines"][0]
    assert line.startswith("Tied on exact: a, b all score") and "McNemar exact" in line
    assert "no paired test" not in line and "either would do" not in line


def test_one_variant_makes_no_best_claim(tmp_path: Path) -> None:
    analysis = analyse(_store(tmp_path / "o.duckdb", {"only": {"scores": {"exact": [1.0] * 60}}}), "exp")
    assert analysis["verdict"]["best"] is None
    assert analysis["verdict"]["lines"][0].startswith("Only one variant was scored on exact: only with 1.000 "
                                                      "(95% CI 0.940–1.000")


def test_the_cheapest_is_never_a_variant_significantly_worse_than_the_best(tmp_path: Path) -> None:
    runs = {"good": {"scores": {"exact": [1.0] * 55 + [0.0] * 5}, "cost": 1e-3},
            "close": {"scores": {"exact": [1.0] * 52 + [0.0] * 8}, "cost": 5e-4},
            "broken": {"scores": {"exact": [0.0] * 60}, "cost": 1e-6}}  # every answer unparseable: cheapest
    analysis = analyse(_store(tmp_path / "c.duckdb", runs), "exp")
    assert analysis["worse_than_best"] == ["broken"]
    assert analysis["verdict"]["cheapest"] == "close"
    assert any(line.startswith("Cheapest per prediction among the variants not significantly worse than good on "
                               "exact: close") and "broken left out" in line for line in analysis["verdict"]["lines"])


def test_no_break_even_claim_for_a_fine_tuned_model_significantly_worse_than_the_best(tmp_path: Path) -> None:
    training = {"job_id": "ftjob-1", "training_cost_usd": 0.5}
    runs = {"prompted": {"scores": {"exact": [1.0] * 50 + [0.0] * 10}, "cost": 1e-3},
            "tuned": {"scores": {"exact": [1.0] * 5 + [0.0] * 55}, "cost": 1e-5, "trainer": "openai",
                      "details": training}}
    analysis = analyse(_store(tmp_path / "b.duckdb", runs), "exp")
    row = analysis["break_even"][0]
    assert row["predictions"] is not None and row["fine_tuned_worse_than_best"]
    assert any(line.startswith("tuned vs prompted: no break-even claim — tuned is significantly worse than "
                               "prompted on exact") for line in analysis["verdict"]["lines"])
    assert not any("pays back" in line for line in analysis["verdict"]["lines"])


def test_margins_over_a_baseline_keep_one_sign_for_lower_is_better(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    mae = {"mae": {"name": "mae", "aggregate": "mean", "higher_is_better": False}}
    runs = {"persistence": {"scores": {"mae": list(rng.gamma(2.0, 1.0, 60))}, "details": {"baseline": "naive"}},
            "model": {"scores": {"mae": list(rng.gamma(2.0, 2.0, 60))}}}  # twice the error
    analysis = analyse(_store(tmp_path / "m.duckdb", runs, scorers=mae), "exp")
    row = analysis["baseline_margins"]["rows"][0]
    test = row["test"]
    assert row["margin"] < 0 and row["margin"] == pytest.approx(-test["difference"])
    assert row["margin_low"] == pytest.approx(-test["high"]) and row["margin_high"] == pytest.approx(-test["low"])
    assert row["margin_low"] <= row["margin"] <= row["margin_high"] < 0 and row["beats"] == "no"


def test_clustered_examples_widen_the_intervals_and_say_so(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    day = np.repeat(rng.random(12) < 0.5, 5).astype(float)  # 12 dates × 5 series, right or wrong by date
    runs = {"a": {"scores": {"exact": list(day)}}, "b": {"scores": {"exact": _rate(rng, 0.5)}}}
    clusters = {f"e{i:03d}": f"2020-01-{i // 5 + 1:02d}" for i in range(60)}
    plain = analyse(_store(tmp_path / "p.duckdb", runs), "exp")
    grouped = analyse(_store(tmp_path / "g.duckdb", runs, clusters=clusters,
                             report={"primary": "exact", "cluster": "origin"}), "exp")
    assert grouped["clusters"] == {"key": "origin", "count": 12, "examples": 60}
    width = {name: next(v for v in report["variants"] if v["variant"] == "a")["metrics"]["exact"]
             for name, report in (("plain", plain), ("grouped", grouped))}
    assert width["grouped"]["high"] - width["grouped"]["low"] > width["plain"]["high"] - width["plain"]["low"]
    assert width["grouped"]["method"] == "Korn–Graubard, 12 clusters"
    comparison = grouped["comparisons"][0]
    assert comparison["method"] == "paired t, 12 clusters" and comparison["clusters"] == 12
    assert any("fall into 12 clusters (by origin)" in c for c in grouped["verdict"]["caveats"])


def test_a_macro_f1_primary_gets_a_paired_test(tmp_path: Path) -> None:
    f1 = {"f1": {"name": "f1", "aggregate": "macro_f1", "higher_is_better": True}}
    truth = ["a"] * 60  # every example's expected output is "a" (see _store); labels decide F1
    good = ["a"] * 57 + ["b"] * 3
    poor = ["a"] * 30 + ["b"] * 30
    runs = {"good": {"scores": {"f1": [1.0] * 60}, "labels": {"f1": good}},
            "poor": {"scores": {"f1": [1.0] * 60}, "labels": {"f1": poor}}}
    assert len(truth) == 60
    analysis = analyse(_store(tmp_path / "f1.duckdb", runs, scorers=f1), "exp")
    head = analysis["head_to_head"]
    assert head is not None and head["method"] == "paired percentile bootstrap" and head["n"] == 60
    assert "a real difference" in analysis["verdict"]["lines"][0]


def _windows_by_currency(folder: Path) -> Path:
    """The real exchange-rate windows of data/examples with the currency (the part of each id before the date)
    as a field of its own, to cluster by."""
    from tests.helpers import ROOT

    lines = (ROOT / "data" / "examples" / "exchange_windows.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    path = folder / "windows.jsonl"
    path.write_text("".join(json.dumps({**r, "currency": r["id"].split("-")[0]}) + "\n" for r in records),
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("cluster", ["currency", ""])
def test_report_cluster_names_the_field_of_a_jsonl_record(tmp_path: Path, cluster: str) -> None:
    from tests.helpers import run_cli

    data = _windows_by_currency(tmp_path)
    experiment = tmp_path / "windows.toml"
    experiment.write_text(
        f'[experiment]\nname = "windows"\nseed = 3\n[data]\nloader = "jsonl"\npath = "{data}"\n'
        '[split]\ntest = 30\nvalidation = 0\n[model]\nbase = "gpt-4o-mini-2024-07-18"\n'
        '[[variants]]\nname = "zero-shot"\nprompt = { builder = "few-shot", shots = 0, system = "Up or down?" }\n'
        '[[variants]]\nname = "majority"\ntrainer = "majority"\n'
        f'[report]\ncluster = "{cluster}"\n', encoding="utf-8")
    db = tmp_path / "results.duckdb"
    done = run_cli("run", str(experiment), "--db", str(db), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(run_cli("report", "--db", str(db), "--format", "json").stdout)
    with duckdb.connect(str(db), read_only=True) as connection:
        stored = connection.execute("SELECT example_id, cluster FROM examples WHERE split = 'test'").fetchall()
    if not cluster:  # "" turns clustering off
        assert report["clusters"] is None and all(value is None for _, value in stored)
        return
    assert all(value == example.split("-")[0] for example, value in stored)
    currencies = len({value for _, value in stored})
    assert 1 < currencies <= 5
    assert report["clusters"] == {"key": "currency", "count": currencies, "examples": 30}
    rate = next(v for v in report["variants"] if v["variant"] == "majority")["metrics"]["exact"]
    assert rate["method"] == f"Korn–Graubard, {currencies} clusters"
