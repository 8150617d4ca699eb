"""Resuming: an interrupted or killed run is finished, not repeated; a complete one is left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ftplug.config.run_options import RunOptions
from ftplug.engine import sink as sink_module
from ftplug.engine.endpoint import open_endpoint
from ftplug.engine.retry_policy import RetryPolicy
from ftplug.engine.runner import ExperimentRunner
from ftplug.engine.workbench import Workbench
from ftplug.plugins.duckdb_store.store import DuckDBStore
from tests.helpers import EXAMPLE, fresh_plugins


def _runner(store: Any, lines: list[str], **options: Any) -> ExperimentRunner:
    return Workbench.load(EXAMPLE, plugins=fresh_plugins(), log=lines.append,
                          options=RunOptions(limit=20, batch_size=5, **options)).runner(store)


PER_VARIANT = ("SELECT r.variant, count(DISTINCT r.run_id), count(p.example_id), count(DISTINCT p.example_id) "
               "FROM runs r LEFT JOIN predictions p USING (run_id) GROUP BY r.variant")
VARIANTS = ("zero-shot", "few-shot-5", "few-shot-40", "fine-tuned")


def _per_variant(connection: Any) -> dict[str, tuple[int, int, int]]:
    """Runs, predictions and distinct examples per variant."""
    return {variant: (runs, predictions, distinct)
            for variant, runs, predictions, distinct in connection.execute(PER_VARIANT).fetchall()}


def test_an_interrupted_run_is_resumed_and_a_complete_one_left_alone(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "r.duckdb"
    store = DuckDBStore(str(db))
    monkeypatch.setattr(sink_module, "FLUSH_SECONDS", 0.0)
    flushes = {"count": 0}
    original = sink_module.PredictionSink.flush

    def flush_then_interrupt(self: Any) -> None:
        original(self)
        flushes["count"] += 1
        if flushes["count"] == 2 and self.stored:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C just after the second batch was committed

    monkeypatch.setattr(sink_module.PredictionSink, "flush", flush_then_interrupt)
    # Ctrl-C raises KeyboardInterrupt also when the tests run as a background job (which ignores SIGINT)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    with open_endpoint("simulate", seed=7, state_dir=tmp_path / "sim") as endpoint:
        try:
            with pytest.raises(KeyboardInterrupt):
                _runner(store, []).run(endpoint)
        finally:
            signal.signal(signal.SIGINT, previous)
        monkeypatch.setattr(sink_module.PredictionSink, "flush", original)
        interrupted = _per_variant(store.db)["zero-shot"]
        assert interrupted[0] == 1 and 0 < interrupted[1] < 20
        lines: list[str] = []
        summaries = _runner(store, lines).run(endpoint)
        assert any(line.startswith("zero-shot: resuming run ") and f"{interrupted[1]} of 20 predictions already "
                   "stored" in line for line in lines)
        assert [s.predictions for s in summaries] == [20, 20, 20, 20]
        assert _per_variant(store.db) == {v: (1, 20, 20) for v in VARIANTS}
        lines = []
        again = _runner(store, lines).run(endpoint)
        assert all(s.status == "succeeded" and s.predictions == 20 for s in again)
        complete = tuple(f"{v}: complete: all 20 predictions are stored" for v in VARIANTS)
        assert sum(line.startswith(complete) for line in lines) == 4
        _runner(store, [], fresh=True).run(endpoint)
        assert _per_variant(store.db)["zero-shot"] == (2, 40, 20)  # --fresh: a second, complete run
    store.close()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_a_run_killed_again_and_again_at_random_points_resumes_to_the_full_set(tmp_path: Path, seed: int) -> None:
    import random

    db = tmp_path / "r.duckdb"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    command = [sys.executable, "-m", "ftplug.cli", "run", str(EXAMPLE), "--db", str(db), "--limit", "40"]
    delays = random.Random(seed).sample([0.9, 1.4, 1.9, 2.4, 2.9, 3.4], 3)
    for delay in delays:  # SIGKILL: no flush, no clean-up; whatever was committed must be enough
        killed = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        if not db.exists():  # killed before the store was created
            continue
        with duckdb.connect(str(db), read_only=True) as connection:  # the file always opens
            connection.execute("SELECT count(*) FROM predictions").fetchone()
    final = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=240, check=False)
    assert final.returncode == 0, final.stderr
    with duckdb.connect(str(db), read_only=True) as connection:
        assert _per_variant(connection) == {v: (1, 40, 40) for v in VARIANTS}  # every example once, in one run


def test_the_cache_answers_identical_requests_and_a_fresh_run_calls_nothing(tmp_path: Path) -> None:
    from ftplug.simulator import Simulator

    db = tmp_path / "r.duckdb"
    store = DuckDBStore(str(db))
    with Simulator(seed=7, state_dir=tmp_path / "sim") as simulator:
        from ftplug.engine.endpoint import Endpoint

        endpoint = Endpoint(base_url=simulator.base_url, api_key="sk-sim", simulated=True)
        _runner(store, []).run(endpoint)
        first = sum(n for route, n in simulator.state.requests.items() if route.endswith("/chat/completions"))
        assert first == 80  # 4 variants × 20 examples
        _runner(store, [], fresh=True).run(endpoint)
        second = sum(n for route, n in simulator.state.requests.items() if route.endswith("/chat/completions"))
        assert second == first  # every answer came from the cache: no request at all
        _runner(store, [], fresh=True, use_cache=False).run(endpoint)
        third = sum(n for route, n in simulator.state.requests.items() if route.endswith("/chat/completions"))
        assert third == first + 80
    cached, total = store.db.execute("SELECT count(*) FILTER (WHERE from_cache), count(*) FROM predictions").fetchone()
    assert (cached, total) == (80, 240)
    # answers from the cache are the same answers, and are priced as what they would cost
    pairs, equal = store.db.execute(
        "SELECT count(*), count(*) FILTER (WHERE a.output = b.output AND a.cost_usd = b.cost_usd) "
        "FROM predictions a JOIN runs ra ON ra.run_id = a.run_id "
        "JOIN runs rb ON rb.variant = ra.variant AND rb.run_id <> ra.run_id "
        "JOIN predictions b ON b.run_id = rb.run_id AND b.example_id = a.example_id "
        "WHERE a.from_cache AND NOT b.from_cache").fetchone()
    assert pairs == 160 and equal == 160  # each cached answer against both asked ones (temperature 0)
    assert store.cache_stats() == {"entries": {"simulated": 80}, "hits": {"simulated": 80},
                                   "predictions_from_cache": 80, "predictions": 240}
    store.close()


def test_max_cost_stops_cleanly_and_a_higher_limit_resumes(tmp_path: Path) -> None:
    from tests.helpers import run_cli

    db = tmp_path / "r.duckdb"
    stopped = run_cli("run", str(EXAMPLE), "--db", str(db), "--limit", "30", "--max-cost", "0.0001",
                      "--concurrency", "8")
    assert stopped.returncode == 1, stopped.stderr
    assert "zero-shot: stopped: spent $" in stopped.stderr and "raise --max-cost and run again" in stopped.stderr
    assert "fine-tuned: not started: the run has spent $" in stopped.stderr
    with duckdb.connect(str(db), read_only=True) as connection:
        paid, stored, dearest = connection.execute(
            "SELECT sum(cost_usd), count(*), max(cost_usd) FROM predictions").fetchone()
        status = connection.execute("SELECT status FROM runs").fetchall()
    concurrency = 8  # requests in flight when the limit is reached finish and are stored: the only overshoot
    assert 0 < stored < 30 and paid <= 0.0001 + concurrency * dearest
    assert status == [("stopped",)]
    finished = run_cli("run", str(EXAMPLE), "--db", str(db), "--limit", "30")
    assert finished.returncode == 0, finished.stderr
    assert "zero-shot: resuming run " in finished.stderr
    with duckdb.connect(str(db), read_only=True) as connection:
        assert _per_variant(connection) == {v: (1, 30, 30) for v in VARIANTS}


def test_under_20_percent_injected_faults_every_prediction_is_stored_exactly_once(tmp_path: Path) -> None:
    from ftplug.engine.endpoint import Endpoint
    from ftplug.simulator import FaultRule, Simulator, SimulatorOptions

    faults = tuple(FaultRule.parse(f"{kind}@/v1/chat/completions:p=0.07:retry_after_ms=20")
                   for kind in ("429", "500", "503"))
    store = DuckDBStore(str(tmp_path / "r.duckdb"))
    with Simulator(seed=5, options=SimulatorOptions(faults=faults), state_dir=tmp_path / "sim") as simulator:
        endpoint = Endpoint(base_url=simulator.base_url, api_key="sk-sim", simulated=True)
        runs = 0
        while runs < 3:  # each request is tried up to 5 times; what still fails is retried by the next run
            runs += 1
            if all(s.errors == 0 for s in _runner(store, [], retry=RetryPolicy(base=0.01)).run(endpoint)):
                break
        requests = sum(n for route, n in simulator.state.requests.items() if route.endswith("/chat/completions"))
    assert requests > 80  # faults happened, and were retried
    assert _per_variant(store.db) == {v: (1, 20, 20) for v in VARIANTS}
    assert store.db.execute("SELECT count(*) FROM predictions WHERE error IS NOT NULL").fetchone() == (0,)
    store.close()
