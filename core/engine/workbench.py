"""The composition root of a run: an experiment read against the plugins that supply its components, with
its run options, from which the plan and the runner are made the one way ``ftplug run`` makes them —
``ftplug run``, :mod:`ftplug.testing` and the tests all start here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftplug.config.experiment import Experiment, experiment_from_dict, load_experiment
from ftplug.config.run_options import RunOptions
from ftplug.engine.planning import Plan, make_plan
from ftplug.engine.runner import ExperimentRunner

if TYPE_CHECKING:
    from ftplug.engine.endpoint import Endpoint
    from ftplug.pluginhost.manager import Plugins
    from ftplug.store import Store
    from ftplug.store.records import RunSummary


def _silent(line: str) -> None:
    """A log that keeps nothing."""


@dataclass
class Workbench:
    """An experiment ready to plan and run: the plugins behind its components and hooks, the experiment,
    its options and where its information lines go."""

    experiment: Experiment
    plugins: Plugins
    options: RunOptions = field(default_factory=RunOptions)
    log: Callable[[str], None] = _silent

    @classmethod
    def load(cls, source: str | Path | Mapping[str, Any], *, plugins: Plugins | None = None,
             path: str | Path = "experiment.toml", options: RunOptions | None = None,
             log: Callable[[str], None] = _silent) -> Workbench:
        """The workbench of the experiment file ``source``, or of an experiment given as a dict (``path``
        names it in errors and anchors its relative paths); the process's plugins unless ``plugins``."""
        if plugins is None:
            from ftplug.pluginhost.manager import get_plugins

            plugins = get_plugins()
        if isinstance(source, Mapping):
            experiment = experiment_from_dict(dict(source), plugins.registry, path)
        else:
            experiment = load_experiment(source, plugins.registry)
        return cls(experiment, plugins, options or RunOptions(), log)

    def plan(self) -> Plan:
        """Load and split the data and prepare every variant (bad input fails here, before anything runs)."""
        return make_plan(self.experiment, self.options)

    def runner(self, store: Store) -> ExperimentRunner:
        """The runner writing into ``store``, every hook call isolated: a plugin whose hook raises is named
        and disabled, and the run goes on."""
        return ExperimentRunner(self.experiment, store=store, hooks=self.plugins.isolated_hooks(),
                                options=self.options, log=self.log)

    def run(self, store: Store, endpoint: Endpoint, plan: Plan | None = None) -> list[RunSummary]:
        """Run every variant against ``endpoint`` into ``store``; one summary per variant."""
        return self.runner(store).run(endpoint, plan)
