"""The DuckDB result store: every run, prediction and score in one file users can query with SQL."""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftplug import hookimpl
from ftplug.dataset import Splits
from ftplug.errors import FtplugError
from ftplug.plugins.duckdb_store.batch_ledger import BatchLedgerTables
from ftplug.plugins.duckdb_store.job_ledger import JobLedgerTables
from ftplug.plugins.duckdb_store.report_queries import ReportQueries
from ftplug.plugins.duckdb_store.schema import (
    MIGRATIONS,
    PREDICTION_COLUMNS,
    SCHEMA,
    SCHEMA_VERSION,
    SCORE_COLUMNS,
    VIEWS,
)
from ftplug.store.sql_text import sql_literal

if TYPE_CHECKING:
    from ftplug.plugins.duckdb_store.example_numbers import ExampleNumbers
    from ftplug.store.records import PredictionRecord, RunInfo

ROW_GROUP_ROWS = 32_768
"""Rows per row group of the result file opened for writing (DuckDB's default: 122,880). A transaction that
appends at least a row group's rows writes those row groups straight into the file, compressed, instead of
logging every row in the write-ahead log and writing it again at the next checkpoint: with this size, the
runner's largest commits (50,000 predictions, 100,000 scores) mostly bypass the log, so their rows are written
once; small commits are logged."""
RESULT_CATALOG = "results"  # the name the result file is attached under when opened for writing


def connect_result_file(path: str, read_only: bool = False, config: dict[str, Any] | None = None) -> Any:
    """A DuckDB connection to a result file; a file another process holds is one clear error naming it.

    Opened for writing, the file is attached with :data:`ROW_GROUP_ROWS` rows per row group (a setting of the
    attachment, not of the file) and made the connection's default database; its cursors need
    :func:`use_result_file`."""
    import duckdb

    try:
        if read_only or path == ":memory:":
            return duckdb.connect(path, read_only=read_only, config=config or {})
        # spilled data goes beside the file, as when the file is the connection's own database
        db = duckdb.connect(":memory:", config={"temp_directory": f"{path}.tmp", **(config or {})})
        try:
            db.execute(f"ATTACH {sql_literal(path)} AS {RESULT_CATALOG} (ROW_GROUP_SIZE {ROW_GROUP_ROWS})")
        except BaseException:
            db.close()
            raise
        return use_result_file(db)
    except duckdb.Error as error:
        held = re.search(r"Conflicting lock is held in .*?\(PID (\d+)\)", str(error))
        if held:
            raise FtplugError(f"{path}: in use by another process (PID {held.group(1)}), e.g. a running `ftplug "
                              "run`: one process at a time may open a result file; wait for it to finish, use "
                              "another --db, or read a copy of the file") from None
        raise FtplugError(f"{path}: cannot open the result store: {str(error).splitlines()[0]}") from None


def use_result_file(connection: Any) -> Any:
    """``connection`` (a connection or cursor of :func:`connect_result_file`) with the result file as its
    default database, so that unqualified table names are the result store's."""
    if connection.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = ?",
                          [RESULT_CATALOG]).fetchone()[0]:
        connection.execute(f"USE {RESULT_CATALOG}")
    return connection


