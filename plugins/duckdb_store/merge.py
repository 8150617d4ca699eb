"""Combining result files: the shards of a sharded run (``ftplug run --shard i/n``) become whole runs again.

Every input is opened once (which brings an older file to the current schema) and then attached read-only
to the output. Examples, the response cache and fine-tuning jobs are united (an example new to the output is
numbered after its experiment's last one there, and every score then takes its example's number in the
output). A run that covered the whole test split is copied as it is. The shard runs of one variant — the
same experiment, variant and run key — become one run whose id is derived from that key, so merging in
several steps (or merging a shard that was re-run) lands in the same run; it is ``succeeded`` once all n
shards are in and each succeeded, ``partial`` before. A later ``ftplug run`` of the experiment on the merged
file resumes a partial run and leaves a complete one alone, like any run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftplug.errors import InputError
from ftplug.store.sql_text import sql_literal

UNITED_TABLES = ("response_cache", "finetune_jobs", "finetune_events")


@dataclass
class MergedRun:
    """One run of the output made from shard runs."""

    experiment: str
    variant: str
    run_id: str
    shards: list[int]
    count: int
    status: str
    predictions: int = 0
    models: list[str] = field(default_factory=list)


@dataclass
class MergeSummary:
    """What a merge did."""

    copied_runs: int = 0
    merged: list[MergedRun] = field(default_factory=list)


def merge_stores(out: str, inputs: Sequence[str]) -> MergeSummary:
    """Merge the result files ``inputs`` into ``out`` (created if missing; what it holds is kept).

    :raises InputError: an input that is missing, is ``out`` itself, or is not a result file.
    """
    from ftplug.plugins.duckdb_store.store import DuckDBStore

    resolved_out = Path(out).resolve()
    for path in inputs:
        if not Path(path).is_file():
            raise InputError(f"{path}: no such result file")
        if Path(path).resolve() == resolved_out:
            raise InputError(f"{path}: is the output file; name a new or different OUT")
        DuckDBStore(path).close()  # migrates an older file, refuses one that is not a result store
    store = DuckDBStore(out)
    try:
        db = store.db
        for index, path in enumerate(inputs):
            db.execute(f"ATTACH {sql_literal(str(Path(path).resolve()))} AS source{index} (READ_ONLY)")
        summary = MergeSummary()
        db.execute("BEGIN TRANSACTION")
        try:
            for index in range(len(inputs)):
                summary.copied_runs += _copy_whole(db, f"source{index}")
            summary.merged = _merge_shards(db, [f"source{index}" for index in range(len(inputs))])
            db.execute("UPDATE scores SET example_no = e.number FROM runs r, examples e WHERE scores.run_id = r.run_id "
                       "AND e.experiment = r.experiment AND e.example_id = scores.example_id "
                       "AND scores.example_no IS DISTINCT FROM e.number")
            db.execute("COMMIT")
        except Exception:
            db.execute("ROLLBACK")
            raise
        return summary
    finally:
        store.close()


def _copy_whole(db: Any, source: str) -> int:
    """Copy ``source``'s shared tables and its runs that cover the whole test split; how many runs."""
    db.execute("INSERT INTO examples (experiment, example_id, split, input, expected, number) "
               "SELECT s.experiment, s.example_id, s.split, s.input, s.expected, coalesce(b.next, 0) "
               "+ row_number() OVER (PARTITION BY s.experiment ORDER BY s.number, s.example_id) - 1 "
               f"FROM {source}.examples s LEFT JOIN examples o USING (experiment, example_id) "
               "LEFT JOIN (SELECT experiment, max(number) + 1 AS next FROM examples GROUP BY experiment) b "
               "USING (experiment) WHERE o.example_id IS NULL")
    for table in UNITED_TABLES:
        db.execute(f"INSERT OR IGNORE INTO {table} BY NAME SELECT * FROM {source}.{table}")
    whole = f"SELECT run_id FROM {source}.runs WHERE shard IS NULL"
    before = db.execute("SELECT count(*) FROM runs").fetchone()[0]
    db.execute(f"INSERT OR IGNORE INTO runs BY NAME SELECT * FROM {source}.runs WHERE shard IS NULL")
    for table in ("predictions", "scores"):
        db.execute(f"INSERT OR IGNORE INTO {table} BY NAME SELECT * FROM {source}.{table} WHERE run_id IN ({whole})")
    return int(db.execute("SELECT count(*) FROM runs").fetchone()[0] - before)


