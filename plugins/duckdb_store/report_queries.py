"""What the decision report is computed from (see :mod:`ftplug.report.analysis`), on the DuckDB store: the latest
run of each variant with its prediction aggregates, and the scores, costs and latencies of those runs as
NumPy columns (numbers only: run positions, each score's place in a runs × examples matrix), which
:class:`ftplug.report.matrix.ReportStatistics` lines up and resamples without another query.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ftplug.store.sql_text import sql_literal

LATEST_RUNS = """
SELECT run_id, variant, model, trainer, status, simulated, endpoint, started_at, details FROM runs
WHERE experiment = $experiment
QUALIFY row_number() OVER (PARTITION BY variant ORDER BY started_at DESC) = 1 ORDER BY started_at, variant
"""
# Per run, over a literal list of runs (a semi-join with the runs table costs more than the aggregates).
RUN_AGGREGATES = """
SELECT run_id, count(example_id) AS predictions, count(error) AS errors,
       avg(prompt_tokens) AS mean_prompt_tokens, avg(completion_tokens) AS mean_completion_tokens,
       avg(latency_ms) AS mean_latency_ms, quantile_cont(latency_ms, 0.95) AS p95_latency_ms,
       sum(cost_usd) AS cost_usd, 1000 * avg(cost_usd) AS cost_per_1k_usd,
       count(cost_usd) AS cost_n, max(abs(cost_usd * (cost_usd - 1))) = 0 AS cost_binary,  -- all 0 or 1
       count(latency_ms) AS latency_n, sum(latency_ms) AS latency_sum,
       max(abs(latency_ms * (latency_ms - 1))) = 0 AS latency_binary,
       avg(server_latency_ms) AS mean_server_latency_ms,
       quantile_cont(server_latency_ms, 0.95) AS p95_server_latency_ms, count(server_latency_ms) AS server_latency_n,
       median(in_flight) AS median_in_flight, max(in_flight) AS max_in_flight
