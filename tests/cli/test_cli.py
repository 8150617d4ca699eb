"""``ftplug`` end to end, as the console command runs it (in-process, each command with the process to itself), on
the example experiment and the embedded simulator."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.helpers import EXAMPLE, run_in_process


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    db = tmp_path_factory.mktemp("run") / "results.duckdb"
    result = run_in_process("run", str(EXAMPLE), "--db", str(db))
    return db, result


def test_run_prints_a_simulated_comparison(example_run) -> None:
    _, result = example_run
    assert result.exit_code == 0, result.stderr
    assert "Experiment fortunes-topic [SIMULATED]" in result.stdout
    for variant in ("zero-shot", "few-shot-5", "few-shot-40", "fine-tuned"):
        assert f"\n{variant} " in result.stdout
    assert "SIMULATED: these answers come from ftplug's offline simulator" in result.stdout
    assert "using the offline simulator: results are SIMULATED" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_stores_every_prediction_and_score(example_run) -> None:
    db, _ = example_run
    with duckdb.connect(str(db), read_only=True) as con:
        runs = con.execute("SELECT variant, model, status, simulated, finished_at IS NOT NULL FROM runs "
                           "ORDER BY started_at").fetchall()
        assert [(r[0], r[2], r[3], r[4]) for r in runs] == [
            (v, "succeeded", True, True) for v in ("zero-shot", "few-shot-5", "few-shot-40", "fine-tuned")]
        assert runs[0][1] == "gpt-4o-mini-2024-07-18"
        assert runs[3][1].startswith("ft:gpt-4o-mini-2024-07-18:")
        per_run = con.execute("SELECT r.variant, count(*), count(p.error), min(p.prompt_tokens), "
                              "bool_and(p.simulated), min(p.cost_usd) FROM predictions p JOIN runs r USING (run_id) "
                              "GROUP BY r.variant").fetchall()
        assert len(per_run) == 4
        for _variant, n, errors, min_prompt_tokens, simulated, min_cost in per_run:
            assert (n, errors, simulated) == (60, 0, True)
            assert min_prompt_tokens > 0 and min_cost > 0
        scores = dict(con.execute("SELECT r.variant, avg(s.value) FROM scores s JOIN runs r USING (run_id) "
                                  "WHERE s.scorer = 'exact' GROUP BY r.variant").fetchall())
        test_ids = {row[0] for row in con.execute("SELECT example_id FROM examples WHERE split = 'test'").fetchall()}
        predicted = {row[0] for row in con.execute("SELECT DISTINCT example_id FROM predictions").fetchall()}
    assert predicted == test_ids and len(test_ids) == 60
    # The simulator's documented rules: no examples → verbose hedging (fails exact match); more in-context
    # examples → closer neighbours; a fine-tuned model answers from its whole training file.
    assert scores["zero-shot"] < scores["few-shot-5"] <= scores["few-shot-40"] <= scores["fine-tuned"]


def test_report_reads_the_same_numbers_back(example_run) -> None:
    db, _ = example_run
    result = run_in_process("report", "--db", str(db), "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["experiment"] == "fortunes-topic" and document["simulated"] is True
    assert [v["variant"] for v in document["variants"]] == ["zero-shot", "few-shot-5", "few-shot-40", "fine-tuned"]
    with duckdb.connect(str(db), read_only=True) as con:
        means = dict(con.execute("SELECT r.variant, avg(s.value) FROM scores s JOIN runs r USING (run_id) "
                                 "WHERE s.scorer = 'exact' GROUP BY r.variant").fetchall())
    for v in document["variants"]:
        exact = v["metrics"]["exact"]
        assert v["predictions"] == 60 and exact["n"] == 60
        assert exact["value"] == pytest.approx(means[v["variant"]])
        assert exact["low"] <= exact["value"] <= exact["high"]
    assert document["verdict"]["caveats"][0].startswith("SIMULATED")
    table = run_in_process("report", "--db", str(db))
    assert table.exit_code == 0 and "[SIMULATED]" in table.stdout and "Verdict" in table.stdout


def test_sql_command_queries_the_store(example_run) -> None:
    db, _ = example_run
    result = run_in_process("sql", "SELECT count(*) AS n FROM predictions WHERE simulated", "--db", str(db),
                            "--format", "tsv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["n", "240"]
    bad = run_in_process("sql", "SELEC nonsense", "--db", str(db))
    assert bad.exit_code == 2 and bad.stderr.startswith("ftplug: error: SQL error:")


def _copy_example(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    shutil.copy(EXAMPLE.parent / "fortunes.csv", tmp_path / "fortunes.csv")
    text = EXAMPLE.read_text()
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    (tmp_path / "exp.toml").write_text(text)
    return tmp_path / "exp.toml"


@pytest.mark.parametrize(("replace", "expected"), [
    (('scorers = ["exact"]', 'scorers = ["exactly"]'), "[scoring] scorers 'exactly': unknown scorer 'exactly'"),
    (("n_epochs = 3", "n_epochs = 3, learning_rate = 2"), "[[variants]] 'fine-tuned' trainer learning_rate: unknown"),
    (("test = 60 ", "test = -1 "), "[split] test: a count of examples (an integer) cannot be negative"),
    (('input = "text"', 'input = "body"'), "fortunes.csv:1: no column 'body' in the header"),
    (("shots = 40", "shots = 4000"),
     "[[variants]] 'few-shot-40' prompt: shots = 4000 but the training split has only 210 examples"),
    (("shots = 5,", 'shots = "many",'), "[[variants]] 'few-shot-5' prompt: shots must be a whole number ≥ 0"),
    (("n_epochs = 3", 'n_epochs = "many"'),
     "[[variants]] 'fine-tuned' trainer: n_epochs must be 'auto' or a whole number, got 'many'"),
])
def test_bad_input_exits_2_with_one_line(tmp_path: Path, replace: tuple[str, str], expected: str) -> None:
    path = _copy_example(tmp_path, replace)
    db = tmp_path / "r.duckdb"
    result = run_in_process("run", str(path), "--db", str(db), "--limit", "2")
    assert result.exit_code == 2, result.stderr
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_failed_fine_tuning_job_fails_its_variant_only(tmp_path: Path) -> None:
    # 8 training examples: enough for the few-shot variants, too few for a fine-tuning job
    path = _copy_example(tmp_path, ("validation = 30 ", "validation = 232 "), ("shots = 40", "shots = 8"))
    db = tmp_path / "r.duckdb"
    result = run_in_process("run", str(path), "--db", str(db), "--limit", "3")
    assert result.exit_code == 1
    assert "fine-tuned: failed: fine-tuning needs at least 10 training examples" in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line == "ftplug: error: variant(s) failed: fine-tuned (see the messages above)"
    with duckdb.connect(str(db), read_only=True) as con:
        statuses = dict(con.execute("SELECT variant, status FROM runs").fetchall())
        kept = con.execute("SELECT count(*) FROM predictions").fetchone()[0]
    assert statuses == {"zero-shot": "succeeded", "few-shot-5": "succeeded", "few-shot-40": "succeeded",
                        "fine-tuned": "failed"}
    assert kept == 9


def test_usage_errors(tmp_path: Path) -> None:
    live = run_in_process("run", str(EXAMPLE), "--live", "--db", str(tmp_path / "x.duckdb"))
    assert live.exit_code == 2
    assert live.stderr.strip() == "ftplug: error: --live needs OPENAI_API_KEY in the environment"
    missing = run_in_process("report", "--db", str(tmp_path / "none.duckdb"))
    assert missing.exit_code == 2 and "none.duckdb: no such result store" in missing.stderr
    unknown = run_in_process("frobnicate")
    assert unknown.exit_code == 2 and "No such command 'frobnicate'" in unknown.stderr
    assert not (tmp_path / "none.duckdb").exists()


def test_the_quick_exit_finishes_threads_runs_exit_handlers_and_flushes(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = f'''
import atexit, sys, threading, time, weakref
from ftplug.cli.process_exit import exit_now

class Spool:
    pass

spool = Spool()
weakref.finalize(spool, lambda: open({str(tmp_path / "finalized")!r}, "w").close())
def late() -> None:
    time.sleep(0.3)
    open({str(tmp_path / "thread")!r}, "w").close()
threading.Thread(target=late).start()
log = open({str(tmp_path / "log")!r}, "w")  # a plugin's file, closed by an exit handler
log.write("y" * 1_000)
atexit.register(log.close)
sys.stdout.write("x" * 100_000)  # buffered, no newline
sys.stderr.write("last words")
exit_now(3)
'''
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert result.stdout == "x" * 100_000 and result.stderr == "last words"
    assert (tmp_path / "finalized").exists() and (tmp_path / "thread").exists()
    assert (tmp_path / "log").read_text() == "y" * 1_000
