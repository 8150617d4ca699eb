"""One process at a time writes a result file: a second `ftplug run` or a `ftplug report` on a file another
process holds is refused with a clear line, and the file is left as it was."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from ftplug.plugins.duckdb_store.store import DuckDBStore
from tests.helpers import EXAMPLE, run_cli


def _contents(db: Path) -> str:
    with duckdb.connect(str(db), read_only=True) as connection:
        rows = [connection.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
                for table in ("runs", "predictions", "scores", "examples", "response_cache")]
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_a_held_result_file_is_refused_clearly_by_run_and_report(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    assert run_cli("run", str(EXAMPLE), "--db", str(db), "--limit", "2", "--quiet").returncode == 0
    before = _contents(db)
    holder = DuckDBStore(str(db))  # this test process holds the file, as a running `ftplug run` would
    try:
        for args in (["run", str(EXAMPLE), "--db", str(db), "--limit", "3"], ["report", "--db", str(db)],
                     ["sql", "SELECT 1", "--db", str(db)]):
            done = run_cli(*args)
            lines = done.stderr.strip().splitlines()
            assert done.returncode == 1 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
            assert f"in use by another process (PID {os.getpid()})" in lines[0]
    finally:
        holder.close()
    assert _contents(db) == before  # every stored row as it was


def test_a_second_run_waits_for_nothing_and_corrupts_nothing(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    first = subprocess.Popen([sys.executable, "-m", "ftplug.cli", "run", str(EXAMPLE), "--db", str(db), "--limit",
                              "30", "--quiet"], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and first.poll() is None:  # until the first run holds the file
        if db.exists():
            try:
                duckdb.connect(str(db), read_only=True).close()
            except duckdb.Error:
                break
        time.sleep(0.05)
    second = run_cli("run", str(EXAMPLE), "--db", str(db), "--limit", "30", "--quiet")
    assert first.wait(timeout=120) == 0, first.stderr.read() if first.stderr else ""
    assert second.returncode == 1 and "in use by another process" in second.stderr, second.stderr
    with duckdb.connect(str(db), read_only=True) as connection:  # the first run's results are whole
        counts = connection.execute("SELECT r.variant, count(p.example_id) FROM runs r JOIN predictions p "
                                    "USING (run_id) GROUP BY ALL").fetchall()
    assert sorted(n for _, n in counts) == [30, 30, 30, 30]
    assert run_cli("report", "--db", str(db)).returncode == 0


def test_running_out_of_store_memory_is_one_clear_line_and_the_next_run_goes_on(tmp_path: Path) -> None:
    db = tmp_path / "r.duckdb"
    starved = run_cli("run", str(EXAMPLE), "--db", str(db), "--limit", "20", "--quiet",
                      env={"FTPLUG_DB_MEMORY": "8MB"})
    lines = [line for line in starved.stderr.strip().splitlines() if not line.startswith("ftplug: using the offline")]
    assert starved.returncode == 1 and len(lines) == 1 and "Traceback" not in starved.stderr, starved.stderr
    assert lines[0].startswith("ftplug: error: out of memory: FTPLUG_DB_MEMORY=8MB caps"), lines[0]
    done = run_cli("run", str(EXAMPLE), "--db", str(db), "--limit", "20", "--quiet")
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(db), read_only=True) as connection:  # each variant's 20 predictions, once each
        counts = connection.execute("SELECT count(*), count(DISTINCT (run_id, example_id)) FROM predictions "
                                    "JOIN latest_runs USING (run_id) GROUP BY run_id").fetchall()
    assert counts and all(total == distinct == 20 for total, distinct in counts), counts
