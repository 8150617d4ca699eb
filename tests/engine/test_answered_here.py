"""A run is labelled by where its answers come from: a plugin trainer that returns a local predictor is real,
not simulated, even when it does not declare ``local = True`` and the run's endpoint is the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from tests.helpers import fortunes_experiment, run_in_process

UNDECLARED = '''
from ftplug import hookimpl
from ftplug.components import TrainedModel


class Commonest:  # no `local = True`: only what it returns says it answers here
    baseline = True  # a naive baseline: the report measures the others against it

    def train(self, context):
        answers = [example.expected for example in context.train]
        answer = max(set(answers), key=answers.count)
        return TrainedModel(model="commonest", predict=lambda example: answer)


@hookimpl
def ftplug_register_trainers(register):
    register("commonest", Commonest)
'''


def test_a_local_predictor_is_labelled_real_though_its_trainer_does_not_say_so(tmp_path: Path) -> None:
    (tmp_path / "commonest.py").write_text(UNDECLARED)
    (tmp_path / "e.toml").write_text(fortunes_experiment("answered-here", seed=4, test=8, validation=0) + '''
[[variants]]
name = "commonest"
trainer = "commonest"

[[variants]]
name = "zero-shot"
prompt = { builder = "few-shot", shots = 0 }
''')
    env = {"FTPLUG_PLUGINS": str(tmp_path / "commonest.py")}
    for attempt in range(2):  # and again, resuming: the label stays
        done = run_in_process("run", "e.toml", "--db", "r.duckdb", *(["--fresh"] if attempt else []), cwd=tmp_path,
                              env=env)
        assert done.exit_code == 0, done.stderr
        assert "commonest: answered in this process: its results are real, not simulated" in done.stderr
        assert "commonest: 8/8 predictions, 0 errors in" in done.stderr and "[simulated]" not in next(
            line for line in done.stderr.splitlines() if line.startswith("commonest: 8/8"))
    with duckdb.connect(str(tmp_path / "r.duckdb"), read_only=True) as db:
        runs = dict(db.execute("SELECT variant, bool_and(NOT simulated AND endpoint = 'local') FROM runs "
                               "WHERE variant = 'commonest' GROUP BY variant UNION ALL SELECT variant, "
                               "bool_and(simulated) FROM runs WHERE variant = 'zero-shot' GROUP BY variant").fetchall())
        assert runs == {"commonest": True, "zero-shot": True}
        assert db.execute("SELECT count(*) FILTER (WHERE p.simulated), count(*) FROM predictions p JOIN runs r "
                          "USING (run_id) WHERE r.variant = 'commonest'").fetchone() == (0, 16)
    report = run_in_process("report", "--db", "r.duckdb", "--format", "json", cwd=tmp_path)
    assert report.exit_code == 0, report.stderr
    sources = {v["variant"]: v["source"] for v in json.loads(report.stdout)["variants"]}
    assert sources == {"commonest": "local", "zero-shot": "simulated"}
    assert json.loads(report.stdout)["baseline_margins"]["baseline"] == "commonest"
