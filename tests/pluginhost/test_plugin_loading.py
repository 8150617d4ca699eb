"""Loading controls, isolation of misbehaving plugins, and the run's lifecycle hooks."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.helpers import EXAMPLE, run_in_process
from tests.pluginhost.test_plugins import GOOD_PLUGIN

SHOUT = GOOD_PLUGIN  # a scorer 'shout', as a loose file here

BROKEN_TRAINER = '''
from ftplug import hookimpl
from ftplug.components import TrainedModel


class Flaky:
    def train(self, context):
        raise RuntimeError("the GPU caught fire")


@hookimpl
def ftplug_register_trainers(register):
    register("flaky", Flaky)
'''

LIFECYCLE = '''
import json, os
from ftplug import hookimpl

LOG = os.environ["LIFECYCLE_LOG"]


def _write(event):
    with open(LOG, "a") as out:
        out.write(json.dumps(event) + "\\n")


@hookimpl
def ftplug_activate(experiment):  # asks for one of the spec's two arguments: that is allowed
    _write({"hook": "activate", "experiment": experiment.name})


@hookimpl
def ftplug_deactivate(store, summaries):
    _write({"hook": "deactivate", "variants": [s.variant for s in summaries],
            "stored": store.db.execute("SELECT count(*) FROM predictions").fetchone()[0]})


@hookimpl
def ftplug_prediction_stored(prediction):
    _write({"hook": "stored"})
'''

RAISING_LOGGER = '''
from ftplug import hookimpl


@hookimpl
def ftplug_run_started(run):
    raise ValueError("cannot reach the log server")
'''


def _plugins(tmp_path: Path, env: dict[str, str] | None = None, *args: str) -> list[dict[str, object]]:
    listed = run_in_process(*args, "plugins", "list", "--all", "--json", env=env, cwd=tmp_path)
    assert listed.exit_code == 0, listed.stderr
    return json.loads(listed.stdout)


def test_loose_files_load_from_the_option_and_the_environment_and_the_allow_list_decides(tmp_path: Path) -> None:
    (tmp_path / "shout.py").write_text(SHOUT)
    by_option = {p["name"]: p for p in _plugins(tmp_path, None, "--plugin", str(tmp_path / "shout.py"))}
    assert by_option["shout"]["source"] == "file" and by_option["shout"]["status"] == "active"
    assert by_option["shout"]["components"] == {"scorer": ["shout"]}
    by_env = {p["name"]: p for p in _plugins(tmp_path, {"FTPLUG_PLUGINS": str(tmp_path / "shout.py")})}
    assert by_env["shout"]["status"] == "active"
    none = {p["name"]: p for p in _plugins(tmp_path, {"FTPLUG_PLUGINS": str(tmp_path / "shout.py"),
                                                     "FTPLUG_LOAD_PLUGINS": ""})}
    assert none["shout"]["status"] == "disabled" and "FTPLUG_LOAD_PLUGINS" in str(none["shout"]["error"])
    assert none["scorers"]["status"] == "active"  # the allow-list is for third-party plugins only
    allowed = {p["name"]: p for p in _plugins(tmp_path, {"FTPLUG_PLUGINS": str(tmp_path / "shout.py"),
                                                        "FTPLUG_LOAD_PLUGINS": "shout"})}
    assert allowed["shout"]["status"] == "active"


def test_the_block_list_disables_even_a_builtin(tmp_path: Path) -> None:
    plugins = {p["name"]: p for p in _plugins(tmp_path, {"FTPLUG_DISABLE_PLUGINS": "scorers_text, scorers_numeric"})}
    assert plugins["scorers_text"]["status"] == "disabled" and plugins["scorers_numeric"]["status"] == "disabled"
    default = run_in_process("plugins", "list", "--json", env={"FTPLUG_DISABLE_PLUGINS": "scorers_text"}, cwd=tmp_path)
    assert "scorers_text" not in {p["name"] for p in json.loads(default.stdout)}  # shown only with --all
    experiment = tmp_path / "e.toml"
    experiment.write_text(EXAMPLE.read_text().replace('scorers = ["exact"]', 'scorers = ["exact", "refusals"]')
                          .replace('path = "fortunes.csv"', f'path = "{EXAMPLE.parent / "fortunes.csv"}"'))
    refused = run_in_process("run", str(experiment), "--limit", "2", env={"FTPLUG_DISABLE_PLUGINS": "scorers_text"},
                      cwd=tmp_path)
    assert refused.exit_code == 2 and "unknown scorer 'refusals'" in refused.stderr


def test_broken_plugins_are_named_and_the_rest_carries_on(tmp_path: Path) -> None:
    (tmp_path / "importfails.py").write_text("import no_such_module_anywhere\n")
    (tmp_path / "wrongsig.py").write_text("from ftplug import hookimpl\n\n@hookimpl\ndef ftplug_run_started(run, "
                                          "surprise):\n    pass\n")
    (tmp_path / "shout.py").write_text(SHOUT)
    files = os.pathsep.join(str(tmp_path / f"{n}.py") for n in ("importfails", "wrongsig", "shout"))
    plugins = {p["name"]: p for p in _plugins(tmp_path, {"FTPLUG_PLUGINS": files})}
    assert plugins["importfails"]["status"] == "failed"
    assert "ModuleNotFoundError" in str(plugins["importfails"]["error"])
    assert plugins["wrongsig"]["status"] == "failed" and "surprise" in str(plugins["wrongsig"]["error"])
    assert plugins["shout"]["status"] == "active"
    listed = run_in_process("plugins", "list", env={"FTPLUG_PLUGINS": files}, cwd=tmp_path)
    warnings = [line for line in listed.stderr.splitlines() if line.startswith("ftplug: warning: plugin")]
    assert len(warnings) == 2 and all("Traceback" not in line for line in listed.stderr.splitlines())
    strict = run_in_process("plugins", "list", env={"FTPLUG_PLUGINS": files, "FTPLUG_STRICT_PLUGINS": "1"},
                            cwd=tmp_path)
    assert strict.exit_code != 0


def _experiment_with(tmp_path: Path, extra_variants: str) -> Path:
    text = EXAMPLE.read_text().replace('path = "fortunes.csv"', f'path = "{EXAMPLE.parent / "fortunes.csv"}"')
    path = tmp_path / "e.toml"
    path.write_text(text.replace("[scoring]", extra_variants + "\n[scoring]"))
    return path


def test_a_component_that_raises_fails_its_variant_and_its_plugin_for_the_run(tmp_path: Path) -> None:
    (tmp_path / "flaky.py").write_text(BROKEN_TRAINER)
    experiment = _experiment_with(tmp_path, '''
[[variants]]
name = "flaky-1"
trainer = { name = "flaky" }
prompt = { builder = "few-shot", shots = 0 }

[[variants]]
name = "flaky-2"
trainer = { name = "flaky" }
prompt = { builder = "few-shot", shots = 2 }
''')
    done = run_in_process("run", str(experiment), "--limit", "4", "--db", "r.duckdb",
                   env={"FTPLUG_PLUGINS": str(tmp_path / "flaky.py")}, cwd=tmp_path)
    assert done.exit_code == 1 and "Traceback" not in done.stderr
    assert ("flaky-1: failed: trainer 'flaky' of plugin 'flaky' raised RuntimeError in train(): the GPU caught fire"
            in done.stderr)
    assert "flaky-2: failed: plugin 'flaky' was disabled for this run after an error" in done.stderr
    assert "zero-shot: 4/4 predictions" in done.stderr and "fine-tuned: 4/4 predictions" in done.stderr
    assert "variant(s) failed: flaky-1, flaky-2" in done.stderr


def test_lifecycle_hooks_run_once_around_a_run_with_the_arguments_they_ask_for(tmp_path: Path) -> None:
    (tmp_path / "lifecycle.py").write_text(LIFECYCLE)
    (tmp_path / "raising.py").write_text(RAISING_LOGGER)
    log = tmp_path / "events.jsonl"
    env = {"FTPLUG_PLUGINS": os.pathsep.join(str(tmp_path / n) for n in ("lifecycle.py", "raising.py")),
           "LIFECYCLE_LOG": str(log)}
    done = run_in_process("run", str(EXAMPLE), "--limit", "3", "--db", "r.duckdb", env=env, cwd=tmp_path)
    assert done.exit_code == 0, done.stderr
    assert "ftplug: warning: plugin 'raising' was disabled: ftplug_run_started raised ValueError" in done.stderr
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert events[0] == {"hook": "activate", "experiment": "fortunes-topic"}
    assert events[-1] == {"hook": "deactivate", "variants": ["zero-shot", "few-shot-5", "few-shot-40", "fine-tuned"],
                          "stored": 12}
    assert [e["hook"] for e in events[1:-1]] == ["stored"] * 12


def test_tracing_logs_every_hook_call(tmp_path: Path) -> None:
    traced = run_in_process("plugins", "list", env={"FTPLUG_TRACE_PLUGINS": "1"}, cwd=tmp_path)
    assert traced.exit_code == 0
    assert any(line.startswith("ftplug: trace: ftplug_register_scorers [scorers]")
               for line in traced.stderr.splitlines())