FROM predictions WHERE run_id IN ({runs}) GROUP BY run_id
"""
NO_PREDICTIONS = {"predictions": 0, "errors": 0, "mean_prompt_tokens": None, "mean_completion_tokens": None,
                  "mean_latency_ms": None, "p95_latency_ms": None, "cost_usd": None, "cost_per_1k_usd": None,
                  "cost_n": 0, "cost_binary": None, "latency_n": 0, "latency_sum": None, "latency_binary": None,
                  "mean_server_latency_ms": None, "p95_server_latency_ms": None, "server_latency_n": 0,
                  "median_in_flight": None, "max_in_flight": None}


class ReportQueries:
    """Mixed into :class:`ftplug.plugins.duckdb_store.store.DuckDBStore`; needs its connection ``db`` and
    ``latest_experiment()``."""

    db: Any

    def latest_experiment(self) -> str | None:  # provided by the store
        raise NotImplementedError

    def variant_rows(self, experiment: str | None = None) -> list[dict[str, Any]]:
        """The latest run of each variant of ``experiment`` (default: the latest one) with its prediction
        aggregates: predictions, errors, mean prompt and completion tokens, mean and p95 latency, cost and cost
        per 1,000 predictions, and for cost and latency their count, sum and whether all are 0 or 1; the mean,
        p95 and count of the server's own times, and the median and most requests in flight."""
        experiment = experiment or self.latest_experiment()
        if experiment is None:
            return []
        rows = _dicts(self.db.execute(LATEST_RUNS, {"experiment": experiment}))
        if not rows:
            return []
        aggregates = {row["run_id"]: row for row in _dicts(self.db.execute(
            RUN_AGGREGATES.format(runs=_list([row["run_id"] for row in rows]))))}
        for row in rows:
            row.update({name: value for name, value in aggregates.get(row["run_id"], NO_PREDICTIONS).items()
                        if name != "run_id"})
            row["experiment"] = experiment
            row["details"] = json.loads(row["details"]) if row["details"] else {}
        return rows

    def scorer_names(self, run_ids: Sequence[str]) -> list[str]:
        """Every scorer that scored one of ``run_ids``, sorted."""
        rows = self.db.execute(f"SELECT DISTINCT scorer FROM scores WHERE run_id IN ({_list(run_ids)}) ORDER BY 1")
        return [row[0] for row in rows.fetchall()]

    def example_span(self, experiment: str) -> int:
        """One more than the highest example number of ``experiment`` (0 without examples)."""
        row = self.db.execute("SELECT coalesce(max(number) + 1, 0) FROM examples WHERE experiment = ?",
                              [experiment]).fetchone()
        return int(row[0])

    def score_errors(self, run_ids: Sequence[str]) -> list[tuple[int, str, int]]:
        """(run position, scorer, count) of the scores of ``run_ids`` whose scorer failed."""
        return self.db.execute(
            f"SELECT {_run_position(run_ids)} - 1, scorer, count(*) FROM scores "
            f"WHERE error IS NOT NULL AND run_id IN ({_list(run_ids)}) GROUP BY ALL").fetchall()

    def score_cells(self, run_ids: Sequence[str], scorer: str, span: int) -> dict[str, Any]:
        """Every score of ``run_ids`` by ``scorer`` as NumPy columns: ``cell``, its place in a runs × examples
        matrix (run position × ``span`` + the example's number, which is always below ``span``; ``-1 - run
        position`` for a score whose example has no number) and ``value`` (NaN when missing)."""
        return self.db.execute(_per_run(run_ids, lambda position: (
            f"coalesce({position} * {int(span)} + example_no, {-1 - position})::BIGINT AS cell, "
            "coalesce(value, 'NaN'::DOUBLE) AS value FROM scores"), f"AND scorer = {sql_literal(scorer)}")).fetchnumpy()

    def prediction_sample(self, run_ids: Sequence[str], fraction: float) -> dict[str, Any]:
        """Cost and latency of a seeded random share ``fraction`` of the predictions of ``run_ids`` (all of them
        when ``fraction`` ≥ 1) as NumPy columns: ``run`` (position in the list), ``cost_usd`` and ``latency_ms``
        (NaN when missing)."""
        chosen = "" if fraction >= 1 else f"AND hash(rowid) % 1000000 < {max(1, int(fraction * 1_000_000))}"
        return self.db.execute(_per_run(run_ids, lambda position: (
            f"{position}::USMALLINT AS run, coalesce(cost_usd, 'NaN'::DOUBLE) AS cost_usd, "
            "coalesce(latency_ms, 'NaN'::DOUBLE) AS latency_ms FROM predictions"), chosen)).fetchnumpy()

    def prediction_histograms(self, run_ids: Sequence[str], column: str) -> list[tuple[int, float, int]]:
        """(run position, value, count) of ``column`` (``cost_usd`` or ``latency_ms``) in ``run_ids``."""
        if column not in ("cost_usd", "latency_ms"):
            raise ValueError(f"not a prediction metric: {column}")
        return self.db.execute(
            f"SELECT {_run_position(run_ids)} - 1, {column}, count(*) FROM predictions "
            f"WHERE run_id IN ({_list(run_ids)}) AND {column} IS NOT NULL GROUP BY ALL").fetchall()

    def example_clusters(self, experiment: str) -> dict[str, Any]:
        """The cluster of each example of ``experiment`` that has one, as NumPy columns ``number`` and
        ``cluster`` (see ``[report] cluster``)."""
        return self.db.execute("SELECT number, cluster FROM examples WHERE experiment = ? AND cluster IS NOT NULL "
                               "AND number IS NOT NULL ORDER BY number", [experiment]).fetchnumpy()

    def predicted_cells(self, run_ids: Sequence[str], span: int, experiment: str) -> Any:
        """Where each prediction of ``run_ids`` (answered or failed) sits in a runs × examples matrix: run
        position × ``span`` + the example's number, as one NumPy column."""
        return self.db.execute(_per_run(run_ids, lambda position: (
            f"{position} * {int(span)} + e.number AS cell FROM predictions p JOIN examples e "
            f"ON e.experiment = {sql_literal(experiment)} AND e.example_id = p.example_id"),
            "AND e.number IS NOT NULL", table="p")).fetchnumpy()["cell"]

    def label_cells(self, run_ids: Sequence[str], scorer: str, span: int, experiment: str) -> dict[str, Any]:
        """Each label ``scorer`` read from the answers of ``run_ids`` (where it scored), with its place in a
        runs × examples matrix (``cell``) and the example's expected output, as NumPy columns."""
        return self.db.execute(_per_run(run_ids, lambda position: (
            f"{position} * {int(span)} + s.example_no AS cell, coalesce(s.label, '') AS label, e.expected "
            f"FROM scores s JOIN examples e ON e.experiment = {sql_literal(experiment)} "
            "AND e.example_id = s.example_id"),
            f"AND s.scorer = {sql_literal(scorer)} AND s.value IS NOT NULL AND s.example_no IS NOT NULL",
            table="s")).fetchnumpy()

    def label_counts(self, run_ids: Sequence[str], scorers: Sequence[str]) -> list[tuple[Any, ...]]:
        """(run, scorer, expected, label, count) for classification scorers."""
        return self.db.execute(
            "SELECT s.run_id, s.scorer, e.expected, s.label, count(*) FROM scores s JOIN runs r USING (run_id) "
            "JOIN examples e ON e.experiment = r.experiment AND e.example_id = s.example_id "
            "WHERE s.run_id IN (SELECT unnest($ids)) AND s.scorer IN (SELECT unnest($scorers)) "
            "AND s.value IS NOT NULL GROUP BY ALL", {"ids": list(run_ids), "scorers": list(scorers)}).fetchall()

    def sample_score_means(self, run_ids: Sequence[str]) -> list[tuple[str, str, int, float | None, int]]:
        """(run, scorer, sample number from 1, mean value, values) over the scores of ``run_ids`` that have
        per-sample values (``scores.sample_values``): each sample's score of the run, as if it were a rerun."""
        return self.db.execute(
            "SELECT run_id, scorer, j, avg(v), count(v) FROM (SELECT run_id, scorer, unnest(sample_values) AS v, "
            "unnest(range(1, len(sample_values) + 1)) AS j FROM scores "
            f"WHERE run_id IN ({_list(run_ids)}) AND sample_values IS NOT NULL) GROUP BY ALL ORDER BY ALL").fetchall()

    def sample_disagreements(self, run_ids: Sequence[str]) -> list[tuple[str, str, int, int, int]]:
        """(run, scorer, examples, examples whose samples do not all score the same, most samples of one) over
        the scores of ``run_ids`` with per-sample values; a missing value differs from any number."""
        return self.db.execute(
            "SELECT run_id, scorer, count(*), count(*) FILTER (WHERE NOT (list_count(sample_values) = 0 OR "
            "(list_count(sample_values) = len(sample_values) AND len(list_distinct(sample_values)) = 1))), "
            f"max(len(sample_values)) FROM scores WHERE run_id IN ({_list(run_ids)}) AND sample_values IS NOT NULL "
            "GROUP BY ALL ORDER BY ALL").fetchall()


