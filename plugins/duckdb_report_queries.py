"""The aggregations the decision report is computed from (see :mod:`ftplug.analysis`), on the DuckDB store.

Scores are pivoted to one row per scorer and example with a column per run, so every paired statistic is one
pass over the table; continuous metrics are sampled by a hash of the example id, the same examples in every
run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

VARIANT_ROWS = """
WITH latest AS (
    SELECT * FROM runs WHERE experiment = $experiment
    QUALIFY row_number() OVER (PARTITION BY variant ORDER BY started_at DESC) = 1),
per_run AS (  -- aggregated per run first: grouping 1M rows by the run's wide columns would cost far more
    SELECT run_id, count(example_id) AS predictions, count(error) AS errors,
           avg(prompt_tokens) AS mean_prompt_tokens, avg(completion_tokens) AS mean_completion_tokens,
           avg(latency_ms) AS mean_latency_ms, quantile_cont(latency_ms, 0.95) AS p95_latency_ms,
           sum(cost_usd) AS cost_usd, 1000 * avg(cost_usd) AS cost_per_1k_usd,
           count(cost_usd) AS cost_n, bool_and(cost_usd IN (0, 1)) AS cost_binary,
           approx_count_distinct(cost_usd) AS cost_distinct,
           count(latency_ms) AS latency_n, sum(latency_ms) AS latency_sum,
           bool_and(latency_ms IN (0, 1)) AS latency_binary, approx_count_distinct(latency_ms) AS latency_distinct
    FROM predictions WHERE run_id IN (SELECT run_id FROM latest) GROUP BY run_id)
SELECT l.run_id, l.variant, l.model, l.trainer, l.status, l.simulated, l.started_at, l.details,
       coalesce(r.predictions, 0) AS predictions, coalesce(r.errors, 0) AS errors, r.mean_prompt_tokens,
       r.mean_completion_tokens, r.mean_latency_ms, r.p95_latency_ms, r.cost_usd, r.cost_per_1k_usd,
       coalesce(r.cost_n, 0) AS cost_n, r.cost_binary, coalesce(r.cost_distinct, 0) AS cost_distinct,
       coalesce(r.latency_n, 0) AS latency_n, r.latency_sum, r.latency_binary,
       coalesce(r.latency_distinct, 0) AS latency_distinct
FROM latest l LEFT JOIN per_run r USING (run_id) ORDER BY l.started_at, l.variant
"""
SCORE_SUMMARY = """
SELECT run_id, scorer, count(value) AS n, count(*) - count(value) AS missing, count(error) AS errors,
       sum(value) AS total, bool_and(value IN (0, 1)) AS binary, approx_count_distinct(value) AS distinct_values
