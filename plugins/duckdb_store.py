"""The DuckDB result store: every run, prediction and score in one file users can query with SQL."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ftplug import hookimpl
from ftplug.dataset import Splits
from ftplug.errors import FtplugError
from ftplug.runs import PredictionRecord, RunInfo

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS examples (
    experiment VARCHAR NOT NULL, example_id VARCHAR NOT NULL, split VARCHAR NOT NULL,
    input VARCHAR NOT NULL, expected VARCHAR NOT NULL,
    PRIMARY KEY (experiment, example_id));
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, experiment VARCHAR NOT NULL, variant VARCHAR NOT NULL,
    model VARCHAR NOT NULL, base_model VARCHAR, trainer VARCHAR, prompt_builder VARCHAR,
    simulated BOOLEAN NOT NULL, endpoint VARCHAR,
    started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP, status VARCHAR NOT NULL,
    error VARCHAR, details JSON);
CREATE TABLE IF NOT EXISTS predictions (
    run_id VARCHAR NOT NULL, example_id VARCHAR NOT NULL, output VARCHAR,
    prompt_tokens INTEGER, completion_tokens INTEGER, cached_tokens INTEGER,
    latency_ms DOUBLE, cost_usd DOUBLE, error VARCHAR, simulated BOOLEAN NOT NULL,
    created_at TIMESTAMP DEFAULT current_timestamp,
    PRIMARY KEY (run_id, example_id));
CREATE TABLE IF NOT EXISTS scores (
    run_id VARCHAR NOT NULL, example_id VARCHAR NOT NULL, scorer VARCHAR NOT NULL, value DOUBLE,
    PRIMARY KEY (run_id, example_id, scorer));
"""

VARIANT_ROWS = """
WITH latest AS (
    SELECT * FROM runs WHERE experiment = $experiment
    QUALIFY row_number() OVER (PARTITION BY variant ORDER BY started_at DESC) = 1)
SELECT l.run_id, l.variant, l.model, l.trainer, l.status, l.simulated, l.started_at, l.details,
       count(p.example_id) AS predictions,
       count(p.error) AS errors,
       avg(p.prompt_tokens) AS mean_prompt_tokens,
       avg(p.completion_tokens) AS mean_completion_tokens,
       avg(p.latency_ms) AS mean_latency_ms,
       quantile_cont(p.latency_ms, 0.95) AS p95_latency_ms,
       sum(p.cost_usd) AS cost_usd,
       1000 * avg(p.cost_usd) AS cost_per_1k_usd
FROM latest l LEFT JOIN predictions p USING (run_id)
GROUP BY ALL ORDER BY l.started_at, l.variant
"""

SCORE_MEANS = """
SELECT run_id, scorer, avg(value) AS mean, count(value) AS n
FROM scores WHERE run_id IN (SELECT unnest($run_ids)) GROUP BY ALL
"""


class DuckDBStore:
    """A DuckDB file holding the tables of :mod:`ftplug.store`."""

    def __init__(self, path: str) -> None:
        import duckdb

        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = duckdb.connect(path)
        except duckdb.Error as error:
            raise FtplugError(f"{path}: cannot open the result store: {error}") from None
        self.db.execute(SCHEMA)
        if not self.db.execute("SELECT count(*) FROM schema_version").fetchone()[0]:
            self.db.execute("INSERT INTO schema_version VALUES (?)", [SCHEMA_VERSION])

    def save_examples(self, experiment: str, splits: Splits) -> None:
        """Store every example with its split (replacing an earlier copy of the same example)."""
        rows = [(experiment, e.id, split, e.input if isinstance(e.input, str) else json.dumps(e.input),
                 e.expected) for split, examples in splits.as_dict().items() for e in examples]
        with self._transaction():
            self.db.executemany("INSERT OR REPLACE INTO examples VALUES (?, ?, ?, ?, ?)", rows)

    def start_run(self, run: RunInfo) -> None:
        """Store a new run, status ``running``."""
        self.db.execute(
            "INSERT INTO runs (run_id, experiment, variant, model, base_model, trainer, prompt_builder, "
            "simulated, endpoint, started_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running')",
            [run.run_id, run.experiment, run.variant, run.model, run.base_model, run.trainer,
             run.prompt_builder, run.simulated, run.endpoint, run.started_at])

    def set_model(self, run_id: str, model: str) -> None:
        """Record the model a run ended up using (a trainer may produce a new one)."""
        self.db.execute("UPDATE runs SET model = ? WHERE run_id = ?", [model, run_id])

    def add_predictions(self, records: Sequence[PredictionRecord], simulated: bool) -> None:
        """Commit predictions and their scores in one transaction."""
        if not records:
            return
        prediction_rows = [(r.run_id, r.example_id, r.output, r.prompt_tokens, r.completion_tokens,
                            r.cached_tokens, r.latency_ms, r.cost_usd, r.error, simulated) for r in records]
        score_rows = [(r.run_id, r.example_id, scorer, value)
                      for r in records for scorer, value in r.scores.items()]
        with self._transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO predictions (run_id, example_id, output, prompt_tokens, "
                "completion_tokens, cached_tokens, latency_ms, cost_usd, error, simulated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", prediction_rows)
            if score_rows:
                self.db.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)", score_rows)

    def finish_run(self, run_id: str, status: str, finished_at: datetime, error: str | None,
                   details: Mapping[str, Any]) -> None:
        """Set the run's final status, error and details."""
        self.db.execute("UPDATE runs SET status = ?, finished_at = ?, error = ?, details = ? WHERE run_id = ?",
                        [status, finished_at, error, json.dumps(dict(details), default=str), run_id])

    def latest_experiment(self) -> str | None:
        """The experiment of the most recently started run."""
        row = self.db.execute("SELECT experiment FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def variant_rows(self, experiment: str | None = None) -> list[dict[str, Any]]:
        """The latest run of each variant of ``experiment`` (default: the latest one) with aggregates."""
        experiment = experiment or self.latest_experiment()
        if experiment is None:
            return []
        cursor = self.db.execute(VARIANT_ROWS, {"experiment": experiment})
        columns = [d[0] for d in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        means = self.db.execute(SCORE_MEANS, {"run_ids": [r["run_id"] for r in rows]}).fetchall()
        for row in rows:
            row["experiment"] = experiment
            row["details"] = json.loads(row["details"]) if row["details"] else {}
            row["scores"] = {scorer: mean for run_id, scorer, mean, _ in sorted(means) if run_id == row["run_id"]}
        return rows

    def close(self) -> None:
        """Checkpoint and close the file."""
        self.db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)


class _Transaction:
    """``BEGIN``/``COMMIT``, or ``ROLLBACK`` if the block raises."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN TRANSACTION")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


@hookimpl
def ftplug_open_store(path: str) -> DuckDBStore:
    """Open (creating if needed) the DuckDB file at ``path``."""
    return DuckDBStore(path)