def _dicts(cursor: Any) -> list[dict[str, Any]]:
    """A query's rows as dicts by column name."""
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _list(texts: Sequence[str]) -> str:
    """``texts`` as a SQL list of string literals for ``IN (…)``, never empty. Values are inlined here: bound as
    parameters they defeat DuckDB's constant folding, and a filter over millions of rows runs many times
    slower."""
    return ", ".join(sql_literal(text) for text in texts) or "NULL"


def _run_position(run_ids: Sequence[str]) -> str:
    """A SQL expression for a row's run: its 1-based position in ``run_ids`` (the list inlined as a value)."""
    return f"list_position([{_list(run_ids)}], run_id)"


def _per_run(run_ids: Sequence[str], select: Any, condition: str, table: str = "") -> str:
    """One ``SELECT`` per run, its position a constant, joined by ``UNION ALL``: each part reads only its run's
    row groups, and no row compares its run id with a list (as one query over every run would).
    ``select(position)`` gives the columns and ``FROM``; ``condition`` is ANDed on; ``table``
    names the table whose run id is meant when the ``FROM`` joins several."""
    run_id = f"{table}.run_id" if table else "run_id"
    if not run_ids:
        return f"SELECT {select(0)} WHERE false"
    return " UNION ALL ".join(f"SELECT {select(position)} WHERE {run_id} = {sql_literal(run)} {condition}"
                              for position, run in enumerate(run_ids))
