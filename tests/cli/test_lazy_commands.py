"""Listing the commands imports none of them: built-in and plugin commands are declared by name, summary and
import path, and imported when they run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from ftplug.plugins.commands.table import COMMANDS
from tests.helpers import run_cli

LISTING = """
import json, sys
from ftplug.cli import cli
try:
    cli.main(args=["--help"], prog_name="ftplug", standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""

LAZY_PLUGIN = '''
from ftplug import hookimpl


@hookimpl
def ftplug_register_commands(cli):
    cli.add_lazy_command("greet", "greeting_command:greet", "Say hello to NAME.")
'''

GREETING_COMMAND = '''
import click


@click.command()
@click.argument("name")
def greet(name):
    """Say hello to NAME. Imported only when it runs."""
    click.echo(f"hello, {name}")
'''


def _modules_imported_by_help(env: dict[str, str] | None = None) -> tuple[set[str], str]:
    done = subprocess.run([sys.executable, "-c", LISTING], capture_output=True, text=True, check=True,
                          env=env)
    lines = done.stdout.strip().splitlines()
    return set(json.loads(lines[-1])), "\n".join(lines[:-1])


def test_help_lists_every_command_without_importing_one() -> None:
    modules, listing = _modules_imported_by_help()
    assert all(f"  {name} " in listing for name, _, _ in COMMANDS)
    assert "plugins " in listing and "tokens " in listing
    assert not {m for m in modules if m.endswith("_command") or m == "ftplug.cli.plugins_command"}
    heavy = {"ftplug.pluginhost.manager", "ftplug.engine.runner", "duckdb", "openai", "tiktoken", "numpy"}
    assert not heavy & modules, heavy & modules


@pytest.mark.parametrize(("name", "target", "summary"), COMMANDS)
def test_each_declared_summary_is_the_first_sentence_of_its_commands_help(name: str, target: str,
                                                                          summary: str) -> None:
    from ftplug.cli import cli

    command = cli.get_command(click.Context(cli), name)
    assert command is not None and command.name == name
    assert click.Command(name, help=summary).get_short_help_str(500) == command.get_short_help_str(500)


def test_a_plugins_lazy_command_is_listed_unimported_and_runs(tmp_path: Path) -> None:
    (tmp_path / "lazy_plugin.py").write_text(LAZY_PLUGIN, encoding="utf-8")
    (tmp_path / "greeting_command.py").write_text(GREETING_COMMAND, encoding="utf-8")
    env = {"PYTHONPATH": str(tmp_path), "FTPLUG_PLUGINS": str(tmp_path / "lazy_plugin.py")}
    listing = run_cli("--help", env=env)
    assert listing.returncode == 0, listing.stderr
    assert "greet" in listing.stdout and "Say hello to NAME." in listing.stdout and "tokens" in listing.stdout
    modules, _ = _modules_imported_by_help({**os.environ, **env})
    assert "greeting_command" not in modules and "ftplug.plugins.loaders.files" not in modules
    greeted = run_cli("greet", "world", env=env)
    assert greeted.returncode == 0 and greeted.stdout == "hello, world\n", greeted.stderr


def test_built_ins_loaded_after_a_plugin_leave_its_hooks_called_first(tmp_path: Path) -> None:
    from ftplug import hookimpl
    from ftplug.components import Kind
    from ftplug.pluginhost.manager import COMMAND_PLUGINS, Plugins

    class Store:
        @hookimpl
        def ftplug_open_store(self, path: str) -> str:
            return f"plugin store at {path}"

    plugins = Plugins(allow=None, block=set())
    plugins.load_builtins(only=COMMAND_PLUGINS)
    plugins.register_object("store-plugin", Store())
    plugins.load_builtins()
    plugins.collect_components()
    where = str(tmp_path / "x.duckdb")
    assert plugins.hook.ftplug_open_store(path=where) == f"plugin store at {where}"
    assert list(plugins.infos)[-1] == "store-plugin"
    assert plugins.registry.get(Kind.SCORER, "exact").plugin == "scorers"


def _install_fake_distribution(folder: Path, name: str) -> None:
    """A distribution's metadata folder with one entry point in the ``ftplug`` group, as pip leaves it."""
    info = folder / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[ftplug]\n{name} = {name}_module\n", encoding="utf-8")


def test_the_remembered_entry_points_follow_what_is_installed(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from ftplug.pluginhost.sources import entry_point_names, third_party_plugins_to_load

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("FTPLUG_PLUGINS", raising=False)
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    before = entry_point_names()
    assert (tmp_path / "cache" / "ftplug" / "entry-points.json").is_file()
    _install_fake_distribution(site, "first_plugin")
    assert entry_point_names() == sorted([*before, "first_plugin"])
    assert entry_point_names() == sorted([*before, "first_plugin"])  # now from the cache
    _install_fake_distribution(site, "second_plugin")
    assert set(entry_point_names()) - set(before) == {"first_plugin", "second_plugin"}
    assert third_party_plugins_to_load()
    monkeypatch.setenv("FTPLUG_LOAD_PLUGINS", "")
    assert not third_party_plugins_to_load()
