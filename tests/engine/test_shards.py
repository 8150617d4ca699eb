"""Sharded runs: disjoint deterministic slices into their own files, merged back into whole runs."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ftplug.dataset import Example
from ftplug.engine.planning import shard_of
from tests.helpers import EXAMPLE, run_cli

PER_VARIANT = ("SELECT r.variant, r.status, r.shard, count(p.example_id), count(DISTINCT p.example_id), "
               "count(p.error) FROM runs r LEFT JOIN predictions p USING (run_id) GROUP BY ALL ORDER BY 1")


def test_shards_are_disjoint_cover_the_split_and_do_not_depend_on_order() -> None:
    test = tuple(Example(f"e{i}", "x", "y") for i in range(1000))
    slices = [shard_of(test, 7, index, 3) for index in (1, 2, 3)]
    ids = [{e.id for e in part} for part in slices]
    assert set.union(*ids) == {e.id for e in test} and sum(map(len, ids)) == 1000
    assert all(250 < len(part) < 420 for part in ids)  # roughly a third each
    assert {e.id for e in shard_of(tuple(reversed(test)), 7, 2, 3)} == ids[1]
    with pytest.raises(ValueError, match="between 1 and 3"):
        shard_of(test, 7, 4, 3)


def _counts(db: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as connection:
        return connection.execute(PER_VARIANT).fetchall()


@pytest.mark.slow
def test_two_shards_run_into_their_own_files_and_merge_into_whole_runs(tmp_path: Path) -> None:
    common = ("run", str(EXAMPLE), "--limit", "20", "--quiet")
    for index in (1, 2):
        done = run_cli(*common, "--shard", f"{index}/2", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / f"ftplug.shard-{index}-of-2.duckdb").is_file()  # the default file of a shard
    first, second = (_counts(tmp_path / f"ftplug.shard-{index}-of-2.duckdb") for index in (1, 2))
    assert {row[2] for row in first} == {"1/2"} and {row[2] for row in second} == {"2/2"}
    sizes = {row[3] for row in first}
    assert len(sizes) == 1 and 0 < sizes.pop() < 20  # every variant predicted the same slice
    only_first = run_cli("merge", "merged.duckdb", "ftplug.shard-1-of-2.duckdb", cwd=tmp_path)
    assert only_first.returncode == 0, only_first.stderr
    assert "shards 1 of 2" in only_first.stdout and "partial; missing shard(s) 2" in only_first.stdout
    merged = run_cli("merge", "merged.duckdb", "ftplug.shard-2-of-2.duckdb", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    assert "shards 1,2 of 2, 20 predictions, succeeded" in merged.stdout
    rows = _counts(tmp_path / "merged.duckdb")
    assert [(variant, status, shard, n, distinct, errors) for variant, status, shard, n, distinct, errors in rows] == [
        (variant, "succeeded", None, 20, 20, 0) for variant in ("few-shot-40", "few-shot-5", "fine-tuned", "zero-shot")]
    # the merged file holds the same examples a whole run asks about, and a run on it has nothing left to do
    whole = run_cli(*common, "--db", "whole.duckdb", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    with duckdb.connect(str(tmp_path / "whole.duckdb"), read_only=True) as a, \
            duckdb.connect(str(tmp_path / "merged.duckdb"), read_only=True) as b:
        query = "SELECT DISTINCT example_id FROM predictions ORDER BY 1"
        assert a.execute(query).fetchall() == b.execute(query).fetchall()
    again = run_cli("run", str(EXAMPLE), "--limit", "20", "--db", "merged.duckdb", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("complete: all 20 predictions are stored") == 4, again.stderr
    assert len(_counts(tmp_path / "merged.duckdb")) == 4  # no new run
    report = run_cli("report", "--db", "merged.duckdb", "--format", "json", cwd=tmp_path)
    assert report.returncode == 0 and '"simulated": true' in report.stdout


def test_bad_shards_and_merge_inputs_are_refused_in_one_line(tmp_path: Path) -> None:
    bad = run_cli("run", str(EXAMPLE), "--shard", "3/2", cwd=tmp_path)
    assert bad.returncode == 2 and "write I/N with 1 ≤ I ≤ N" in bad.stderr and "Traceback" not in bad.stderr
    missing = run_cli("merge", "out.duckdb", "nope.duckdb", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.duckdb: no such result file" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_merged_scores_take_their_examples_numbers_in_the_output(tmp_path: Path) -> None:
    from datetime import datetime

    from ftplug.dataset import Splits
    from ftplug.plugins.duckdb_store.merge import merge_stores
    from ftplug.plugins.duckdb_store.store import DuckDBStore
    from ftplug.store.records import PredictionRecord, RunInfo

    for name, ids in (("a", ("p", "q")), ("b", ("r", "q", "p"))):  # the same examples, stored in other orders
        store = DuckDBStore(str(tmp_path / f"{name}.duckdb"))
        store.save_examples("exp", Splits(train=(), validation=(), test=tuple(Example(i, "x", "1") for i in ids)))
        store.start_run(RunInfo(run_id=f"run-{name}", experiment="exp", variant=name, model="m", base_model="m",
                                trainer="none", prompt_builder="few-shot", simulated=True, endpoint="simulator",
                                started_at=datetime(2026, 1, 1)))
        store.add_predictions([PredictionRecord(f"run-{name}", i, "1", scores={"exact": 1.0}) for i in ids],
                              simulated=True)
        store.close()
    merge_stores(str(tmp_path / "out.duckdb"), [str(tmp_path / "a.duckdb"), str(tmp_path / "b.duckdb")])
    with duckdb.connect(str(tmp_path / "out.duckdb"), read_only=True) as out:
        assert dict(out.execute("SELECT example_id, number FROM examples").fetchall()) == {"p": 0, "q": 1, "r": 2}
        assert out.execute("SELECT run_id, example_id, example_no FROM scores ORDER BY ALL").fetchall() == [
            ("run-a", "p", 0), ("run-a", "q", 1), ("run-b", "p", 0), ("run-b", "q", 1), ("run-b", "r", 2)]
