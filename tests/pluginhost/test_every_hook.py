"""One third-party plugin implementing every hook, used through the command line; and the guards that
keep docs/hooks.md and docs/cli.md generated from the code, and every hook exercised by a test."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb

from ftplug import hookspecs
from ftplug.cli.reference_docs import cli_markdown, hooks_markdown
from tests.helpers import EXAMPLE, ROOT, run_cli

EVERYTHING = '''
import csv, json, os
from ftplug import hookimpl
from ftplug.components import Option, TrainedModel
from ftplug.dataset import Example
from ftplug.plugins.duckdb_store.store import DuckDBStore

LOG = os.environ["EVERY_HOOK_LOG"]


def note(**event):
    with open(LOG, "a") as out:
        out.write(json.dumps(event) + "\\n")


class Rows:
    def __init__(self, path):
        self.path = path

    def load(self, context):
        with open(context.base_dir / self.path, encoding="utf-8", newline="") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                yield Example(row["id"], row["text"], row["topic"], {"line": line})


class Plain:
    def prepare(self, pool, model, seed):
        note(hook="prepare", pool=len(pool))

    def build(self, example):
        return [{"role": "user", "content": example.input_text}]

    def training_messages(self, example):
        return [*self.build(example), {"role": "assistant", "content": example.expected}]


class First:
    def train(self, context):
        answer = context.train[0].expected
        return TrainedModel(model="first", predict=lambda example: answer)


class Length:
    def score(self, output, example):
        return float(len(output))


@hookimpl
def ftplug_register_loaders(register):
    register("rows", Rows, options=[Option("path", str, help="a CSV file with id, text and topic")])


@hookimpl
def ftplug_register_prompt_builders(register):
    register("plain", Plain)


@hookimpl
def ftplug_register_trainers(register):
    register("first", First)


@hookimpl
def ftplug_register_scorers(register):
    register("length", Length)


@hookimpl
def ftplug_register_commands(cli):
    import click

    @cli.command()
    def hello():
        """Say hello."""
        click.echo("hello from a plugin")


@hookimpl
def ftplug_open_store(path):
    if path.endswith(".every.duckdb"):
        note(hook="open_store", path=os.path.basename(path))
        return DuckDBStore(path)
    return None


@hookimpl
def ftplug_activate(experiment, store):
    note(hook="activate")


@hookimpl
def ftplug_deactivate(experiment, store, summaries):
    note(hook="deactivate", statuses=[s.status for s in summaries])


@hookimpl
def ftplug_run_started(run):
    note(hook="run_started", variant=run.variant)


@hookimpl
def ftplug_prediction_stored(run, prediction):
    note(hook="prediction_stored", variant=run.variant)


@hookimpl
def ftplug_run_finished(run, summary):
    note(hook="run_finished", variant=run.variant, status=summary.status)
'''

EXPERIMENT = f'''
[experiment]
name = "every-hook"
seed = 3

[data]
loader = "rows"
path = "{EXAMPLE.parent / "fortunes.csv"}"

[split]
test = 6
validation = 0

[model]
base = "gpt-4o-mini-2024-07-18"

[[variants]]
name = "plain"
prompt = {{ builder = "plain" }}

[[variants]]
name = "first"
trainer = {{ name = "first" }}
prompt = {{ builder = "plain" }}

[scoring]
scorers = ["exact", "length"]
'''


def test_a_plugin_implementing_every_hook_takes_part_in_a_run(tmp_path: Path) -> None:
    (tmp_path / "everything.py").write_text(EVERYTHING)
    (tmp_path / "e.toml").write_text(EXPERIMENT)
    log = tmp_path / "log.jsonl"
    env = {"FTPLUG_PLUGINS": str(tmp_path / "everything.py"), "EVERY_HOOK_LOG": str(log)}
    hello = run_cli("hello", env=env, cwd=tmp_path)
    assert hello.returncode == 0 and hello.stdout == "hello from a plugin\n"
    done = run_cli("run", "e.toml", "--db", "r.every.duckdb", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in log.read_text().splitlines()]
    hooks = [e["hook"] for e in events]
    # the data and every prompt builder are prepared first: bad input fails before the result file is opened
    opened = hooks.index("open_store")
    assert events[opened]["path"] == "r.every.duckdb" and set(hooks[:opened]) == {"prepare"}
    assert opened < hooks.index("activate")
    assert hooks.count("prepare") == 2 and hooks.count("activate") == 1 and hooks[-1] == "deactivate"
    assert events[-1]["statuses"] == ["succeeded", "succeeded"]
    assert [e["variant"] for e in events if e["hook"] == "run_started"] == ["plain", "first"]
    assert hooks.count("prediction_stored") == 12 and hooks.count("run_finished") == 2
    with duckdb.connect(str(tmp_path / "r.every.duckdb"), read_only=True) as connection:
        lengths = connection.execute("SELECT count(*) FROM scores WHERE scorer = 'length'").fetchone()
        local = connection.execute("SELECT count(DISTINCT output) FROM predictions p JOIN runs r USING (run_id) "
                                   "WHERE r.variant = 'first'").fetchone()
    assert lengths == (12,) and local == (1,)  # the local trainer answers the same everywhere


def test_every_hook_spec_is_documented_generated_and_exercised_by_a_test() -> None:
    documented = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    assert documented == hooks_markdown(), "docs/hooks.md is stale: python -m ftplug.cli.reference_docs docs"
    tests = {path.name: path.read_text(encoding="utf-8") for path in (ROOT / "tests").glob("test_*.py")}
    this = Path(__file__).name
    for name in hookspecs.hook_names():
        function = getattr(hookspecs, name)
        assert f"## `{name}`" in documented
        for argument in list(function.__code__.co_varnames[:function.__code__.co_argcount]):
            assert f":param {argument}:" in (function.__doc__ or ""), f"{name}: {argument} is not described"
        exercised = [file for file, text in tests.items() if file != this and re.search(rf"\b{name}\b", text)]
        assert exercised or name[len("ftplug_"):] in EVERYTHING, f"{name} is not exercised by any test"


def test_the_command_reference_is_generated_from_the_commands() -> None:
    documented = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert documented == cli_markdown(), "docs/cli.md is stale: python -m ftplug.cli.reference_docs docs"
    for command in ("run", "report", "merge", "plugins new", "plugins info", "simulator serve"):
        assert f"## `ftplug {command}`" in documented
