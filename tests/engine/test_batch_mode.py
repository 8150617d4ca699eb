"""``ftplug run --batch``: requests through the Batch API, at batch prices, collected after an interruption."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from ftplug.catalogue.costs import BATCH_PRICE_FACTOR
from ftplug.config.run_options import RunOptions
from ftplug.engine import batch_mode
from ftplug.engine.endpoint import Endpoint
from ftplug.engine.workbench import Workbench
from ftplug.plugins.duckdb_store.store import DuckDBStore
from ftplug.simulator import Simulator
from tests.helpers import EXAMPLE, fresh_plugins

VARIANTS = ("zero-shot", "few-shot-5", "few-shot-40", "fine-tuned")


def _run(store: DuckDBStore, simulator: Simulator, lines: list[str], **options: Any) -> Any:
    endpoint = Endpoint(base_url=simulator.base_url, api_key="sk-sim", simulated=True)
    bench = Workbench.load(EXAMPLE, plugins=fresh_plugins(), log=lines.append,
                           options=RunOptions(limit=12, batch_poll_seconds=0.05, **options))
    return bench.run(store, endpoint)


def _requests(simulator: Simulator, route: str) -> int:
    return sum(n for key, n in simulator.state.requests.items() if key == route)


def test_batch_mode_answers_every_variant_at_batch_prices(tmp_path: Path) -> None:
    batch_store, sync_store = DuckDBStore(str(tmp_path / "b.duckdb")), DuckDBStore(str(tmp_path / "s.duckdb"))
    lines: list[str] = []
    with Simulator(seed=3, state_dir=tmp_path / "sim") as simulator:
        summaries = _run(batch_store, simulator, lines, batch=True)
        assert _requests(simulator, "POST /v1/chat/completions") == 0  # nothing was asked one by one
        assert _requests(simulator, "POST /v1/batches") == 4  # one batch per variant
        _run(sync_store, simulator, [], use_cache=False)
    assert [(s.variant, s.status, s.predictions, s.errors) for s in summaries] == [
        (v, "succeeded", 12, 0) for v in VARIANTS]
    assert all(s.details["batch"]["answered"] == 12 for s in summaries)
    sync_store.close()
    batch_store.db.execute(f"ATTACH '{tmp_path / 's.duckdb'}' AS sync (READ_ONLY)")
    pairs = batch_store.db.execute(
        "SELECT b.cost_usd, s.cost_usd, b.output = s.output, b.latency_ms FROM predictions b "
        "JOIN runs rb USING (run_id) JOIN sync.runs rs ON rs.variant = rb.variant "
        "JOIN sync.predictions s ON s.run_id = rs.run_id AND s.example_id = b.example_id").fetchall()
    assert len(pairs) == 48
    assert all(same_answer and latency is None for _, _, same_answer, latency in pairs)
    assert all(b == pytest.approx(s * BATCH_PRICE_FACTOR) for b, s, _, _ in pairs)  # half the price
    assert batch_store.db.execute("SELECT count(*), bool_and(collected) FROM batch_jobs").fetchone() == (4, True)
    batch_store.close()


def test_an_interrupted_batch_run_collects_its_batches_instead_of_asking_again(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    store = DuckDBStore(str(tmp_path / "b.duckdb"))
    original = batch_mode.BatchRunner._wait

    def interrupted(self: Any, records: Any, test: Any) -> Any:
        if records and not any(r.collected for r in records) and records[0].part == 1 and not self.stats.from_cache:
            raise KeyboardInterrupt  # Ctrl-C while waiting for the first batch
        return original(self, records, test)

    with Simulator(seed=3, state_dir=tmp_path / "sim") as simulator:
        monkeypatch.setattr(batch_mode.BatchRunner, "_wait", interrupted)
        with pytest.raises(KeyboardInterrupt):
            _run(store, simulator, [], batch=True)
        monkeypatch.setattr(batch_mode.BatchRunner, "_wait", original)
        ledger = store.db.execute("SELECT count(*), count(*) FILTER (WHERE collected) FROM batch_jobs").fetchone()
        assert ledger == (1, 0)
        lines: list[str] = []
        summaries = _run(store, simulator, lines, batch=True)
        created = _requests(simulator, "POST /v1/batches")
    assert any("collecting 1 batch(es) submitted by an earlier run" in line for line in lines)
    assert created == 4  # the interrupted variant's batch was collected, not submitted again
    assert [(s.status, s.predictions) for s in summaries] == [("succeeded", 12)] * 4
    counts = store.db.execute("SELECT count(*), count(DISTINCT run_id || example_id) FROM predictions").fetchone()
    assert counts == (48, 48)
    store.close()


def test_requests_a_batch_leaves_unanswered_are_stored_as_errors_and_asked_again(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    store = DuckDBStore(str(tmp_path / "b.duckdb"))
    original = batch_mode.BatchRunner._submit

    def submit_then_cancel(self: Any, run: Any, part: int, jsonl: bytes, count: int) -> Any:
        record = original(self, run, part, jsonl, count)
        if run.variant == "zero-shot":
            self.client.batches.cancel(record.batch_id)
        return record

    with Simulator(seed=3, state_dir=tmp_path / "sim") as simulator:
        monkeypatch.setattr(batch_mode.BatchRunner, "_submit", submit_then_cancel)
        first = _run(store, simulator, [], batch=True)
        monkeypatch.setattr(batch_mode.BatchRunner, "_submit", original)
        errors = store.db.execute("SELECT DISTINCT error FROM predictions WHERE error IS NOT NULL").fetchall()
        second = _run(store, simulator, [], batch=True)
    assert (first[0].predictions, first[0].errors) == (12, 12)
    assert errors == [("batch cancelled: the request was not answered",)]
    assert (second[0].status, second[0].predictions, second[0].errors) == ("succeeded", 12, 0)
    assert second[0].details["batch"]["requests"] == 12 and second[1].details.get("batch") is None  # resubmitted
    store.close()


def test_the_batch_flag_is_on_the_command_line(tmp_path: Path) -> None:
    from tests.helpers import run_cli

    done = run_cli("run", str(EXAMPLE), "--limit", "5", "--batch", "--db", str(tmp_path / "r.duckdb"))
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("requests submitted") == 4
    with duckdb.connect(str(tmp_path / "r.duckdb"), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM predictions WHERE error IS NULL").fetchone() == (20,)


def test_with_a_budget_batch_parts_go_one_at_a_time_and_stop_at_the_limit(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_mode, "MAX_REQUESTS", 4)
    store = DuckDBStore(str(tmp_path / "b.duckdb"))
    lines: list[str] = []
    with Simulator(seed=3, state_dir=tmp_path / "sim") as simulator:
        first = _run(store, simulator, lines, batch=True, max_cost=0.000001)
        more = _run(store, simulator, [], batch=True)
    assert (first[0].status, first[0].predictions) == ("stopped", 4)  # one part of 4, then the limit
    assert [s.status for s in first[1:]] == ["stopped"] * 3 and not any(s.run_id for s in first[1:])
    assert [(s.status, s.predictions) for s in more] == [("succeeded", 12)] * 4
    parts = store.db.execute("SELECT count(*) FROM batch_jobs").fetchone()[0]
    assert parts == 1 + 2 + 3 * 3  # the stopped variant's 1 part, its 2 more, and 3 parts for each other
    store.close()
