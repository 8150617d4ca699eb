"""Lifecycle hooks fire for each run and each stored prediction, in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftplug import hookimpl
from ftplug.config.run_options import RunOptions
from ftplug.engine.endpoint import open_endpoint
from ftplug.engine.workbench import Workbench
from ftplug.pluginhost.manager import Plugins
from ftplug.plugins.duckdb_store.store import DuckDBStore
from tests.helpers import EXAMPLE


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    @hookimpl
    def ftplug_run_started(self, run) -> None:
        self.events.append(("started", run.variant))

    @hookimpl
    def ftplug_prediction_stored(self, run, prediction) -> None:
        assert prediction.run_id == run.run_id
        self.events.append(("stored", run.variant))

    @hookimpl
    def ftplug_run_finished(self, run, summary) -> None:
        self.events.append((f"finished:{summary.status}:{summary.predictions}", run.variant))


def test_lifecycle_hooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    recorder = Recorder()
    plugins = Plugins()
    plugins.load_builtins()
    plugins.register_object("recorder", recorder)
    plugins.collect_components()
    bench = Workbench.load(EXAMPLE, plugins=plugins, options=RunOptions(limit=3, batch_size=2))
    store = DuckDBStore(str(tmp_path / "hooks.duckdb"))
    with open_endpoint("simulate") as endpoint:
        bench.run(store, endpoint)
    store.close()
    for variant in ("zero-shot", "few-shot-5", "few-shot-40", "fine-tuned"):
        mine = [event for event, name in recorder.events if name == variant]
        assert mine == ["started", "stored", "stored", "stored", "finished:succeeded:3"]


def test_the_typed_lifecycle_hooks_match_their_specs() -> None:
    import inspect

    from ftplug import hookspecs
    from ftplug.pluginhost.lifecycle import LifecycleHooks

    methods = {name for name in vars(LifecycleHooks) if name.startswith("ftplug_")}
    assert methods == {"ftplug_activate", "ftplug_deactivate", "ftplug_run_started", "ftplug_prediction_stored",
                       "ftplug_run_finished"}
    for name in methods:
        spec = list(inspect.signature(getattr(hookspecs, name)).parameters)
        assert list(inspect.signature(getattr(LifecycleHooks, name)).parameters)[1:] == spec, name
