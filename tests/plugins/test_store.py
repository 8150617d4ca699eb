"""The DuckDB store: schema contract, batched transactional writes, aggregates for reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from ftplug.dataset import Example, Splits
from ftplug.plugins.duckdb_store.store import SCHEMA_VERSION, DuckDBStore
from ftplug.store.records import PredictionRecord, RunInfo

CONTRACT = {
    "runs": {"run_id", "experiment", "variant", "model", "started_at", "finished_at", "status", "simulated"},
    "predictions": {"run_id", "example_id", "output", "prompt_tokens", "completion_tokens", "latency_ms", "error",
                    "simulated", "cost_usd"},
    "scores": {"run_id", "example_id", "scorer", "value"},
    "finetune_jobs": {"job_id", "experiment", "variant", "base_model", "status", "fine_tuned_model", "trained_tokens",
                      "training_cost_usd", "created_at", "finished_at", "error", "simulated"},
    "finetune_events": {"job_id", "event_id", "created_at", "message", "step", "train_loss", "valid_loss",
                        "simulated"},
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
        assert con.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_a_version_1_file_is_migrated_forward_and_keeps_its_rows(tmp_path: Path) -> None:
    path = str(tmp_path / "old.duckdb")
    with duckdb.connect(path) as con:
        con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);"
                    "CREATE TABLE scores (run_id VARCHAR NOT NULL, example_id VARCHAR NOT NULL, "
                    "scorer VARCHAR NOT NULL, value DOUBLE, PRIMARY KEY (run_id, example_id, scorer));"
                    "INSERT INTO scores VALUES ('r', 'e', 'exact', 1.0)")
    DuckDBStore(path).close()
    with duckdb.connect(path, read_only=True) as con:
        assert con.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert con.execute("SELECT count(*) FROM finetune_jobs").fetchone() == (0,)
        assert con.execute("SELECT * FROM scores").fetchall() == [("r", "e", "exact", 1.0, None, None, None, None)]


def test_a_version_6_file_gets_example_numbers_per_experiment_and_scores_take_them(tmp_path: Path) -> None:
    path = str(tmp_path / "six.duckdb")
    store = DuckDBStore(path)
    for experiment, ids in (("exp", ("b", "a", "c")), ("other", ("z", "a"))):
        store.save_examples(experiment, Splits(train=(), validation=(),
                                               test=tuple(Example(i, "x", "1") for i in ids)))
    store.start_run(_run("r1", "v"))
    store.add_predictions([PredictionRecord("r1", i, "1", scores={"exact": 1.0}) for i in ("c", "a", "nowhere")],
                          simulated=True)
    store.close()
    with duckdb.connect(path) as con:  # as schema 6 left it: no numbers
        con.execute("ALTER TABLE scores DROP COLUMN example_no; ALTER TABLE examples DROP COLUMN number;"
                    "UPDATE schema_version SET version = 6")
    DuckDBStore(path).close()
    with duckdb.connect(path, read_only=True) as con:
        numbers = con.execute("SELECT experiment, list(number ORDER BY number) FROM examples GROUP BY ALL "
                              "ORDER BY ALL").fetchall()
        assert numbers == [("exp", [0, 1, 2]), ("other", [0, 1])]  # dense and distinct in each experiment
        scored = con.execute("SELECT s.example_id, s.example_no, e.number FROM scores s LEFT JOIN examples e "
                             "ON e.experiment = 'exp' AND e.example_id = s.example_id ORDER BY ALL").fetchall()
        assert [(example, no) for example, no, _ in scored] == [
            ("a", scored[0][2]), ("c", scored[1][2]), ("nowhere", None)]
        assert None not in (scored[0][2], scored[1][2])


def test_examples_keep_their_numbers_and_new_ones_follow(tmp_path: Path) -> None:
    store = DuckDBStore(str(tmp_path / "s.duckdb"))
    first = tuple(Example(i, "x", "1") for i in ("q", "p", "r"))
    store.save_examples("exp", Splits(train=first[:1], validation=(), test=first[1:]))
    changed = (Example("p", "x", "2"), Example("new", "y", "1"), Example("r", "x", "1"))  # p's answer changed
    store.save_examples("exp", Splits(train=first[:1], validation=(), test=changed))
    store.start_run(_run("r1", "v"))
    store.add_predictions([PredictionRecord("r1", i, "1", scores={"exact": 1.0, "f": 0.5}) for i in ("new", "p")],
                          simulated=True)
    numbers = dict(store.db.execute("SELECT example_id, number FROM examples").fetchall())
    scored = store.db.execute("SELECT DISTINCT example_id, example_no FROM scores ORDER BY ALL").fetchall()
    store.close()
    assert numbers == {"q": 0, "p": 1, "r": 2, "new": 3}
    assert scored == [("new", 3), ("p", 1)]


@pytest.mark.parametrize("colliding", [False, True])
def test_every_score_gets_its_examples_number_even_when_ids_share_a_hash(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, colliding: bool) -> None:
    import numpy as np

    from ftplug.plugins.duckdb_store import example_numbers as duckdb_example_numbers

    if colliding:  # ids of one length share a hash: the exact lookup in the database answers instead
        monkeypatch.setattr(duckdb_example_numbers, "id_hashes",
                            lambda ids: np.array([len(i) for i in ids], dtype=np.int64))
    store = DuckDBStore(str(tmp_path / "s.duckdb"))
    store.save_examples("exp", Splits(train=(), validation=(), test=tuple(Example(i, "x", "1") for i in "qpr")))
    store.start_run(_run("r1", "v"))
    store.start_run(_run("r2", "w"))
    store.add_predictions([PredictionRecord("r1", "r", "1", scores={"exact": 1.0}),  # two runs in one batch,
                           PredictionRecord("r2", "q", "1", scores={"exact": 0.0, "mae": 2.0}),  # different scorers
                           PredictionRecord("r2", "gone", "1", scores={"exact": 1.0})], simulated=True)
    store.save_examples("exp", Splits(train=(), validation=(), test=(Example("late", "y", "1"),)))
    store.add_predictions([PredictionRecord("r1", "late", "1", scores={"exact": 1.0})], simulated=True)
    scored = store.db.execute("SELECT run_id, example_id, scorer, example_no FROM scores ORDER BY ALL").fetchall()
    store.close()
    assert scored == [("r1", "late", "exact", 3), ("r1", "r", "exact", 2), ("r2", "gone", "exact", None),
                      ("r2", "q", "exact", 0), ("r2", "q", "mae", 0)]


def test_a_file_from_a_newer_ftplug_is_refused(tmp_path: Path) -> None:
    from ftplug.errors import FtplugError

    path = str(tmp_path / "new.duckdb")
    with duckdb.connect(path) as con:
        con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (99)")
    with pytest.raises(FtplugError, match="written by a newer ftplug"):
        DuckDBStore(path)


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
    means = store.db.execute("SELECT scorer, value FROM summary").fetchall()
    store.close()
    assert row["run_id"] == "r1" and row["predictions"] == 2 and row["errors"] == 1
    assert means == [("exact", 1.0)] and row["details"] == {"note": 1}
    assert row["p95_latency_ms"] == pytest.approx(290.0) and row["latency_n"] == 2 and not row["latency_binary"]
    assert row["mean_latency_ms"] == pytest.approx(200.0) and row["cost_per_1k_usd"] == pytest.approx(1.0)
    with duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM predictions WHERE example_id = 'd'").fetchone() == (0,)
        assert con.execute("SELECT split FROM examples ORDER BY example_id").fetchall() == [("train",), ("test",)]


def _many(run_id: str, count: int, first: int = 0, output: str = "1") -> list[PredictionRecord]:
    return [PredictionRecord(run_id, f"e{i:06d}", output, 10, 1, 0, 5.0, 0.0, None, {"exact": 1.0, "mae": 0.5})
            for i in range(first, first + count)]


def _log_growth(path: str, batches: list[list[PredictionRecord]]) -> tuple[int, int]:
    """Bytes the write-ahead log grew by while ``batches`` were committed, and the predictions' row groups."""
    store = DuckDBStore(path)
    store.start_run(_run("r1", "v"))
    wal = Path(f"{path}.wal")
    before = wal.stat().st_size if wal.exists() else 0
    for batch in batches:
        store.add_predictions(batch, simulated=True)
    growth = (wal.stat().st_size if wal.exists() else 0) - before
    row_groups = store.db.execute("SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('predictions')"
                                  ).fetchone()[0]
    store.close()
    return growth, row_groups


