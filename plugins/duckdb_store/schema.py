"""The result store's tables, views and forward migrations (the column names are a contract with users'
SQL), in one place."""

from __future__ import annotations

SCHEMA_VERSION = 10  # 2: finetune tables; 3: score labels/errors, samples; 4: runs.config_key; 5: response cache;
# 6: runs.shard, batch_jobs; 7: examples.number, scores.example_no; 8: predictions.server_latency_ms, in_flight;
# 9: examples.cluster (the group a test example belongs to, for clustered intervals and tests);
# 10: scores.sample_values (with [scoring] samples ≥ 2: the scorer's value on each sample, the first being `value`)
# An example's `number` is given when it is first stored in its experiment and kept for good; each score carries
# it as `example_no`, so that the report lines the runs' scores up by position in arrays instead of joining ids.

SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS examples (
    experiment VARCHAR NOT NULL, example_id VARCHAR NOT NULL, split VARCHAR NOT NULL,
    input VARCHAR NOT NULL, expected VARCHAR NOT NULL, number INTEGER, cluster VARCHAR,
    PRIMARY KEY (experiment, example_id));
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, experiment VARCHAR NOT NULL, variant VARCHAR NOT NULL,
    model VARCHAR NOT NULL, base_model VARCHAR, trainer VARCHAR, prompt_builder VARCHAR,
    simulated BOOLEAN NOT NULL, endpoint VARCHAR,
    started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP, status VARCHAR NOT NULL,
    error VARCHAR, details JSON, config_key VARCHAR, shard VARCHAR);
CREATE TABLE IF NOT EXISTS predictions (
    run_id VARCHAR NOT NULL, example_id VARCHAR NOT NULL, output VARCHAR,
    prompt_tokens INTEGER, completion_tokens INTEGER, cached_tokens INTEGER,
    latency_ms DOUBLE, cost_usd DOUBLE, error VARCHAR, simulated BOOLEAN NOT NULL,
    created_at TIMESTAMP DEFAULT current_timestamp, samples JSON, from_cache BOOLEAN DEFAULT false,
    server_latency_ms DOUBLE, in_flight INTEGER,
    PRIMARY KEY (run_id, example_id));
