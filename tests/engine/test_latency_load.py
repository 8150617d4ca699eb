"""Latency at load: each prediction records the requests in flight with it and the server's own time for it
(``openai-processing-ms``), so that the report does not pass queueing off as a model's speed."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import duckdb

from ftplug.simulator import LatencyModel, Simulator, SimulatorOptions
from tests.helpers import fortunes_experiment, run_cli

ANSWER_MS = 80  # every answer takes the one-slot server this long


def _experiment(path: Path, system: str) -> Path:
    path.write_text(fortunes_experiment("load", seed=3, test=12, validation=5) + f'''
[[variants]]
name = "zero-shot"
prompt = {{ builder = "few-shot", shots = 0, system = "Answer with one topic word." }}
[[variants]]
name = "few-shot"
prompt = {{ builder = "few-shot", shots = 2, system = "{system}" }}
''', encoding="utf-8")
    return path


def test_latency_at_different_loads_is_shown_with_the_servers_own_time(tmp_path: Path) -> None:
    options = SimulatorOptions(slots=1, latency=LatencyModel(first_token_ms=ANSWER_MS))
    db = tmp_path / "r.duckdb"
    with Simulator(seed=1, options=options) as server:
        env = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": server.base_url}
        first = run_cli("run", str(_experiment(tmp_path / "e.toml", "Topic?")), "--live", "--db", str(db),
                        "--concurrency", "6", "--quiet", env=env)
        assert first.returncode == 0, first.stderr
        # the few-shot variant changes, so it runs again, now one request at a time
        second = run_cli("run", str(_experiment(tmp_path / "e.toml", "One topic word?")), "--live", "--db",
                         str(db), "--concurrency", "1", "--quiet", env=env)
        assert second.returncode == 0, second.stderr
    with duckdb.connect(str(db), read_only=True) as connection:
        # a standalone simulator is still the simulator (it says so in its x-ftplug-simulated header)
        labels = connection.execute("SELECT DISTINCT r.simulated, p.simulated, l.source FROM runs r "
                                    "JOIN predictions p USING (run_id) JOIN latest_runs l USING (run_id)").fetchall()
        rows = connection.execute(
            "SELECT r.variant, p.latency_ms, p.server_latency_ms, p.in_flight FROM predictions p "
            "JOIN latest_runs r USING (run_id)").fetchall()
        limits = dict(connection.execute(
            "SELECT variant, json_extract(details, '$.requests.concurrency')::INTEGER FROM latest_runs").fetchall())
    assert labels == [(True, True, "simulated")]
    crowded = [row for row in rows if row[0] == "zero-shot"]
    alone = [row for row in rows if row[0] == "few-shot"]
    assert len(crowded) == len(alone) == 12 and limits == {"zero-shot": 6, "few-shot": 1}
    assert max(row[3] for row in crowded) == 6 and {row[3] for row in alone} == {1}
    # the queue is left out of the server's time (the simulator's very first answer also loads its tokenizer)
    assert sum(ANSWER_MS * 0.9 <= row[2] < ANSWER_MS * 3 for row in rows) >= len(rows) - 1
    # six requests share one slot: the client waits for the others' turns, the server's time is one answer's
    assert statistics.median(row[1] for row in crowded) > 3 * statistics.median(row[2] for row in crowded)
    assert statistics.median(row[1] for row in alone) < 2 * statistics.median(row[2] for row in alone)

    report = run_cli("report", "--db", str(db))
    assert report.returncode == 0, report.stderr
    assert "server ms (p95)" in report.stdout and "in flight" in report.stdout
    assert "Experiment load [SIMULATED]" in report.stdout
    assert ("Latency was measured at different loads (median requests in flight: zero-shot 6, few-shot 1)"
            in report.stdout)
    assert "compare the server's own times (server ms)" in report.stdout
    document = json.loads(run_cli("report", "--db", str(db), "--format", "json").stdout)
    assert {v["source"] for v in document["variants"]} == {"simulated"}
    loads = {v["variant"]: v["in_flight"] for v in document["variants"]}
    assert loads["zero-shot"]["limit"] == 6 and loads["few-shot"] == {"median": 1.0, "max": 1, "limit": 1}
    server = {v["variant"]: v["server_latency_ms"] for v in document["variants"]}
    assert server["few-shot"]["n"] == server["zero-shot"]["n"] == 12
    assert ANSWER_MS * 0.9 <= server["few-shot"]["value"] < ANSWER_MS * 3


def test_one_load_gives_no_load_caveat() -> None:
    from ftplug.report.verdict import load_caveat

    same = [{"variant": name, "source": "live", "in_flight": {"median": 32.0}, "server_latency_ms": {"n": 0}}
            for name in ("a", "b")]
    assert load_caveat(same) is None
    same[1]["in_flight"] = {"median": 8.0}
    assert "run them at one concurrency" in (load_caveat(same) or "")
