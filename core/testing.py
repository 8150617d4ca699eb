"""ftplug's pytest plugin (entry point ``pytest11``): fixtures for testing plugins and experiments offline.

Installed with ftplug, so any project's tests can use the fixtures without importing anything:

- ``ftplug_simulator``: the offline OpenAI simulator, running on loopback for the test (``.base_url``);
- ``ftplug_client``: an official ``openai.OpenAI`` client pointed at it;
- ``ftplug_store``: a new DuckDB result store in the test's temporary folder, closed afterwards;
- ``ftplug_plugin``: ``ftplug_plugin(plugin, name=None)`` registers a plugin (a module or an object with
  ``@hookimpl`` functions) for this test only — its components are usable in experiments, and everything
  is unregistered afterwards (a plugin already loaded, e.g. installed with its entry point, is left as it
  is);
- ``ftplug_run``: ``ftplug_run(experiment_dict, limit=None)`` runs an experiment given as the dict its TOML
  would parse to (relative data paths are resolved against the test's temporary folder) on the simulator,
  into ``ftplug_store``, and returns the list of :class:`ftplug.store.records.RunSummary`.
- ``ftplug_cli``: ``ftplug_cli(*args, env=None)`` runs ``ftplug ARGS`` in this process, from the test's
  temporary folder with no API key set, as the console command would (``.exit_code``, ``.stdout``,
  ``.stderr``): e.g. ``ftplug_cli("run", "experiment.toml", "--db", "r.duckdb")``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def ftplug_simulator(tmp_path: Path) -> Iterator[Any]:
    """The offline simulator, serving on loopback while the test runs."""
    from ftplug.simulator import Simulator

    with Simulator(seed=0, state_dir=tmp_path / "ftplug-simulator") as simulator:
        yield simulator


@pytest.fixture
def ftplug_client(ftplug_simulator: Any) -> Iterator[Any]:
    """An ``openai.OpenAI`` client for :func:`ftplug_simulator`."""
    from openai import OpenAI

    from ftplug.engine.endpoint import SIMULATOR_KEY

    client = OpenAI(base_url=ftplug_simulator.base_url, api_key=SIMULATOR_KEY, max_retries=0)
    yield client
    client.close()


@pytest.fixture
def ftplug_store(tmp_path: Path) -> Iterator[Any]:
    """A new result store (DuckDB) in the test's temporary folder."""
    from ftplug.store import open_store

    store = open_store(str(tmp_path / "ftplug-test.duckdb"))
    yield store
    store.close()


@pytest.fixture
def ftplug_plugin() -> Iterator[Callable[..., str]]:
    """``register(plugin, name=None) -> name``: a plugin registered with ftplug for this test only."""
    from ftplug.pluginhost.manager import get_plugins

    plugins = get_plugins()
    added: list[str] = []

    def register(plugin: object, name: str | None = None) -> str:
        if plugins.pm.is_registered(plugin):  # installed, so already loaded through its entry point
            return str(plugins.pm.get_name(plugin))
        plugin_name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        plugins.register_object(plugin_name, plugin, source="test")
        info = plugins.infos[plugin_name]
        if info.status != "active":
            plugins.unregister(plugin_name)
            raise RuntimeError(f"plugin {plugin_name!r} did not load: {info.error}")
        plugins.collect_components(only={plugin_name})
        if plugins.infos[plugin_name].status != "active":
            error = plugins.infos[plugin_name].error
            plugins.unregister(plugin_name)
            raise RuntimeError(f"plugin {plugin_name!r} did not register its components: {error}")
        added.append(plugin_name)
        return plugin_name

    yield register
    for name in reversed(added):
        plugins.unregister(name)


@pytest.fixture
def ftplug_run(tmp_path: Path, ftplug_simulator: Any, ftplug_store: Any) -> Callable[..., list[Any]]:
    """``run(experiment_dict, limit=None) -> summaries``: an experiment from a dict, on the simulator."""
    from ftplug.config.run_options import run_options_for
    from ftplug.engine.endpoint import SIMULATOR_KEY, Endpoint
    from ftplug.engine.workbench import Workbench

    def run(experiment: dict[str, Any], limit: int | None = None, **options: Any) -> list[Any]:
        bench = Workbench.load(experiment, path=tmp_path / "experiment.toml")
        bench.options = run_options_for(bench.experiment, limit=limit, quiet=True, **options)
        endpoint = Endpoint(base_url=ftplug_simulator.base_url, api_key=SIMULATOR_KEY, simulated=True)
        return bench.run(ftplug_store, endpoint)

    return run


@pytest.fixture
def ftplug_cli(tmp_path: Path) -> Callable[..., Any]:
    """``cli(*args, env=None, cwd=tmp_path) -> CommandResult``: ``ftplug ARGS`` run in this process as the
    console command runs it (exit code, stdout, stderr), with no API key set, each call with the process to
    itself (:mod:`ftplug.cli.in_process`)."""
    from ftplug.cli.in_process import run_command

    def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
        return run_command(args, cwd=cwd or tmp_path, env=env, hide_api_keys=True)

    return cli
