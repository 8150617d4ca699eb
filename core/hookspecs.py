"""The hooks a plugin may implement.

A plugin is a module (or object) with functions marked ``@ftplug.hookimpl`` whose names match the
specs below. Built-in plugins and third-party ones (entry-point group ``ftplug``) are registered the
same way. Registration hooks receive a ``register`` callable; a plugin calls it once per component, and
the component's options are its factory's parameters, each declared once in the signature::

    class ExactScorer:
        def __init__(self, normalize: Annotated[bool, Help("fold case")] = True) -> None: ...

    @hookimpl
    def ftplug_register_scorers(register):
        register("exact", ExactScorer)

Plugins must import heavy dependencies inside the components they contribute, not at module level,
so that ``ftplug --help`` stays fast.

An implementation may accept only some of a spec's arguments (pluggy passes what it asks for): specs grow
new arguments without breaking older plugins. An argument on its way out is marked with pluggy's
``warn_on_impl_args``, so implementations still using it get a ``DeprecationWarning`` naming the
replacement, for at least one minor release before it goes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from ftplug.components import Register
    from ftplug.config.experiment import Experiment
    from ftplug.store import Store
    from ftplug.store.records import PredictionRecord, RunInfo, RunSummary

PROJECT = "ftplug"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def ftplug_register_loaders(register: Register) -> None:
    """Contribute data loaders.

    :param register: call ``register(name, factory, options=..., description=...)`` for each loader.
        ``factory(**options)`` returns an object with ``load(context) -> Iterable[Example]``
        (see :class:`ftplug.components.Loader`).
    """


@hookspec
def ftplug_register_prompt_builders(register: Register) -> None:
    """Contribute prompt builders.

    :param register: call it for each builder. ``factory(**options)`` returns an object with
        ``prepare(pool, model)`` and ``build(example) -> list[message dict]``
        (see :class:`ftplug.components.PromptBuilder`).
    """


@hookspec
def ftplug_register_trainers(register: Register) -> None:
    """Contribute trainers: fine-tuning back-ends and local baselines.

    :param register: call it for each trainer. ``factory(**options)`` returns an object with
        ``train(context) -> TrainedModel`` (see :class:`ftplug.components.Trainer`).
    """


@hookspec
def ftplug_register_scorers(register: Register) -> None:
    """Contribute scorers.

    :param register: call it for each scorer. ``factory(**options)`` returns an object with
        ``score(output, example) -> float | None`` (see :class:`ftplug.components.Scorer`).
    """


@hookspec
def ftplug_register_commands(cli: click.Group) -> None:
    """Add commands to the ``ftplug`` command-line interface.

    Called when the commands are listed (``ftplug --help``) or one is not found among the core's. Declaring a
    command lazily keeps listing fast: ``cli.add_lazy_command("greet", "my_plugin.cli:greet", "Say hello.")``
    names it, gives the one line ``--help`` shows, and imports ``my_plugin.cli`` only when ``ftplug greet``
    runs. ``cli.add_command(...)`` and ``@cli.command()`` work too, importing the command with the plugin.

    :param cli: the top-level click group (a :class:`ftplug.cli.lazy_commands.LazyGroup`).
    """


@hookspec(firstresult=True)
def ftplug_open_store(path: str) -> Store | None:
    """Open the result store at ``path``; the first plugin that returns a store wins.

    :param path: the store location given by ``--db`` (a DuckDB file by default).
    :return: an object implementing :class:`ftplug.store.Store`, or ``None`` to let another plugin answer.
    """


@hookspec
def ftplug_activate(experiment: Experiment, store: Store) -> None:
    """Called once when ``ftplug run`` starts an experiment, before its first variant: open what the plugin
    needs for the run (a connection, a log file) here, not at import time.

    :param experiment: the validated experiment about to run.
    :param store: the result store the run writes to.
    """


@hookspec
def ftplug_deactivate(experiment: Experiment, store: Store, summaries: list[RunSummary]) -> None:
    """Called once when the run of an experiment ends — finished, failed or interrupted — to close what
    :func:`ftplug_activate` opened.

    :param experiment: the experiment that ran.
    :param store: the result store, still open.
    :param summaries: one summary per variant that ran (fewer when the run was interrupted).
    """


@hookspec
def ftplug_run_started(run: RunInfo) -> None:
    """Called when a variant's run starts, after its row is stored.

    :param run: the run's identity: run id, experiment, variant, model, whether it is simulated.
    """


@hookspec
def ftplug_prediction_stored(run: RunInfo, prediction: PredictionRecord) -> None:
    """Called after each prediction has been committed to the store.

    :param run: the run the prediction belongs to.
    :param prediction: the stored prediction with its scores.
    """


@hookspec
def ftplug_run_finished(run: RunInfo, summary: RunSummary) -> None:
    """Called when a variant's run has finished (or failed), after its status is stored.

    :param run: the run that finished.
    :param summary: counts and metrics of the run.
    """


def hook_names() -> list[str]:
    """Names of every hook spec defined here, in definition order."""
    return [name for name in globals() if name.startswith("ftplug_")]


__all__: list[Any] = ["hook_names", "hookimpl", "hookspec"]
