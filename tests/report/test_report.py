"""The decision report: break-even by hand, verdict, formats, SQL views and exports from the result store."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pytest

from ftplug.report.analysis import break_even
from tests.helpers import EXAMPLE, run_in_process


def test_break_even_by_hand() -> None:
    # $0.10 of training; fine-tuned $0.02 / 1k vs prompting $0.19 / 1k: saves $0.00017 per prediction
    assert break_even(0.10, 0.00002, 0.00019) == 589  # ceil(0.10 / 0.00017) = ceil(588.2)
    assert break_even(0.10, 0.0002, 0.00019) is None  # the fine-tuned model costs more per prediction: never
    assert break_even(0.0, 0.00001, 0.00002) == 0


@pytest.fixture(scope="module")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    text = EXAMPLE.read_text(encoding="utf-8").replace('scorers = ["exact"]', (
        'scorers = ["exact", { name = "accuracy", labels = ["science", "politics", "computers", "law", "food"] }, '
        '"f1", "disclaimers"]\n\n[report]\nvolume = 100000\nreference = "few-shot-5"'))
    (folder / "fortunes.csv").write_bytes(EXAMPLE.with_name("fortunes.csv").read_bytes())
    (folder / "exp.toml").write_text(text, encoding="utf-8")
    db = folder / "r.duckdb"
    result = run_in_process("run", str(folder / "exp.toml"), "--db", str(db), "--limit", "40")
    assert result.exit_code == 0, result.stderr
    return db


def test_json_report_matches_the_sql_views(store_file: Path) -> None:
    document = json.loads(run_in_process("report", "--db", str(store_file), "--format", "json").stdout)
    assert document["reference"] == "few-shot-5" and document["volume"] == 100000
    with duckdb.connect(str(store_file), read_only=True) as con:
        summary = {(v, s): value for v, s, value in con.execute("SELECT variant, scorer, value FROM summary")
                   .fetchall()}
        costs = dict(con.execute("SELECT variant, cost_per_1k_usd FROM costs").fetchall())
        pairs = {(v, s): (n, right, wrong) for v, s, n, right, wrong in con.execute(
            "SELECT variant, scorer, n, variant_only_right, reference_only_right FROM comparisons").fetchall()}
    for v in document["variants"]:
        for scorer in ("exact", "accuracy", "disclaimers"):
            assert v["metrics"][scorer]["value"] == pytest.approx(summary[(v["variant"], scorer)])
        assert summary[(v["variant"], "f1")] is None  # macro-F1 is computed by the report, not the view
        assert v["cost_per_1k_usd"]["value"] == pytest.approx(costs[v["variant"]])
    for c in document["comparisons"]:
        if c["scorer"] == "f1":  # macro-F1 of each side's answers, not a mean of per-example differences
            assert c["method"] == "paired percentile bootstrap" and c["low"] <= c["difference"] <= c["high"]
            continue
        n, right, wrong = pairs[(c["variant"], c["scorer"])]
        assert c["n"] == n and c["difference"] == pytest.approx((right - wrong) / n)
    tuned = next(v for v in document["variants"] if v["variant"] == "fine-tuned")
    assert tuned["confusion"]["accuracy"]["labels"][:5] == ["computers", "food", "law", "politics", "science"]
    assert sum(map(sum, tuned["confusion"]["accuracy"]["matrix"])) == 40
    row = next(b for b in document["break_even"] if b["prompted"] == "few-shot-40")
    assert row["predictions"] == break_even(row["training_cost_usd"], row["fine_tuned_per_prediction"],
                                            row["prompted_per_prediction"])
    lines = document["verdict"]["lines"]
    assert lines[0].startswith(f"Best on exact: {document['verdict']['best']} with ")
    assert any(line.startswith("Cheapest at 100,000 predictions") for line in lines)


def test_csv_and_text_reports(store_file: Path) -> None:
    report = run_in_process("report", "--db", str(store_file), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(report.stdout)))
    metrics = {(r["variant"], r["metric"]) for r in rows}
    assert ("fine-tuned", "f1") in metrics and ("zero-shot", "cost_per_1k_usd") in metrics
    assert all(r["simulated"] == "True" for r in rows)
    text = run_in_process("report", "--db", str(store_file), "--volume", "5000").stdout
    assert "Against the reference 'few-shot-5'" in text and "Cheapest at 5,000 predictions" in text
    assert "Confusion matrix of fine-tuned" in text and text.rstrip().endswith("not how any model performs.")


def test_sql_formats_and_read_only(store_file: Path) -> None:
    as_json = json.loads(run_in_process("sql", "SELECT variant, n FROM summary WHERE scorer = 'exact' ORDER BY variant",
                                 "--db", str(store_file), "--format", "json").stdout)
    assert as_json[0] == {"variant": "few-shot-40", "n": 40}
    as_csv = run_in_process("sql", "SELECT 1 AS a, 'x,y' AS b", "--db", str(store_file), "--format", "csv").stdout
    assert as_csv.splitlines() == ["a,b", '1,"x,y"']
    refused = run_in_process("sql", "DELETE FROM runs", "--db", str(store_file))
    assert refused.exit_code == 2 and "read-only" in refused.stderr


def test_export_writes_every_table_and_view(store_file: Path, tmp_path: Path) -> None:
    result = run_in_process("export", str(tmp_path / "out"), "--db", str(store_file))
    assert result.exit_code == 0, result.stderr
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "predictions.parquet" in files and "summary.parquet" in files and "comparisons.parquet" in files
    with duckdb.connect() as con:
        exported = con.execute(f"SELECT count(*) FROM '{tmp_path / 'out' / 'predictions.parquet'}'").fetchone()[0]
    assert exported == 160
    assert run_in_process("export", str(tmp_path / "csv"), "--db", str(store_file), "--format", "csv").exit_code == 0
    assert (tmp_path / "csv" / "scores.csv").read_text().startswith("run_id,example_id,scorer,value,label,error")


def test_consistency_asks_for_several_samples_and_stores_them(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace('scorers = ["exact"]',
                                                       'scorers = ["exact", "consistency"]\nsamples = 4')
    (tmp_path / "fortunes.csv").write_bytes(EXAMPLE.with_name("fortunes.csv").read_bytes())
    (tmp_path / "exp.toml").write_text(text, encoding="utf-8")
    db = tmp_path / "r.duckdb"
    result = run_in_process("run", str(tmp_path / "exp.toml"), "--db", str(db), "--limit", "12")
    assert result.exit_code == 0, result.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        samples = [json.loads(s) for (s,) in con.execute("SELECT samples FROM predictions").fetchall()]
        values = [v for (v,) in con.execute("SELECT value FROM scores WHERE scorer = 'consistency'").fetchall()]
    assert len(samples) == 48 and all(len(s) == 4 for s in samples)
    assert all(v in (0.25, 0.5, 0.75, 1.0) for v in values)
    # temperature 1.0 by default with samples > 1: the few-shot variants do not always agree with themselves
    assert min(values) < 1.0
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("samples = 4", "samples = 1"), encoding="utf-8")
    refused = run_in_process("run", str(bad), "--db", str(db))
    assert refused.exit_code == 2 and "the consistency scorer needs samples ≥ 2" in refused.stderr


def test_an_unknown_reference_is_a_one_line_error(store_file: Path) -> None:
    done = run_in_process("report", "--db", str(store_file), "--reference", "few-shot-55")
    assert done.exit_code == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "ftplug: error: --reference 'few-shot-55' names no variant of experiment 'fortunes-topic' (its variants: "
        + ", ".join(_variants(store_file)) + ")"]


def _variants(db: Path) -> list[str]:
    document = json.loads(run_in_process("report", "--db", str(db), "--format", "json").stdout)
    return [v["variant"] for v in document["variants"]]


def test_the_json_report_is_strict_json_with_nothing_infinite() -> None:
    from ftplug.report.text import render_json

    infinite = {"value": float("inf"), "low": float("nan")}
    text = render_json({"experiment": "e", "variants": [{"variant": "v", "latency_ms": infinite, "simulated": True,
                                                         "source": "simulated"}]})
    document = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in the JSON report"))
    assert document["variants"][0]["latency_ms"] == {"value": None, "low": None}


def test_the_json_report_has_exactly_the_keys_its_typed_model_declares(store_file: Path) -> None:
    from ftplug.report import model

    document = json.loads(run_in_process("report", "--db", str(store_file), "--format", "json").stdout)
    assert set(document) - {"notice"} == set(model.Analysis.__annotations__)
    for variant in document["variants"]:
        assert set(variant) == set(model.VariantResult.__annotations__)
        for estimate in variant["metrics"].values():
            assert set(model.Estimate.__required_keys__) <= set(estimate) <= set(model.Estimate.__annotations__)
    assert document["comparisons"] and document["break_even"]
    for comparison in [*document["comparisons"], *document["against_best"], document["head_to_head"]]:
        assert set(comparison) == set(model.Comparison.__annotations__)
    for row in document["break_even"]:
        assert set(row) == set(model.BreakEven.__annotations__)
    assert set(document["verdict"]) == set(model.Verdict.__annotations__)