CREATE TABLE IF NOT EXISTS response_cache (
    key VARCHAR PRIMARY KEY, model VARCHAR NOT NULL, response JSON NOT NULL, simulated BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL, hits INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS scores (
    run_id VARCHAR NOT NULL, example_id VARCHAR NOT NULL, scorer VARCHAR NOT NULL, value DOUBLE,
    label VARCHAR, error VARCHAR, example_no INTEGER, sample_values DOUBLE[],
    PRIMARY KEY (run_id, example_id, scorer));
CREATE TABLE IF NOT EXISTS finetune_jobs (
    job_id VARCHAR PRIMARY KEY, key VARCHAR NOT NULL, experiment VARCHAR NOT NULL, variant VARCHAR NOT NULL,
    base_model VARCHAR NOT NULL, endpoint VARCHAR NOT NULL, simulated BOOLEAN NOT NULL, status VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL, hyperparameters JSON, suffix VARCHAR, training_file VARCHAR,
    validation_file VARCHAR, training_examples INTEGER, api_key_env VARCHAR, estimated_cost_usd DOUBLE,
    fine_tuned_model VARCHAR, trained_tokens BIGINT, training_cost_usd DOUBLE, finished_at TIMESTAMP,
    error VARCHAR);
CREATE TABLE IF NOT EXISTS batch_jobs (
    batch_id VARCHAR PRIMARY KEY, run_id VARCHAR NOT NULL, part INTEGER NOT NULL, endpoint VARCHAR NOT NULL,
    input_file_id VARCHAR NOT NULL, requests INTEGER NOT NULL, status VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,
    simulated BOOLEAN NOT NULL, output_file_id VARCHAR, error_file_id VARCHAR, finished_at TIMESTAMP,
    collected BOOLEAN NOT NULL DEFAULT false, error VARCHAR);
CREATE TABLE IF NOT EXISTS finetune_events (
    job_id VARCHAR NOT NULL, event_id VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, level VARCHAR,
    type VARCHAR, message VARCHAR, step INTEGER, total_steps INTEGER, train_loss DOUBLE, valid_loss DOUBLE,
    full_valid_loss DOUBLE, data JSON, simulated BOOLEAN NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (job_id, event_id));
"""

# Views giving the report's point estimates in SQL (the intervals come from `ftplug report`, which bootstraps).
# `source` says what answered: `simulated` (the offline simulator, embedded or standalone), `local` (a model in
# this process), `live`. A comparison is `simulated` when either side is; `reference_source` is the reference's.
VIEWS = """
CREATE OR REPLACE VIEW metric_values AS
WITH labels AS (
    SELECT run_id, simulated,
           CASE WHEN simulated THEN 'simulated' WHEN endpoint = 'local' THEN 'local' ELSE 'live' END AS source
    FROM runs)
SELECT s.run_id, s.scorer AS metric, s.example_id, s.value, s.error IS NOT NULL AS failed, l.simulated, l.source
FROM scores s LEFT JOIN labels l USING (run_id)
UNION ALL SELECT p.run_id, '$cost_usd', p.example_id, p.cost_usd, false, l.simulated, l.source
FROM predictions p LEFT JOIN labels l USING (run_id)
UNION ALL SELECT p.run_id, '$latency_ms', p.example_id, p.latency_ms, false, l.simulated, l.source
FROM predictions p LEFT JOIN labels l USING (run_id);
CREATE OR REPLACE VIEW latest_runs AS
SELECT *, CASE WHEN simulated THEN 'simulated' WHEN endpoint = 'local' THEN 'local' ELSE 'live' END AS source
FROM runs QUALIFY row_number() OVER (PARTITION BY experiment, variant ORDER BY started_at DESC) = 1;
CREATE OR REPLACE VIEW summary AS
WITH per_scorer AS (
    SELECT l.experiment, l.variant, l.run_id, l.model, l.simulated, l.source, s.scorer,
           coalesce(json_extract_string(l.details, '$.scorers."' || s.scorer || '".aggregate'), 'mean') AS aggregate,
           count(s.value) AS n, count(*) - count(s.value) AS missing, count(s.error) AS scorer_errors,
           avg(s.value) AS mean_value
    FROM latest_runs l JOIN scores s USING (run_id) GROUP BY ALL)
SELECT experiment, variant, run_id, model, simulated, source, scorer, aggregate, n, missing, scorer_errors,
       CASE aggregate WHEN 'rmse' THEN sqrt(mean_value) WHEN 'macro_f1' THEN NULL ELSE mean_value END AS value
FROM per_scorer;
CREATE OR REPLACE VIEW costs AS
SELECT l.experiment, l.variant, l.run_id, l.model, l.simulated, l.source, count(p.example_id) AS predictions,
       count(p.error) AS errors, sum(p.cost_usd) AS inference_cost_usd, 1000 * avg(p.cost_usd) AS cost_per_1k_usd,
       avg(p.latency_ms) AS mean_latency_ms, quantile_cont(p.latency_ms, 0.95) AS p95_latency_ms,
       avg(p.server_latency_ms) AS mean_server_latency_ms, median(p.in_flight) AS median_in_flight,
       max(p.in_flight) AS max_in_flight,
       avg(p.prompt_tokens) AS mean_prompt_tokens, avg(p.completion_tokens) AS mean_completion_tokens,
       TRY_CAST(json_extract_string(l.details, '$.training_cost_usd') AS DOUBLE) AS training_cost_usd,
       json_extract_string(l.details, '$.job_id') AS job_id
FROM latest_runs l LEFT JOIN predictions p USING (run_id) GROUP BY ALL;
CREATE OR REPLACE VIEW comparisons AS
WITH pairs AS (
    SELECT v.experiment, v.variant, r.variant AS reference, sv.scorer, sv.value AS a, sr.value AS b,
           v.simulated OR r.simulated AS simulated, v.source, r.source AS reference_source
    FROM latest_runs v
    JOIN latest_runs r ON r.experiment = v.experiment
        AND r.variant = coalesce(json_extract_string(v.details, '$.report.reference'), v.variant)
        AND r.variant <> v.variant
    JOIN scores sv ON sv.run_id = v.run_id
    JOIN scores sr ON sr.run_id = r.run_id AND sr.example_id = sv.example_id AND sr.scorer = sv.scorer
    WHERE sv.value IS NOT NULL AND sr.value IS NOT NULL)
SELECT experiment, variant, reference, scorer, count(*) AS n, avg(a - b) AS mean_difference,
       count(*) FILTER (WHERE a = 1 AND b = 0) AS variant_only_right,
       count(*) FILTER (WHERE a = 0 AND b = 1) AS reference_only_right, simulated, source, reference_source
FROM pairs GROUP BY ALL;
"""

# Forward migrations: statements that bring a file of schema N-1 to N (tables new in N are created above).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: (),
    3: ("ALTER TABLE predictions ADD COLUMN IF NOT EXISTS samples JSON",
        "ALTER TABLE scores ADD COLUMN IF NOT EXISTS label VARCHAR",
        "ALTER TABLE scores ADD COLUMN IF NOT EXISTS error VARCHAR"),
    4: ("ALTER TABLE runs ADD COLUMN IF NOT EXISTS config_key VARCHAR",),
    5: ("ALTER TABLE predictions ADD COLUMN IF NOT EXISTS from_cache BOOLEAN DEFAULT false",),
    6: ("ALTER TABLE runs ADD COLUMN IF NOT EXISTS shard VARCHAR",),
    7: ("ALTER TABLE examples ADD COLUMN IF NOT EXISTS number INTEGER",
        "UPDATE examples SET number = n.number FROM (SELECT experiment, example_id, "
        "(row_number() OVER (PARTITION BY experiment ORDER BY rowid) - 1)::INTEGER AS number FROM examples) n "
        "WHERE examples.experiment = n.experiment AND examples.example_id = n.example_id",
        "ALTER TABLE scores ADD COLUMN IF NOT EXISTS example_no INTEGER",
        "UPDATE scores SET example_no = e.number FROM runs r, examples e "
        "WHERE scores.run_id = r.run_id AND e.experiment = r.experiment AND e.example_id = scores.example_id"),
    8: ("ALTER TABLE predictions ADD COLUMN IF NOT EXISTS server_latency_ms DOUBLE",
        "ALTER TABLE predictions ADD COLUMN IF NOT EXISTS in_flight INTEGER"),
    9: ("ALTER TABLE examples ADD COLUMN IF NOT EXISTS cluster VARCHAR",),
    10: ("ALTER TABLE scores ADD COLUMN IF NOT EXISTS sample_values DOUBLE[]",),
}
PREDICTION_COLUMNS = ("run_id", "example_id", "output", "prompt_tokens", "completion_tokens", "cached_tokens",
                      "latency_ms", "cost_usd", "error", "simulated", "created_at", "samples", "from_cache",
                      "server_latency_ms", "in_flight")
SCORE_COLUMNS = ("run_id", "example_id", "scorer", "value", "label", "error")
