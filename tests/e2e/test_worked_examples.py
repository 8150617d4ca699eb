"""Every worked example in data/examples runs end to end on the simulator, and the time-series ones answer
the seed's question honestly: against naive baselines, on a chronological split."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.helpers import ROOT, run_cli

# The examples on the simulator; those of a local model (fortunes_local.toml) are real, and tests/e2e/test_real_model.py
# runs them on a handful of examples.
EXAMPLES = sorted(path for path in (ROOT / "data" / "examples").glob("*.toml")
                  if 'base = "local:' not in path.read_text(encoding="utf-8"))


SLOW_EXAMPLES = {"direction"}  # over 20 s: run by .ci/run with the other slow tests (pytest -m slow)


@pytest.mark.parametrize("experiment", [pytest.param(p, id=p.stem, marks=[pytest.mark.slow] * (p.stem in SLOW_EXAMPLES))
                                        for p in EXAMPLES])
def test_the_example_runs_end_to_end_on_the_simulator(experiment: Path, tmp_path: Path) -> None:
    db = tmp_path / "results.duckdb"
    done = run_cli("run", str(experiment), "--db", str(db), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "SIMULATED" in done.stdout + done.stderr
    with duckdb.connect(str(db), read_only=True) as connection:
        runs = connection.execute("SELECT variant, status, simulated, trainer FROM runs").fetchall()
        stored = connection.execute("SELECT count(*) FROM predictions").fetchone()[0]
    assert runs and all(status == "succeeded" for _, status, _, _ in runs)
    # model answers came from the simulator and say so; local baselines were computed here and are real
    from ftplug.plugins.trainers.baselines import BASELINES

    assert all(simulated == (trainer not in BASELINES) for _, _, simulated, trainer in runs)
    assert stored > 0


@pytest.mark.slow
def test_the_direction_example_reports_margins_over_the_naive_baselines(tmp_path: Path) -> None:
    db = tmp_path / "results.duckdb"
    assert run_cli("run", str(ROOT / "data" / "examples" / "direction.toml"), "--db", str(db), "--quiet",
                   cwd=tmp_path).returncode == 0
    report = json.loads(run_cli("report", "--db", str(db), "--format", "json").stdout)
    margins = report["baseline_margins"]
    baselines = {v["variant"] for v in report["variants"] if v["baseline"]}
    assert baselines == {"persistence", "majority", "drift", "moving-average", "linear-ar"}
    values = {v["variant"]: v["metrics"]["exact"]["value"] for v in report["variants"]}
    assert margins["baseline"] in baselines and margins["baseline_value"] == max(values[b] for b in baselines)
    for row in margins["rows"]:
        assert row["margin"] == pytest.approx(values[row["variant"]] - margins["baseline_value"])
        assert row["test"] is not None and row["test"]["n"] == 100
        assert row["test"]["clusters"] == 20 and "20 clusters" in row["test"]["method"]
    # 100 test windows are 20 origin dates × 5 currencies: the dates, not the windows, are the evidence
    assert report["clusters"] == {"key": "origin", "count": 20, "examples": 100}
    flagged = [line for line in report["verdict"]["lines"] if "naive baseline" in line]
    not_beating = [r["variant"] for r in margins["rows"] if not r["is_baseline"] and r["beats"] != "yes"]
    assert len(flagged) == len(not_beating) + (1 if values[report["verdict"]["best"]] == margins["baseline_value"]
                                               and report["verdict"]["best"] in baselines else 0)
    # the learning curve: fine-tuning on 200, 800 and all training windows, the most recent ones
    rows = {v["variant"]: v["train_rows"] for v in report["variants"] if v["variant"].startswith("fine-tuned")}
    assert rows["fine-tuned-train_size=200"] == 200 and rows["fine-tuned-train_size=800"] == 800
    assert rows["fine-tuned-train_size=all"] > 800
    html = tmp_path / "report.html"
    assert run_cli("report", "--db", str(db), "--format", "html", "-o", str(html)).returncode == 0
    page = html.read_text(encoding="utf-8")
    assert 'data-chart="train_rows"' in page and "Against the best naive baseline" in page