def test_a_large_commit_is_written_into_the_file_not_logged_row_by_row(tmp_path: Path) -> None:
    from ftplug.plugins.duckdb_store.store import ROW_GROUP_ROWS

    records = _many("r1", 40_000)
    large, row_groups = _log_growth(str(tmp_path / "large.duckdb"), [records])
    small, _ = _log_growth(str(tmp_path / "small.duckdb"),
                           [records[first:first + 1_000] for first in range(0, len(records), 1_000)])
    assert row_groups == -(-len(records) // ROW_GROUP_ROWS) == 2  # DuckDB's default would make one
    assert large * 10 < small, (large, small)
    with duckdb.connect(str(tmp_path / "large.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT example_id) FROM scores").fetchone() == (80_000, 40_000)


def test_a_file_written_with_larger_row_groups_takes_more_predictions_and_replacements(tmp_path: Path) -> None:
    path = str(tmp_path / "s.duckdb")
    store = DuckDBStore(path)
    store.start_run(_run("r1", "v"))
    store.close()
    with duckdb.connect(path) as con:  # DuckDB's own row groups: the last one holds more than ours may
        con.execute("INSERT INTO predictions (run_id, example_id, output, simulated) "
                    "SELECT 'r1', 'e' || lpad(i::VARCHAR, 6, '0'), '0', true FROM range(60000) t(i)")
    store = DuckDBStore(path)
    store.add_predictions(_many("r1", 40_000, first=60_000), simulated=True)
    store.add_predictions(_many("r1", 20_000, first=50_000, output="again"), simulated=True)  # 10,000 replaced
    store.close()
    with duckdb.connect(path, read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT example_id), count(*) FILTER (WHERE output = 'again') "
                           "FROM predictions").fetchone() == (100_000, 100_000, 20_000)


@pytest.mark.parametrize("name", ["memory.duckdb", "temp.duckdb", "system.duckdb", "results.duckdb", "it's.duckdb"])
def test_any_file_name_opens_and_spills_beside_the_file(tmp_path: Path, name: str) -> None:
    path = str(tmp_path / name)
    store = DuckDBStore(path)
    store.start_run(_run("r1", "v"))
    store.add_predictions(_many("r1", 3), simulated=True)
    spill = store.db.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    store.close()
    assert spill == f"{path}.tmp"
    store = DuckDBStore(path)
    assert store.run_counts("r1") == (3, 0)
    store.close()


def test_missing_numbers_and_nan_are_null(tmp_path: Path) -> None:
    store = DuckDBStore(str(tmp_path / "s.duckdb"))
    store.start_run(_run("r1", "v"))
    nan = float("nan")
    store.add_predictions([PredictionRecord("r1", "a", "1", 10, None, 0, 5.0, None, None, {"mae": nan}),
                           PredictionRecord("r1", "b", "1", None, 2, 0, nan, 0.5, None, {"mae": None})], simulated=True)
    store.add_predictions([PredictionRecord("r1", "c", "1", 3, 4, 0, nan, 0.1, None, {"mae": 2.0}),
                           PredictionRecord("r1", "d", "1", 5, 6, 0, 1.0, 0.2, None, {"mae": nan})], simulated=True)
    rows = store.db.execute("SELECT example_id, prompt_tokens, completion_tokens, latency_ms, cost_usd "
                            "FROM predictions ORDER BY example_id").fetchall()
    scores = store.db.execute("SELECT example_id, value FROM scores ORDER BY 1").fetchall()
    store.close()
    assert rows == [("a", 10, None, 5.0, None), ("b", None, 2, None, 0.5), ("c", 3, 4, None, 0.1),
                    ("d", 5, 6, 1.0, 0.2)]
    assert scores == [("a", None), ("b", None), ("c", 2.0), ("d", None)]


def test_score_cells_and_the_prediction_sample_place_each_row_by_run_position(tmp_path: Path) -> None:
    store = DuckDBStore(str(tmp_path / "s.duckdb"))
    store.save_examples("exp", Splits(train=(), validation=(), test=(Example("a", "x", "1"), Example("b", "y", "0"))))
    for run_id, minutes in (("r1", 0), ("r2", 1), ("it's", 2)):
        store.start_run(_run(run_id, run_id, minutes))
    store.add_predictions([PredictionRecord("r2", "b", "0", 1, 1, 0, 7.0, 0.5, None, {"exact": 1.0}),
                           PredictionRecord("r2", "unknown", "0", 1, 1, 0, None, 0.25, None, {"exact": None}),
                           PredictionRecord("r1", "a", "1", 1, 1, 0, 3.0, None, None, {"exact": 0.0, "mae": 2.0}),
                           PredictionRecord("it's", "a", "1", 1, 1, 0, 4.0, 1.0, None, {"exact": 1.0})],
                          simulated=True)
    order = ["it's", "r1", "r2", "never-run"]
    cells = store.score_cells(order, "exact", span=2)
    sample = store.prediction_sample(order, 1.0)
    empty = store.score_cells([], "exact", span=2)
    store.close()
    found = sorted(zip(cells["cell"].tolist(), cells["value"].tolist(), strict=True), key=lambda c: c[0])
    assert found[0][0] == -3 and found[0][1] != found[0][1]  # r2's unknown example: no number, value NaN
    assert found[1:] == [(0, 1.0), (2, 0.0), (5, 1.0)]  # position × span + example number
    rows = sorted(zip(sample["run"].tolist(), sample["cost_usd"].tolist(), sample["latency_ms"].tolist(),
                      strict=True), key=lambda r: (r[0], r[1] if r[1] == r[1] else -1))
    assert [r[0] for r in rows] == [0, 1, 2, 2] and rows[0][1:] == (1.0, 4.0) and rows[3][1:] == (0.5, 7.0)
    assert rows[1][1] != rows[1][1] and rows[2][2] != rows[2][2]  # missing cost, missing latency: NaN
    assert len(empty["cell"]) == 0 and len(empty["value"]) == 0
