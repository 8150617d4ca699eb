"""The DuckDB store: schema contract, batched transactional writes, aggregates for reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from ftplug.dataset import Example, Splits
from ftplug.plugins.duckdb_store import DuckDBStore
from ftplug.runs import PredictionRecord, RunInfo

CONTRACT = {
    "runs": {"run_id", "experiment", "variant", "model", "started_at", "finished_at", "status", "simulated"},
    "predictions": {"run_id", "example_id", "output", "prompt_tokens", "completion_tokens", "latency_ms", "error",
                    "simulated", "cost_usd"},
    "scores": {"run_id", "example_id", "scorer", "value"},
}


def _run(run_id: str, variant: str, minutes: int = 0) -> RunInfo:
    return RunInfo(run_id=run_id, experiment="exp", variant=variant, model="gpt-4o-mini-2024-07-18",
                   base_model="gpt-4o-mini-2024-07-18", trainer="none", prompt_builder="few-shot", simulated=True,
                   endpoint="simulator", started_at=datetime(2026, 1, 1) + timedelta(minutes=minutes))


def test_tables_follow_the_contract(tmp_path: Path) -> None:
    DuckDBStore(str(tmp_path / "s.duckdb")).close()
    with duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True) as con:
        for table, columns in CONTRACT.items():
            found = {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}
            assert columns <= found, (table, columns - found)
        assert con.execute("SELECT version FROM schema_version").fetchall() == [(1,)]


def test_batches_commit_atomically_and_reports_aggregate(tmp_path: Path) -> None:
    store = DuckDBStore(str(tmp_path / "s.duckdb"))
    store.save_examples("exp", Splits(train=(Example("a", "x", "1"),), validation=(), test=(Example("b", "y", "2"),)))
    store.start_run(_run("r1", "v"))
    store.add_predictions([
        PredictionRecord("r1", "b", "2", 10, 2, 0, 100.0, 0.001, None, {"exact": 1.0}),
        PredictionRecord("r1", "c", None, latency_ms=300.0, error="500: boom"),
    ], simulated=True)
    bad = [PredictionRecord("r1", "d", "x", scores={"exact": 0.0}),
           PredictionRecord("r1", "d", "x", scores={"exact": 0.0, None: 1.0})]  # type: ignore[dict-item]
    with pytest.raises(duckdb.Error):
        store.add_predictions(bad, simulated=True)
    store.finish_run("r1", "succeeded", datetime(2026, 1, 1, 0, 5), None, {"note": 1})
    store.start_run(_run("r0", "v", minutes=-10))  # an older run of the same variant is not reported
    [row] = store.variant_rows()
    store.close()
    assert row["run_id"] == "r1" and row["predictions"] == 2 and row["errors"] == 1
    assert row["scores"] == {"exact": 1.0} and row["details"] == {"note": 1}
    assert row["mean_latency_ms"] == pytest.approx(200.0) and row["cost_per_1k_usd"] == pytest.approx(1.0)
    with duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM predictions WHERE example_id = 'd'").fetchone() == (0,)
        assert con.execute("SELECT split FROM examples ORDER BY example_id").fetchall() == [("train",), ("test",)]