FROM scores WHERE run_id IN (SELECT unnest($run_ids)) GROUP BY ALL
"""


class ReportQueries:
    """Mixed into :class:`ftplug.plugins.duckdb_store.DuckDBStore`; needs its connection ``db`` and
    ``latest_experiment()``."""

    db: Any

    def latest_experiment(self) -> str | None:  # provided by the store
        raise NotImplementedError

    def variant_rows(self, experiment: str | None = None) -> list[dict[str, Any]]:
        """The latest run of each variant of ``experiment`` (default: the latest one) with aggregates:
        prediction counts, tokens, latency, cost, and per scorer ``scores`` (means) and ``score_summary``
        (values, missing, errors, sum, all-0/1, distinct values)."""
        experiment = experiment or self.latest_experiment()
        if experiment is None:
            return []
        cursor = self.db.execute(VARIANT_ROWS, {"experiment": experiment})
        columns = [d[0] for d in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        summary = self.db.execute(SCORE_SUMMARY, {"run_ids": [r["run_id"] for r in rows]}).fetchall()
        for row in rows:
            row["experiment"] = experiment
            row["details"] = json.loads(row["details"]) if row["details"] else {}
            mine = sorted(entry for entry in summary if entry[0] == row["run_id"])
            row["scores"] = {scorer: (total / n if n else None) for _, scorer, n, _, _, total, _, _ in mine}
            row["score_summary"] = {scorer: {"n": n, "missing": missing, "errors": errors, "sum": total or 0.0,
                                             "binary": bool(binary), "distinct": distinct}
                                    for _, scorer, n, missing, errors, total, binary, distinct in mine}
        return rows

    def score_pairs(self, run_ids: Sequence[str], pairs: Sequence[tuple[int, int]]) -> list[tuple[Any, ...]]:
        """Per scorer, then for each (variant, reference) pair of positions in ``run_ids``, over the examples
        both scored: pairs, mean difference, and the discordant counts of 0/1 values (variant only right,
        reference only right). One pass: the scores are pivoted to one row per scorer and example with a
        column per run."""
        columns = ", ".join(f"max(value) FILTER (WHERE k = {i + 1}) AS v{i}" for i in range(len(run_ids)))
        aggregates = ", ".join(  # few, simple aggregates: over 100,000s of examples each one costs
            f"count(v{a} - v{b}), avg(v{a} - v{b}), sum(CASE WHEN v{a} = 1 AND v{b} = 0 THEN 1 ELSE 0 END), "
            f"sum(CASE WHEN v{a} = 0 AND v{b} = 1 THEN 1 ELSE 0 END)" for a, b in pairs)
        return self.db.execute(
            "WITH numbered AS (SELECT scorer, example_id, list_position($ids, run_id) AS k, value FROM scores "
            f"WHERE run_id IN (SELECT unnest($ids))), paired AS (SELECT scorer, {columns} FROM numbered "
            f"GROUP BY scorer, example_id) SELECT scorer, {aggregates} FROM paired GROUP BY scorer",
            {"ids": list(run_ids)}).fetchall()

    def score_histograms(self, run_ids: Sequence[str], scorers: Sequence[str],
                         pairs: Sequence[tuple[int, int]]) -> list[tuple[Any, ...]]:
        """(position, scorer, value, count): the value histogram of each run (positions 0…) and then the
        per-example difference histogram of each pair (positions after the runs), for ``scorers``."""
        columns = ", ".join(f"max(value) FILTER (WHERE run_id = {_literal(run)}) AS v{i}"
                            for i, run in enumerate(run_ids))
        expressions = [f"v{i}" for i in range(len(run_ids))] + [f"v{a} - v{b}" for a, b in pairs]
        parts = " UNION ALL ".join(f"SELECT {k}, scorer, {e}, count(*) FROM paired WHERE {e} IS NOT NULL GROUP BY ALL"
                                   for k, e in enumerate(expressions))
        return self.db.execute(
            f"WITH paired AS (SELECT scorer, {columns} FROM scores WHERE run_id IN (SELECT unnest($ids)) "
            f"AND scorer IN (SELECT unnest($scorers)) GROUP BY scorer, example_id) {parts}",
            {"ids": list(run_ids), "scorers": list(scorers)}).fetchall()

    def score_subsample(self, run_ids: Sequence[str], scorers: Sequence[str], fraction: float,
                        parts: int) -> dict[str, Any]:
        """A seeded random subset of examples for ``scorers`` (chosen by a hash of the example id, so the
        same examples in every run): NumPy columns scorer, part and v0… (one row per example, NaN where a
        run has no value), sorted by scorer."""
        columns = ", ".join(f"coalesce(max(value) FILTER (WHERE run_id = {_literal(run)}), 'NaN'::DOUBLE) AS v{i}"
                            for i, run in enumerate(run_ids))
        return self.db.execute(
            f"SELECT scorer, any_value(hash(example_id)) % {int(parts)} AS part, {columns} FROM scores "
            "WHERE run_id IN (SELECT unnest($ids)) AND scorer IN (SELECT unnest($scorers)) "
            f"AND (hash(example_id) // {int(parts)}) % 1000000 < {_cut(fraction)} GROUP BY scorer, example_id "
            "ORDER BY scorer",
            {"ids": list(run_ids), "scorers": list(scorers)}).fetchnumpy()

    def prediction_histograms(self, run_ids: Sequence[str], column: str) -> list[tuple[Any, ...]]:
        """(run position, value, count) of ``column`` (``cost_usd`` or ``latency_ms``)."""
        if column not in ("cost_usd", "latency_ms"):
            raise ValueError(f"not a prediction metric: {column}")
        return self.db.execute(
            f"SELECT list_position($ids, run_id) - 1, {column}, count(*) FROM predictions "
            f"WHERE run_id IN (SELECT unnest($ids)) AND {column} IS NOT NULL GROUP BY ALL",
            {"ids": list(run_ids)}).fetchall()

    def prediction_subsample(self, run_ids: Sequence[str], fraction: float, parts: int) -> dict[str, Any]:
        """Cost and latency of a seeded random subset of each run's predictions: NumPy columns run (1-based
        position), part, cost_usd, latency_ms (NaN when missing)."""
        return self.db.execute(
            f"SELECT list_position($ids, run_id) AS run, hash(rowid) % {int(parts)} AS part, "
            "coalesce(cost_usd, 'NaN'::DOUBLE) AS cost_usd, coalesce(latency_ms, 'NaN'::DOUBLE) AS latency_ms "
            f"FROM predictions WHERE run_id IN (SELECT unnest($ids)) "
            f"AND (hash(rowid) // {int(parts)}) % 1000000 < {_cut(fraction)} ORDER BY run",
            {"ids": list(run_ids)}).fetchnumpy()

    def label_counts(self, run_ids: Sequence[str], scorers: Sequence[str]) -> list[tuple[Any, ...]]:
        """(run, scorer, expected, label, count) for classification scorers."""
        return self.db.execute(
            "SELECT s.run_id, s.scorer, e.expected, s.label, count(*) FROM scores s JOIN runs r USING (run_id) "
            "JOIN examples e ON e.experiment = r.experiment AND e.example_id = s.example_id "
            "WHERE s.run_id IN (SELECT unnest($ids)) AND s.scorer IN (SELECT unnest($scorers)) "
            "AND s.value IS NOT NULL GROUP BY ALL", {"ids": list(run_ids), "scorers": list(scorers)}).fetchall()


def _literal(text: str) -> str:
    """``text`` as a SQL string literal (for values inlined where a parameter would slow the query down)."""
    return "'" + text.replace("'", "''") + "'"


def _cut(fraction: float) -> int:
    """The hash threshold (out of 1,000,000) that keeps about ``fraction`` of the rows. Inlined into the SQL
    as a constant: bound as a parameter it defeats DuckDB's constant folding and the filter runs ~20× slower."""
    return max(1, int(fraction * 1_000_000))
