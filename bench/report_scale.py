"""The report and the store at scale: 1,000,000 predictions across 10 variants.

    pip install -e '.[bench]'          # pyarrow, for the bulk-insert reference only
    python bench/report_scale.py [--predictions 1000000] [--variants 10]

Writes the predictions (each with an ``exact`` score, 0/1, and an ``mae`` score, continuous) through the
store in the batches the runner commits at speed, and beside it bulk-inserts the same rows from an Arrow
table into a fresh file of the same schema, in alternating order over a few rounds: the store's median rate
must reach at least 50 % of the bulk insert's.
Then times the full report analysis (bootstrap CIs for every metric, paired comparisons, break-even)
beside a plain GROUP BY aggregation of the same predictions, interleaved, and compares their medians: the
ratio must stay below 20.
The data are generated (seeded), not model outputs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from ftplug.dataset import Example, Splits
from ftplug.engine.sink import MAX_BATCH
from ftplug.plugins.duckdb_store.store import PREDICTION_COLUMNS, SCORE_COLUMNS, DuckDBStore
from ftplug.report.analysis import analyse
from ftplug.store.records import PredictionRecord, RunInfo


def generate(predictions: int, variants: int) -> tuple[list[Example], list[RunInfo], list[list[PredictionRecord]]]:
    """Seeded examples, runs and predictions with realistic value ranges."""
    rng = np.random.default_rng(0)
    per_variant = predictions // variants
    examples = [Example(f"ex-{i:07d}", f"input {i}", "yes" if i % 3 else "no") for i in range(per_variant)]
    start = datetime(2026, 11, 1)
    runs, batches = [], []
    for v in range(variants):
        run = RunInfo(run_id=f"run-{v:02d}", experiment="scale", variant=f"variant-{v:02d}",
                      model="gpt-4o-mini-2024-07-18", base_model="gpt-4o-mini-2024-07-18", trainer="none",
                      prompt_builder="few-shot", simulated=True, endpoint="generated",
                      started_at=start + timedelta(minutes=v))
        runs.append(run)
        correct = rng.random(per_variant) < 0.5 + 0.03 * v
        error = rng.gamma(2.0, 0.5 - 0.02 * v, per_variant)
        prompt_tokens = rng.integers(50, 2000, per_variant)
        latency = rng.lognormal(5.0, 0.4, per_variant)
        cost = (prompt_tokens * 0.15 + 3 * 0.6) / 1e6
        batches.append([PredictionRecord(run_id=run.run_id, example_id=examples[i].id, output="yes",
                                         prompt_tokens=int(prompt_tokens[i]), completion_tokens=3, cached_tokens=0,
                                         latency_ms=float(latency[i]), cost_usd=float(cost[i]),
                                         scores={"exact": float(correct[i]), "mae": float(error[i])})
                        for i in range(per_variant)])
    return examples, runs, batches


def write_through_store(path: Path, examples: list[Example], runs: list[RunInfo],
                        batches: list[list[PredictionRecord]]) -> float:
    """Seconds spent in ``add_predictions`` for every prediction, in the runner's largest batches, and in the
    final checkpoint when the store closes."""
    store = DuckDBStore(str(path))
    store.save_examples("scale", Splits(train=(), validation=(), test=tuple(examples)))
    spent = 0.0
    for run, records in zip(runs, batches, strict=True):
        store.start_run(run)
        for first in range(0, len(records), MAX_BATCH):
            started = time.perf_counter()
            store.add_predictions(records[first:first + MAX_BATCH], simulated=True)
            spent += time.perf_counter() - started
        store.finish_run(run.run_id, "succeeded", run.started_at, None, {
            "scorers": {"exact": {"name": "exact", "aggregate": "mean", "higher_is_better": True},
                        "mae": {"name": "mae", "aggregate": "mean", "higher_is_better": False}},
            "report": {"primary": "exact", "reference": runs[0].variant, "volume": 0}})
    started = time.perf_counter()
    store.close()  # the final checkpoint: part of writing, on both sides
    return spent + time.perf_counter() - started


def bulk_insert(path: Path, batches: list[list[PredictionRecord]]) -> float:
    """Seconds for one ``INSERT … SELECT`` of the same rows from Arrow tables into the same schema, and for the
    final checkpoint when the file closes."""
    import pyarrow as pa

    store = DuckDBStore(str(path))
    now = datetime.now()
    records = [r for batch in batches for r in batch]
    predictions = pa.table({
        "run_id": [r.run_id for r in records], "example_id": [r.example_id for r in records],
        "output": [r.output for r in records], "prompt_tokens": [r.prompt_tokens for r in records],
        "completion_tokens": [r.completion_tokens for r in records],
        "cached_tokens": [r.cached_tokens for r in records], "latency_ms": [r.latency_ms for r in records],
        "cost_usd": [r.cost_usd for r in records], "error": pa.array([None] * len(records), pa.string()),
        "simulated": [True] * len(records), "created_at": [now] * len(records),
        "samples": pa.array([None] * len(records), pa.string()), "from_cache": [False] * len(records)})
    scores = pa.table({
        "run_id": [r.run_id for r in records for _ in r.scores],
        "example_id": [r.example_id for r in records for _ in r.scores],
        "scorer": [name for r in records for name in r.scores],
        "value": [value for r in records for value in r.scores.values()],
        "label": pa.array([None] * (2 * len(records)), pa.string()),
        "error": pa.array([None] * (2 * len(records)), pa.string()),
        "example_no": [int(r.example_id[3:]) for r in records for _ in r.scores]})  # as the store numbers them
    started = time.perf_counter()
    store.db.execute("BEGIN TRANSACTION")
    store.db.register("predictions_arrow", predictions)
    store.db.register("scores_arrow", scores)
    store.db.execute(f"INSERT INTO predictions ({', '.join(PREDICTION_COLUMNS)}) SELECT * FROM predictions_arrow")
    store.db.execute(f"INSERT INTO scores ({', '.join(SCORE_COLUMNS)}, example_no) SELECT * FROM scores_arrow")
    store.db.execute("COMMIT")
    store.close()
    return time.perf_counter() - started


def main() -> None:
    """Run both measurements and print them with their ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--predictions", type=int, default=1_000_000)
    parser.add_argument("--variants", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=9, help="timed rounds of the report and the GROUP BY")
    parser.add_argument("--write-rounds", type=int, default=3, help="timed rounds of writing through the store "
                        "and of the bulk insert")
    args = parser.parse_args()
    examples, runs, batches = generate(args.predictions, args.variants)
    total = sum(len(b) for b in batches)
    with tempfile.TemporaryDirectory() as folder:
        through_store, bulk = [], []
        for round_no in range(args.write_rounds):  # alternating which goes first, each into fresh files
            store_path, bulk_path = Path(folder) / f"store-{round_no}.duckdb", Path(folder) / f"bulk-{round_no}.duckdb"
            if round_no % 2:
                bulk.append(bulk_insert(bulk_path, batches))
                through_store.append(write_through_store(store_path, examples, runs, batches))
            else:
                through_store.append(write_through_store(store_path, examples, runs, batches))
                bulk.append(bulk_insert(bulk_path, batches))
            bulk_path.unlink()
            if round_no < args.write_rounds - 1:
                store_path.unlink()
        store_rate, bulk_rate = total / statistics.median(through_store), total / statistics.median(bulk)
        print(f"write {total:,} predictions (+{2 * total:,} scores): store {store_rate:,.0f} predictions/s "
              f"({statistics.median(through_store):.2f} s, batches of {MAX_BATCH:,}); Arrow bulk insert "
              f"{bulk_rate:,.0f}/s ({statistics.median(bulk):.2f} s) (medians of {args.write_rounds}; per round "
              f"store / bulk {', '.join(f'{b / s:.2f}' for s, b in zip(through_store, bulk, strict=True))})")
        print(f"store / bulk = {store_rate / bulk_rate:.2f} (target ≥ 0.50): "
              f"{'PASS' if store_rate / bulk_rate >= 0.5 else 'FAIL'}")
        store = DuckDBStore(str(store_path))
        group_by, group_by_scores, reports = [], [], []
        for _ in range(args.rounds):  # interleaved, so that both sides see the machine in the same state
            started = time.perf_counter()
            store.db.execute("SELECT run_id, count(*), avg(latency_ms), sum(cost_usd), avg(prompt_tokens) "
                             "FROM predictions GROUP BY run_id").fetchall()
            group_by.append(time.perf_counter() - started)
            started = time.perf_counter()
            store.db.execute("SELECT run_id, scorer, count(*), avg(value) FROM scores GROUP BY ALL").fetchall()
            group_by_scores.append(time.perf_counter() - started)
            started = time.perf_counter()
            analysis = analyse(store, "scale")
            reports.append(time.perf_counter() - started)
        store.close()
        aggregate, report = statistics.median(group_by), statistics.median(reports)
        print(f"report with bootstrap CIs ({len(analysis['variants'])} variants, "
              f"{len(analysis['comparisons'])} paired comparisons): {report:.3f} s; plain GROUP BY: {aggregate:.3f} s "
              f"(medians of {args.rounds}; fastest {min(reports):.3f} s and {min(group_by):.3f} s)")
        ratio = report / aggregate
        print(f"report / GROUP BY = {ratio:.1f} (target < 20): {'PASS' if ratio < 20 else 'FAIL'}")
        scores_group_by = statistics.median(group_by_scores)
        print(f"(for scale: a plain GROUP BY of the 2,000,000 score rows takes {scores_group_by:.3f} s, "
              f"ratio {report / scores_group_by:.1f})")


if __name__ == "__main__":
    main()
