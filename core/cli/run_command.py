"""What ``ftplug run`` does once its options are read: plan, open the store and the endpoint, run, report."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ftplug.cli.options import DEFAULT_DB

if TYPE_CHECKING:
    from ftplug.config.experiment import Experiment
    from ftplug.config.run_options import RunOptions
    from ftplug.engine.endpoint import Mode
    from ftplug.engine.planning import Plan
    from ftplug.engine.runner import ExperimentRunner
    from ftplug.store import Store
    from ftplug.store.records import RunSummary


@dataclass(frozen=True)
class RunFlags:
    """The options of ``ftplug run`` that tune how the experiment runs, not what runs (see ``--help``)."""

    limit: int | None = None
    concurrency: int | None = None
    rpm: float | None = None
    tpm: float | None = None
    max_attempts: int | None = None
    yes: bool = False
    max_training_cost: float | None = None
    quiet: bool = False
    max_cost: float | None = None
    no_cache: bool = False
    shard: tuple[int, int] | None = None
    use_batch: bool = False
    fresh: bool = False


def run_experiment(experiment_file: Path, db: str, mode: Mode | None, explain: str | None, dry_run: bool,
                   flags: RunFlags, err: Callable[[str], None]) -> int:
    """``ftplug run``: every variant of ``experiment_file`` run into ``db`` (or ``--explain``ed, or estimated), the
    comparison printed; the exit code (130 when interrupted, 1 when a variant failed)."""
    from ftplug.config.experiment import load_experiment
    from ftplug.engine.workbench import Workbench
    from ftplug.pluginhost.manager import get_plugins

    if flags.shard and db == DEFAULT_DB:
        db = f"ftplug.shard-{flags.shard[0]}-of-{flags.shard[1]}.duckdb"
    plugins = get_plugins()
    experiment = load_experiment(experiment_file, plugins.registry)
    options = _run_options(experiment, experiment_file, db, flags)
    if explain is not None:
        from ftplug.engine.explain import explain_variant

        click.echo(explain_variant(experiment, explain, options))
        return 0
    bench = Workbench(experiment, plugins, options, log=_quiet(err) if flags.quiet else err)
    if dry_run:
        from ftplug.engine.dry_run import estimate_variants, format_estimates

        click.echo(format_estimates(experiment, estimate_variants(experiment, bench.plan())))
        return 0
    from ftplug.store import open_store

    plan = bench.plan()  # bad data fails here, before the result file is opened
    store = open_store(db)
    try:
        summaries = _run_plan(bench.runner(store), store, plan, experiment, mode, db, options, err)
        if summaries is None:
            return 130
    finally:
        store.close()
    failed = [s.variant for s in summaries if s.status != "succeeded"]
    if failed:
        err(f"ftplug: error: variant(s) failed: {', '.join(failed)} (see the messages above)")
        return 1
    return 0


def _run_options(experiment: Experiment, experiment_file: Path, db: str, flags: RunFlags) -> RunOptions:
    """The experiment's ``[run]`` settings with the flags over them, the cost gate and the resume command."""
    from ftplug.config.run_options import run_options_for
    from ftplug.engine.cost_gate import CostGate

    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    shard = flags.shard
    resume = ("ftplug", "run", str(experiment_file), "--db", db,
              *(("--shard", f"{shard[0]}/{shard[1]}") if shard else ()), *(("--batch",) if flags.use_batch else ()))
    gate = CostGate(max_training_cost=flags.max_training_cost, yes=flags.yes,
                    confirm=(lambda question: click.confirm(question, err=True)) if interactive else None)
    return run_options_for(experiment, limit=flags.limit, concurrency=flags.concurrency, rpm=flags.rpm, tpm=flags.tpm,
                           max_attempts=flags.max_attempts, shard=shard, batch=flags.use_batch, fresh=flags.fresh,
                           use_cache=not flags.no_cache, max_cost=flags.max_cost, quiet=flags.quiet, cost_gate=gate,
                           resume_hint=" ".join(shlex.quote(part) for part in resume))


def _run_plan(runner: ExperimentRunner, store: Store, plan: Plan, experiment: Experiment, mode: Mode | None, db: str,
              options: RunOptions, err: Callable[[str], None]) -> list[RunSummary] | None:
    """The plan run on the endpoint ``mode`` chooses and the comparison printed; ``None`` if interrupted."""
    from ftplug.engine.endpoint import open_endpoint, simulator_state_dir
    from ftplug.report.analysis import analyse
    from ftplug.report.text import render_text

    remote = [v.spec.name for v in plan.variants if not runner.answers_locally(v)]
    local = [v.spec.name for v in plan.variants if runner.answers_locally(v)]
    with open_endpoint(mode or "auto", seed=experiment.seed, state_dir=simulator_state_dir(db),
                       needed=bool(remote)) as endpoint:
        if endpoint.simulated and not local:
            err("ftplug: using the offline simulator: results are SIMULATED, not a real model's.")
        elif endpoint.simulated:
            err(f"ftplug: using the offline simulator: results of {', '.join(remote)} are SIMULATED, not a real "
                f"model's; {', '.join(local)} run in this process and are real.")
        try:
            summaries = runner.run(endpoint, plan)
        except KeyboardInterrupt:
            err(f"ftplug: interrupted; predictions committed so far are kept in {db}. Resume with: "
                f"{options.resume_hint}")
            return None
    click.echo(render_text(analyse(store, experiment.name)))
    return summaries


def _quiet(err: Callable[[str], None]) -> Callable[[str], None]:
    """With --quiet, only what went wrong still reaches the terminal."""
    def log(message: str) -> None:
        if any(marker in message for marker in (": failed: ", ": stopped: ", ": warning: ")):
            err(message)

    return log