class DuckDBStore(ReportQueries, JobLedgerTables, BatchLedgerTables):
    """A DuckDB file holding the tables of :mod:`ftplug.store`."""

    def __init__(self, path: str) -> None:

        self.path = path
        self._write_cursor: Any = None
        self._numbers: dict[str, ExampleNumbers] = {}  # by experiment, loaded when its predictions arrive
        self._run_experiments: dict[str, str] = {}
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = connect_result_file(path, config=_connection_config())
        self.db.execute(SCHEMA)  # every table is CREATE IF NOT EXISTS: older files gain the newer tables
        row = self.db.execute("SELECT max(version) FROM schema_version").fetchone()
        if row is None or row[0] is None:
            self.db.execute("INSERT INTO schema_version VALUES (?)", [SCHEMA_VERSION])
        elif row[0] > SCHEMA_VERSION:
            raise FtplugError(f"{path}: written by a newer ftplug (schema {row[0]}, this one knows "
                              f"{SCHEMA_VERSION}); upgrade ftplug to use it")
        elif row[0] < SCHEMA_VERSION:
            with self._transaction():
                for version in range(row[0] + 1, SCHEMA_VERSION + 1):
                    for statement in MIGRATIONS[version]:
                        self.db.execute(statement)
                self.db.execute("UPDATE schema_version SET version = ?", [SCHEMA_VERSION])
        if row is None or row[0] is None or row[0] <= SCHEMA_VERSION:
            self.db.execute(VIEWS)

    def save_examples(self, experiment: str, splits: Splits, clusters: dict[str, str] | None = None) -> None:
        """Store every example with its split and its cluster (from ``clusters`` by id, else none); an example
        already stored is updated only if it changed.

        Rows go in column-wise, a chunk at a time (per-row upserts cost over a millisecond each; larger chunks
        make DuckDB's join and numbering of a chunk take more memory, in no less time)."""
        import numpy as np

        chunk = 20_000
        grouped = clusters or {}
        rows = ((e.id, split, e.input if isinstance(e.input, str) else json.dumps(e.input), e.expected,
                 grouped.get(e.id)) for split, examples in splits.as_dict().items() for e in examples)
        self._numbers.pop(experiment, None)
        try:
            with self._transaction():
                while batch := list(itertools.islice(rows, chunk)):
                    ids, split_names, inputs, expected, groups = (np.array(values, dtype=object)
                                                                  for values in zip(*batch, strict=True))
                    self.db.register("new_examples", {"example_id": ids, "split": split_names, "input": inputs,
                                                      "expected": expected, "cluster": groups.astype(str),
                                                      "has_cluster": groups != None,  # noqa: E711
                                                      "position": np.arange(len(ids))})
                    # an example keeps its number; new ones are numbered after the experiment's last, in order
                    self.db.execute(
                        "INSERT OR REPLACE INTO examples (experiment, example_id, split, input, expected, number, "
                        "cluster) SELECT $e, n.example_id, n.split, n.input, n.expected, coalesce(o.number, "
                        "(SELECT coalesce(max(number) + 1, 0) FROM examples WHERE experiment = $e) "
                        "+ row_number() OVER (PARTITION BY o.number IS NULL ORDER BY n.position) - 1), "
                        "CASE WHEN n.has_cluster THEN n.cluster END "
                        "FROM new_examples n LEFT JOIN (SELECT * FROM examples WHERE experiment = $e) o "
                        "ON o.example_id = n.example_id WHERE o.example_id IS NULL OR o.split <> n.split "
                        "OR o.input <> n.input OR o.expected <> n.expected "
                        "OR o.cluster IS DISTINCT FROM CASE WHEN n.has_cluster THEN n.cluster END",
                        {"e": experiment})
        finally:  # after the commit or rollback: an aborted transaction refuses even this
            self.db.unregister("new_examples")

    def start_run(self, run: RunInfo) -> None:
        """Store a new run, status ``running``."""
        self.db.execute(
            "INSERT INTO runs (run_id, experiment, variant, model, base_model, trainer, prompt_builder, "
            "simulated, endpoint, started_at, status, config_key, shard) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)",
            [run.run_id, run.experiment, run.variant, run.model, run.base_model, run.trainer,
             run.prompt_builder, run.simulated, run.endpoint, run.started_at, run.config_key or None, run.shard])
        self._run_experiments[run.run_id] = run.experiment

    def cached_responses(self, keys: Sequence[str]) -> dict[str, str]:
        """The cached responses (JSON) of those ``keys`` that are in the cache."""
        if not keys:
            return {}
        rows = self.db.execute("SELECT key, response FROM response_cache WHERE key IN (SELECT unnest($k))",
                               {"k": list(keys)}).fetchall()
        return dict(rows)

    def cache_stats(self) -> dict[str, Any]:
        """Entries and hits by kind of endpoint, and how many stored predictions came from the cache."""
        entries = self.db.execute("SELECT simulated, count(*), sum(hits) FROM response_cache GROUP BY ALL").fetchall()
        answered, total = self.db.execute(
            "SELECT count(*) FILTER (WHERE from_cache), count(*) FROM predictions").fetchone()
        return {"entries": {("simulated" if s else "live"): int(n) for s, n, _ in entries},
                "hits": {("simulated" if s else "live"): int(h or 0) for s, _, h in entries},
                "predictions_from_cache": int(answered), "predictions": int(total)}

    def clear_cache(self) -> int:
        """Empty the cache; how many entries it held."""
        count = self.db.execute("SELECT count(*) FROM response_cache").fetchone()[0]
        self.db.execute("DELETE FROM response_cache")
        return int(count)

    def resumable_run(self, experiment: str, variant: str, config_key: str,
                      shard: str | None = None) -> tuple[str, str, Any] | None:
        """The newest run of ``variant`` with ``config_key`` and ``shard``: ``(run_id, status, started_at)``."""
        row = self.db.execute(
            "SELECT run_id, status, started_at FROM runs WHERE experiment = ? AND variant = ? AND config_key = ? "
            "AND shard IS NOT DISTINCT FROM ? ORDER BY started_at DESC LIMIT 1",
            [experiment, variant, config_key, shard]).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def stored_examples(self, run_id: str) -> set[str]:
        """The examples of ``run_id`` that have a prediction without an error."""
        rows = self.db.execute("SELECT example_id FROM predictions WHERE run_id = ? AND error IS NULL",
                               [run_id]).fetchall()
        return {row[0] for row in rows}

    def reopen_run(self, run_id: str) -> None:
        """Mark an earlier run as running again (it is being resumed)."""
        self.db.execute("UPDATE runs SET status = 'running', finished_at = NULL, error = NULL WHERE run_id = ?",
                        [run_id])

    def run_counts(self, run_id: str) -> tuple[int, int]:
        """Stored predictions of ``run_id`` and how many of them hold an error."""
        row = self.db.execute("SELECT count(*), count(error) FROM predictions WHERE run_id = ?", [run_id]).fetchone()
        return int(row[0]), int(row[1])

    def set_model(self, run_id: str, model: str) -> None:
        """Record the model a run ended up using (a trainer may produce a new one)."""
        self.db.execute("UPDATE runs SET model = ? WHERE run_id = ?", [model, run_id])

    def set_answered_here(self, run_id: str) -> None:
        """Record that a run is answered in this process: not simulated, endpoint ``local``, its predictions
        (of an earlier, resumed attempt) too."""
        with self._transaction():
            self.db.execute("UPDATE runs SET simulated = false, endpoint = 'local' WHERE run_id = ?", [run_id])
            self.db.execute("UPDATE predictions SET simulated = false WHERE run_id = ? AND simulated", [run_id])

    def add_predictions(self, records: Sequence[PredictionRecord], simulated: bool) -> None:
        """Commit predictions and their scores in one transaction. The rows go in column-wise (NumPy
        columns scanned by DuckDB); a prediction stored before (a retry) is replaced."""
        if not records:
            return
        import duckdb

        from ftplug.config.secrets import redact
        from ftplug.plugins.duckdb_store.rows import cache_entry_rows, prediction_rows, score_rows

        now = datetime.now(UTC).replace(tzinfo=None)
        predictions = prediction_rows(records, simulated, now, redact)
        scores = score_rows(records, predictions, self._example_numbers(predictions))
        cache_rows = cache_entry_rows(records, simulated, now)
        hits = [r.cache_key for r in records if r.from_cache and r.cache_key]
        try:  # plain inserts are the common case and much faster than upserts
            self._insert_columns(predictions, scores, "INSERT", cache_rows, hits)
        except duckdb.ConstraintException:  # some were stored before (a retried prediction): replace them
            self._insert_columns(predictions, scores, "INSERT OR REPLACE", cache_rows, hits)

    def _insert_columns(self, predictions: dict[str, Any], scores: dict[str, Any], verb: str,
                        cache_rows: dict[str, Any], hits: list[str]) -> None:
        writes = self._writes()
        writes.register("new_predictions", predictions)
        writes.register("new_scores", scores)
        writes.register("new_cache", cache_rows)
        try:
            with _Transaction(writes):
                if len(cache_rows["key"]):  # in the same transaction: a stored answer is always also cached
                    writes.execute("INSERT OR IGNORE INTO response_cache (key, model, response, simulated, "
                                   "created_at) SELECT c.key, r.model, c.response, c.simulated, c.created_at "
                                   "FROM new_cache c JOIN runs r USING (run_id)")
                if hits:
                    writes.execute("UPDATE response_cache SET hits = hits + 1 WHERE key IN (SELECT unnest($k))",
                                   {"k": hits})
                writes.execute(f"{verb} INTO predictions ({', '.join(PREDICTION_COLUMNS)}) "
                               f"SELECT {', '.join(PREDICTION_COLUMNS)} FROM new_predictions")
                if len(scores["run_id"]):
                    from ftplug.plugins.duckdb_store.example_numbers import MISSING

                    writes.execute(f"{verb} INTO scores ({', '.join(SCORE_COLUMNS)}, example_no, sample_values) "
                                   f"SELECT {', '.join(SCORE_COLUMNS)}, nullif(example_no, {MISSING}), "
                                   "sample_values::VARCHAR::DOUBLE[] FROM new_scores")
        finally:
            writes.unregister("new_predictions")
            writes.unregister("new_scores")
            writes.unregister("new_cache")

    def _example_numbers(self, predictions: dict[str, Any]) -> Any:
        """Each prediction's example number (``MISSING`` for an example never stored in its run's experiment)."""
        import numpy as np

        from ftplug.plugins.duckdb_store.example_numbers import MISSING, ExampleNumbers

        run_ids, example_ids = predictions["run_id"], predictions["example_id"]
        found = np.full(len(run_ids), MISSING, dtype=np.int32)
        runs = set(run_ids)  # a batch normally holds one run
        for run_id in runs:
            rows = slice(None) if len(runs) == 1 else np.flatnonzero(run_ids == run_id)
            experiment = self._experiment_of(run_id)
            if experiment is None:
                continue
            if experiment not in self._numbers:
                self._numbers[experiment] = ExampleNumbers(self._writes(), experiment)
            found[rows] = self._numbers[experiment].find(example_ids[rows])
        return found

    def _experiment_of(self, run_id: str) -> str | None:
        if run_id not in self._run_experiments:
            rows = self._writes().execute("SELECT experiment FROM runs WHERE run_id = ?", [run_id]).fetchall()
            if not rows:
                return None
            self._run_experiments[run_id] = rows[0][0]
        return self._run_experiments[run_id]

    def finish_run(self, run_id: str, status: str, finished_at: datetime, error: str | None,
                   details: Mapping[str, Any]) -> None:
        """Set the run's final status, error and details."""
        from ftplug.config.secrets import redact

        self.db.execute("UPDATE runs SET status = ?, finished_at = ?, error = ?, details = ? WHERE run_id = ?",
                        [status, finished_at, redact(error) if error else None,
                         redact(json.dumps(dict(details), default=str)), run_id])

    def latest_experiment(self) -> str | None:
        """The experiment of the most recently started run."""
        row = self.db.execute("SELECT experiment FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def close(self) -> None:
        """Checkpoint and close the file."""
        if self._write_cursor is not None:
            self._write_cursor.close()
        self.db.close()

    def _writes(self) -> Any:
        """The connection predictions are written on: a cursor of its own, because the runner commits them
        from a writer thread while it reads on its thread (a DuckDB connection serves one thread at a time)."""
        if self._write_cursor is None:
            self._write_cursor = use_result_file(self.db.cursor())
        return self._write_cursor

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)


def _connection_config() -> dict[str, str]:
    """DuckDB settings: its memory limit (``FTPLUG_DB_MEMORY``, e.g. ``512MB``) — by default DuckDB keeps up to
    80 % of the machine's memory of table blocks cached, which a long run writing millions of rows would
    otherwise hold on to — and a checkpoint only once the write-ahead log reaches 64 MB: every commit is
    durable in the log either way; at DuckDB's 16 MB default a run writing at speed spends more time
    checkpointing, while larger thresholds keep more uncheckpointed data in memory."""
    config = {"checkpoint_threshold": "64MB"}
    limit = os.environ.get("FTPLUG_DB_MEMORY", "")
    if limit:
        config["memory_limit"] = limit
    return config


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
