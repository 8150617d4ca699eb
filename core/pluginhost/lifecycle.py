"""The lifecycle hooks a run calls, typed: one method per hook of :mod:`ftplug.hookspecs` that the runner
calls, each implementation isolated (:meth:`ftplug.pluginhost.manager.Plugins.call_each`), so that a failing
reporter or logger plugin is named and disabled and the run goes on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ftplug.config.experiment import Experiment
    from ftplug.pluginhost.manager import Plugins
    from ftplug.store import Store
    from ftplug.store.records import PredictionRecord, RunInfo, RunSummary


class LifecycleHooks:
    """What :class:`ftplug.engine.runner.ExperimentRunner` tells the plugins while it runs."""

    def __init__(self, plugins: Plugins) -> None:
        self._plugins = plugins

    def ftplug_activate(self, *, experiment: Experiment, store: Store) -> None:
        """Before the first variant of ``experiment``."""
        self._plugins.call_each("ftplug_activate", experiment=experiment, store=store)

    def ftplug_deactivate(self, *, experiment: Experiment, store: Store, summaries: list[RunSummary]) -> None:
        """After the last variant, also after a failure or an interruption."""
        self._plugins.call_each("ftplug_deactivate", experiment=experiment, store=store, summaries=summaries)

    def ftplug_run_started(self, *, run: RunInfo) -> None:
        """A variant's run row is stored."""
        self._plugins.call_each("ftplug_run_started", run=run)

    def ftplug_prediction_stored(self, *, run: RunInfo, prediction: PredictionRecord) -> None:
        """A prediction is committed."""
        self._plugins.call_each("ftplug_prediction_stored", run=run, prediction=prediction)

    def ftplug_run_finished(self, *, run: RunInfo, summary: RunSummary) -> None:
        """A variant's run has finished or failed, its status stored."""
        self._plugins.call_each("ftplug_run_finished", run=run, summary=summary)