def _merged_id(experiment: str, variant: str, config_key: str, count: int) -> str:
    return hashlib.sha256(f"{experiment}\n{variant}\n{config_key}\n{count}".encode()).hexdigest()[:32]


def _merge_shards(db: Any, sources: list[str]) -> list[MergedRun]:
    shard_runs = " UNION ALL ".join(
        f"SELECT '{source}' AS source, * FROM {source}.runs WHERE shard IS NOT NULL" for source in sources)
    rows = db.execute(
        f"SELECT source, run_id, experiment, variant, config_key, shard, status, model FROM ({shard_runs}) "
        "ORDER BY started_at").fetchall()
    groups: dict[tuple[str, str, str, int], list[tuple[Any, ...]]] = {}
    for source, run_id, experiment, variant, key, shard, status, model in rows:
        index, count = (int(part) for part in shard.split("/"))
        groups.setdefault((experiment, variant, key, count), []).append((source, run_id, index, status, model))
    merged = []
    for (experiment, variant, key, count), members in groups.items():
        run_id = _merged_id(experiment, variant, key, count)
        first_source, first_run = members[0][0], members[0][1]
        existing = db.execute("SELECT details FROM runs WHERE run_id = ?", [run_id]).fetchone()
        shards: dict[str, dict[str, Any]] = json.loads(existing[0] or "{}").get("shards", {}) if existing else {}
        if existing is None:
            db.execute(f"INSERT INTO runs BY NAME SELECT * REPLACE (? AS run_id, NULL AS shard) "
                       f"FROM {first_source}.runs WHERE run_id = ?", [run_id, first_run])
        for source, shard_run, index, status, model in members:
            shards[str(index)] = {"run_id": shard_run, "status": status, "model": model}
            for table in ("predictions", "scores"):
                db.execute(f"INSERT OR REPLACE INTO {table} BY NAME SELECT * REPLACE (? AS run_id) "
                           f"FROM {source}.{table} WHERE run_id = ?", [run_id, shard_run])
        complete = len(shards) == count and all(part["status"] == "succeeded" for part in shards.values())
        models = sorted({part["model"] for part in shards.values()})
        starts = " UNION ALL ".join(f"SELECT started_at, finished_at FROM {source}.runs WHERE run_id IN "
                                    f"(SELECT unnest(?))" for source in sources)
        ids = [part["run_id"] for part in shards.values()]
        started, finished = db.execute(f"SELECT min(started_at), max(finished_at) FROM ({starts})",
                                       [ids] * len(sources)).fetchone()
        details = json.loads(db.execute("SELECT details FROM runs WHERE run_id = ?", [run_id]).fetchone()[0] or "{}")
        details["shards"] = shards
        details["shard_count"] = count
        db.execute("UPDATE runs SET status = ?, started_at = coalesce(?, started_at), finished_at = ?, details = ?, "
                   "error = ? WHERE run_id = ?",
                   ["succeeded" if complete else "partial", started, finished, json.dumps(details),
                    None if complete else f"{len(shards)} of {count} shards merged", run_id])
        predictions = db.execute("SELECT count(*) FROM predictions WHERE run_id = ?", [run_id]).fetchone()[0]
        merged.append(MergedRun(experiment, variant, run_id, sorted(int(i) for i in shards), count,
                                "succeeded" if complete else "partial", int(predictions), models))
    return merged
