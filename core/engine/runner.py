"""Runs an experiment: each variant through trainer → prompt builder → client → scorers → store."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ftplug.catalogue.local_models import is_local_model
from ftplug.catalogue.tokens import TokenCounter
from ftplug.components import TrainedModel, TrainingContext
from ftplug.config.durations import duration
from ftplug.config.experiment import Experiment
from ftplug.config.run_options import RunOptions, run_options_for
from ftplug.dataset import Example, Splits
from ftplug.engine.budget import Budget, BudgetReached
from ftplug.engine.endpoint import (
    OPENAI_URL,
    Endpoint,
    LazyClient,
    answering_endpoint,
    borrowed_name,
    endpoint_label,
    variant_simulated,
)
from ftplug.engine.local_predictions import predict_locally
from ftplug.engine.planning import Plan, PreparedVariant, describe_split, make_plan, training_rows
from ftplug.engine.predictions import PredictionFactory, VariantRequests
from ftplug.engine.progress import Progress
from ftplug.engine.rate_limits import RequestLimiter
from ftplug.engine.remote_predictions import predict_remotely
from ftplug.engine.requester import ChatRequester, describe_error, describe_request_stats, is_openai_error
from ftplug.engine.response_cache import cache_endpoint
from ftplug.engine.run_keys import variant_key
from ftplug.engine.scoring import active_scorers, scorer_info
from ftplug.engine.sink import PredictionSink
from ftplug.errors import FtplugError
from ftplug.pluginhost.guard import ComponentError
from ftplug.pluginhost.lifecycle import LifecycleHooks
from ftplug.store import Store
from ftplug.store.records import PredictionRecord, RunInfo, RunSummary


class ExperimentRunner:
    """Runs every variant of an experiment on the same test split and stores the results."""

    def __init__(self, experiment: Experiment, *, store: Store, hooks: LifecycleHooks,
                 options: RunOptions | None = None, log: Callable[[str], None] = print) -> None:
        self.experiment, self.store, self.hooks = experiment, store, hooks
        self.options = options or run_options_for(experiment)
        self.log = log
        ids = experiment.scorer_ids or tuple(spec.name for spec in experiment.scorers)
        self.budget = Budget(self.options.max_cost)  # what this invocation may pay for answers, and has paid
        self.scorers = active_scorers(((scorer_id, spec.create())
                                       for scorer_id, spec in zip(ids, experiment.scorers, strict=True)),
                                      [spec.component.named for spec in experiment.scorers])
        self.scoring_details: dict[str, Any] = {  # stored with each run, as JSON
            "scorers": {scorer.id: scorer_info(scorer, spec.name)
                        for scorer, spec in zip(self.scorers, experiment.scorers, strict=True)},
            "samples": experiment.samples, "temperature": experiment.temperature,
            "report": dict(experiment.report_options)}
        self.limiters: dict[str, RequestLimiter] = {}
        self.broken_plugins: dict[str, str] = {}  # plugin → the error that took it out of this run
        self.token_counter: TokenCounter | None = None

    def plan(self) -> Plan:
        """Load and split the data and prepare every variant (:func:`ftplug.engine.planning.make_plan`)."""
        return make_plan(self.experiment, self.options)

    def run(self, endpoint: Endpoint, plan: Plan | None = None) -> list[RunSummary]:
        """Run every variant of ``plan`` (made now if not given) against ``endpoint``; one summary per variant."""
        plan = plan or self.plan()
        self.scoring_details["report"]["cluster"] = plan.cluster_key
        self.store.save_examples(self.experiment.name, plan.splits, plan.clusters)
        splits = plan.splits
        shard = f" (shard {self.options.shard[0]}/{self.options.shard[1]} of {len(plan.whole_test)})" \
            if self.options.shard else ""
        self.log(f"{self.experiment.name}: {len(splits.train)} train, {len(splits.validation)} validation, "
                 f"{len(plan.test)} test examples{shard}{describe_split(splits)}; answered: "
                 f"{self.describe_answering(plan.variants, endpoint)}")
        summaries: list[RunSummary] = []
        self.hooks.ftplug_activate(experiment=self.experiment, store=self.store)
        try:
            for variant in plan.variants:
                summaries.append(self._start_or_skip(variant, plan, endpoint))
        finally:
            self.hooks.ftplug_deactivate(experiment=self.experiment, store=self.store, summaries=summaries)
        return summaries

    def answers_locally(self, variant: PreparedVariant) -> bool:
        """Whether ``variant`` is answered in this process (never by the simulator): its trainer says so
        (``local = True``) or its model is a local one (``local:…``)."""
        return variant.trainer_declares.local or is_local_model(self.experiment.model_for(variant.spec))

    def describe_answering(self, variants: Sequence[PreparedVariant], endpoint: Endpoint) -> str:
        """Which variants are answered where, for the run's header: ``local`` ones in this process (real), the
        others by their endpoint (SIMULATED on the simulator)."""
        places: dict[str, list[str]] = {}
        for variant in variants:
            if self.answers_locally(variant):
                place = "in this process (real)"
            else:
                place = "by " + endpoint_label(endpoint, variant.spec.endpoint, False)
                place += " (SIMULATED)" if variant_simulated(endpoint, variant.spec.endpoint) else " (live)"
            places.setdefault(place, []).append(variant.spec.name)
        return "; ".join(f"{', '.join(names)} {place}" for place, names in places.items())

    def _start_or_skip(self, variant: PreparedVariant, plan: Plan, endpoint: Endpoint) -> RunSummary:
        """The variant run, unless it cannot start: a component or plugin of it failed, or the budget is spent."""
        blocked = variant.error or self._blocked(variant)
        if blocked is not None:
            self.log(f"{variant.spec.name}: failed: {blocked}")
            if isinstance(blocked, ComponentError):
                self.broken_plugins.setdefault(blocked.plugin, str(blocked))
            return RunSummary(run_id="", variant=variant.spec.name, status="failed", error=str(blocked))
        if (spent := self.budget.exhausted()) is not None:
            self.log(f"{variant.spec.name}: not started: the run has {spent}")
            return RunSummary(run_id="", variant=variant.spec.name, status="stopped", error=f"the run has {spent}")
        return self.run_variant(variant, plan, endpoint)

    def _blocked(self, variant: PreparedVariant) -> str | None:
        """Why the variant cannot run: one of its components' plugins failed earlier in this run."""
        for spec in (variant.spec.trainer, variant.spec.prompt):
            if spec.component.plugin in self.broken_plugins:
                return (f"plugin {spec.component.plugin!r} was disabled for this run after an error: "
                        f"{self.broken_plugins[spec.component.plugin]}")
        return None

    def run_variant(self, variant: PreparedVariant, plan: Plan, endpoint: Endpoint) -> RunSummary:
        """Resume or start the variant's run, train (if the variant does), predict every test example not yet
        stored, score and store each prediction, and finish the run."""
        clock = time.monotonic()
        opened = self._open_run(variant, plan, endpoint)
        if isinstance(opened, RunSummary):
            return opened
        run = opened.run
        self.hooks.ftplug_run_started(run=run)
        progress = None if self.options.quiet else Progress(run.variant, opened.remaining, log=self.log,
                                                            interval=self.options.progress_interval)

        def stored(record: PredictionRecord) -> None:
            if progress is not None:
                progress.add(record.error is not None, None if record.from_cache else record.cost_usd)
            self.hooks.ftplug_prediction_stored(run=run, prediction=record)

        sink = PredictionSink(self.store, run, self.options.batch_size, stored, background=True, budget=self.budget)
        summary = RunSummary(run_id=run.run_id, variant=run.variant, status="failed",
                             details=dict(self.scoring_details))
        if variant.spec.draw is not None:
            summary.details["draw"] = variant.spec.draw.details(self.experiment.seed)
        try:
            trained = self._train(variant, plan.splits, run, endpoint)
            if trained.answers_here and run.simulated:  # the label follows where the answers come from
                run = sink.run = self._answered_here(run)
            if progress is not None:
                progress.restart()
            if trained.model != run.model:
                self.store.set_model(run.run_id, trained.model)
            summary.details.update(trained.details)
            if variant.trainer_declares.baseline:  # what the report's margins are measured against
                summary.details.setdefault("baseline", variant.spec.trainer.name)
            if variant.trainer_declares.trains:  # what the trainer learnt from: the x of a learning curve
                summary.details["train_rows"] = len(training_rows(plan.splits, variant.spec.train_size))
            summary.details.update(self._predict(variant, trained, opened, plan.test, endpoint, sink, progress))
            summary.status = "succeeded"
            prompt = variant.prompt_declares
            if prompt.report is not None:
                summary.details["prompt"] = dict(prompt.report())
            if prompt.report is not None and prompt.describe is not None:
                self.log(f"{run.variant}: {prompt.describe()}")
        except BudgetReached as stop:
            summary.status, summary.error = "stopped", str(stop)
            self.log(f"{run.variant}: stopped: {stop}; raise --max-cost and run again to resume")
        except FtplugError as error:
            summary.error = str(error)
            self.log(f"{run.variant}: failed: {error}")
            if isinstance(error, ComponentError):
                self.broken_plugins.setdefault(error.plugin, str(error))
                self.log(f"ftplug: warning: plugin {error.plugin!r} is disabled for the rest of this run")
        except (KeyboardInterrupt, asyncio.CancelledError):
            summary.status, summary.error = "interrupted", "interrupted by the user"
            raise
        finally:
            self._finish(run, summary, sink, progress)
        label = " [simulated]" if run.simulated else ""
        self.log(f"{run.variant}: {summary.predictions}/{len(plan.test)} predictions, {summary.errors} errors"
                 f"{describe_request_stats(summary.details.get('requests'))} in {duration(time.monotonic() - clock)}"
                 f"{label}")
        return summary

    def _open_run(self, variant: PreparedVariant, plan: Plan, endpoint: Endpoint) -> OpenedRun | RunSummary:
        """The variant's run, resumed where an earlier one with the same key did not finish (only its missing
        examples to do), or new; the earlier run's summary when it is already complete."""
        spec = variant.spec
        local = self.answers_locally(variant)  # answered in this process, never simulated
        simulated = not local and variant_simulated(endpoint, spec.endpoint)
        key = variant_key(self.experiment, spec, plan.test_digest, simulated)
        shard = f"{self.options.shard[0]}/{self.options.shard[1]}" if self.options.shard else None
        earlier = (None if self.options.fresh
                   else self.store.resumable_run(self.experiment.name, spec.name, key, shard))
        model = self.experiment.model_for(spec)
        run = RunInfo(run_id=earlier[0] if earlier else uuid.uuid4().hex, experiment=self.experiment.name,
                      variant=spec.name, model=model, base_model=model,
                      trainer=spec.trainer.name, prompt_builder=spec.prompt.name,
                      simulated=simulated, endpoint=endpoint_label(endpoint, spec.endpoint, local),
                      started_at=earlier[2] if earlier else datetime.now(UTC).replace(tzinfo=None), config_key=key,
                      shard=shard)
        if not earlier:
            self.store.start_run(run)
            return OpenedRun(run, plan.test, len(plan.test))
        total = len(plan.test)
        done = self.store.stored_examples(run.run_id)
        remaining = total - len(done)
        if not remaining and earlier[1] == "succeeded":
            self.log(f"{spec.name}: complete: all {total} predictions are stored (run {run.run_id}); "
                     "--fresh runs it again")
            predictions, errors = self.store.run_counts(run.run_id)
            return RunSummary(run_id=run.run_id, variant=spec.name, status="succeeded", predictions=predictions,
                              errors=errors)
        self.log(f"{spec.name}: resuming run {run.run_id} ({earlier[1]}): {len(done)} of {total} "
                 "predictions already stored")
        self.store.reopen_run(run.run_id)
        return OpenedRun(run, (example for example in plan.test if example.id not in done), remaining)

    def _answered_here(self, run: RunInfo) -> RunInfo:
        """``run``, answered in this process after all (its trainer returned a local predictor without
        declaring ``local = True``): stored as real, not simulated."""
        self.store.set_answered_here(run.run_id)
        self.log(f"{run.variant}: answered in this process: its results are real, not simulated")
        return dataclasses.replace(run, simulated=False, endpoint="local")

    def _finish(self, run: RunInfo, summary: RunSummary, sink: PredictionSink, progress: Progress | None) -> None:
        """Commit what is pending and record how the run ended, however it ended."""
        sink.close()
        if progress is not None:
            progress.finish()
        summary.predictions, summary.errors = self.store.run_counts(run.run_id)
        self.store.finish_run(run.run_id, summary.status, datetime.now(UTC).replace(tzinfo=None),
                              summary.error, summary.details)
        self.hooks.ftplug_run_finished(run=run, summary=summary)

    def _train(self, variant: PreparedVariant, splits: Splits, run: RunInfo, endpoint: Endpoint) -> TrainedModel:
        def log(line: str) -> None:
            self.log(f"{variant.spec.name}: {line}")

        context = TrainingContext(
            experiment=self.experiment.name, variant=variant.spec.name,
            base_model=self.experiment.model_for(variant.spec),
            train=training_rows(splits, variant.spec.train_size), validation=splits.validation, prompt=variant.prompt,
            client=LazyClient(lambda: answering_endpoint(endpoint, None, None, variant.spec.endpoint).client(
                max_retries=self.options.max_retries)),
            simulated=endpoint.embedded,  # a standalone simulator trains at its address, as an API does
            seed=self.experiment.seed, log=log, endpoint_url=endpoint.base_url, ledger=self.store,
            approve_cost=functools.partial(self.options.cost_gate.approve, simulated=endpoint.simulated, log=log),
            resume_hint=self.options.resume_hint, local_options=self.experiment.local_options,
            temperature=self.experiment.temperature)
        try:
            return variant.trainer.train(context)
        except FtplugError:
            raise
        except Exception as error:
            if is_openai_error(error):
                raise FtplugError(f"training failed: {describe_error(error)}") from error
            raise
        finally:
            context.client.close()

    def _predict(self, variant: PreparedVariant, trained: TrainedModel, opened: OpenedRun, test: Sequence[Example],
                 endpoint: Endpoint, sink: PredictionSink, progress: Progress | None) -> dict[str, Any]:
        """Answer what ``opened`` still has to do: in this process, or at the model's endpoint (in batches with
        ``--batch``); what the answering stored in the run's details."""
        run = opened.run
        if trained.answers_here:
            if trained.warm_up is not None and opened.remaining:
                trained.warm_up()
                if progress is not None:
                    progress.restart()
            predict_locally(trained, opened.todo, PredictionFactory(run.run_id, trained.model, self.scorers), sink)
            return {"local": dict(trained.report())} if trained.report is not None else {}
        answering = answering_endpoint(endpoint, trained.base_url, trained.api_key_env, variant.spec.endpoint)
        records = PredictionFactory(run.run_id, trained.model, self.scorers,
                                    priced=self._priced_at(answering, run, trained.model))
        requests = VariantRequests(variant.prompt, trained.model, self._parameters(variant), cache_endpoint(answering),
                                   self.store.cached_responses if self.options.use_cache else None)
        if self.options.batch:
            return {"batch": self._predict_in_batches(answering, run, test, opened.todo, requests, records, sink)}
        return {"requests": asyncio.run(self._predict_remotely(answering, opened.todo, requests, records, sink))}

    def _priced_at(self, endpoint: Endpoint, run: RunInfo, model: str) -> bool:
        """Whether answers from ``endpoint`` are priced as ``model``: not when the server only borrows the
        name (:func:`ftplug.engine.endpoint.borrowed_name`) — the run is then named for where it was answered."""
        name = borrowed_name(endpoint, model)
        if name is None:
            return True
        self.store.set_model(run.run_id, name)
        self.log(f"{run.variant}: {endpoint.base_url} is not OpenAI's API: its answers are not priced as {model} "
                 "(give the model's prices in a catalogue file, [model] catalogue, to price them)")
        return False

    async def _predict_remotely(self, endpoint: Endpoint, todo: Iterable[Example], requests: VariantRequests,
                                records: PredictionFactory, sink: PredictionSink) -> dict[str, Any]:
        client = endpoint.async_client(max_retries=0)  # retries are the requester's, within the limits
        requester = ChatRequester(client, self._limiter(endpoint), self.options.retry,
                                  count_tokens=lambda messages: self._token_counter().messages(messages))
        try:
            await predict_remotely(todo, requests, requester, records=records, sink=sink, budget=self.budget,
                                   concurrency=self.options.concurrency)
        finally:
            await client.close()
        return requester.stats.as_dict(requester.limiter, self.options.concurrency)

    def _predict_in_batches(self, endpoint: Endpoint, run: RunInfo, test: Sequence[Example], todo: Iterable[Example],
                            requests: VariantRequests, records: PredictionFactory,
                            sink: PredictionSink) -> dict[str, Any]:
        from ftplug.engine.batch_mode import BatchRunner

        client = endpoint.client(max_retries=self.options.max_retries)
        try:
            batches = BatchRunner(client, self.store, requests=requests, records=records, sink=sink,
                                  budget=self.budget, simulated=endpoint.simulated,
                                  log=lambda line: self.log(f"{run.variant}: {line}"),
                                  poll_seconds=self.options.batch_poll_seconds or (0.2 if endpoint.simulated else 30))
            return batches.run(run, test, todo).as_dict()
        except FtplugError:
            raise
        except Exception as error:
            if is_openai_error(error):
                raise FtplugError(f"batch mode: {describe_error(error)}") from error
            raise
        finally:
            client.close()

    def _limiter(self, endpoint: Endpoint) -> RequestLimiter:
        """The one limiter of ``endpoint``, shared by every variant asking it."""
        key = endpoint.base_url or OPENAI_URL
        if key not in self.limiters:
            self.limiters[key] = RequestLimiter(self.options.rpm, self.options.tpm)
        return self.limiters[key]

    def _token_counter(self) -> TokenCounter:
        if self.token_counter is None:
            self.token_counter = TokenCounter(self.experiment.base_model)
        return self.token_counter

    def _parameters(self, variant: PreparedVariant) -> dict[str, Any]:
        """The request's sampling parameters (part of its cache key)."""
        parameters: dict[str, Any] = {"temperature": self.experiment.temperature, "seed": self.experiment.seed}
        limit = variant.prompt_declares.max_output_tokens
        if limit:
            parameters["max_completion_tokens"] = limit
        if self.experiment.samples > 1:
            parameters["n"] = self.experiment.samples
        return parameters


@dataclass
class OpenedRun:
    """A variant's run as it starts, new or resumed: the test examples it still has to predict."""

    run: RunInfo
    todo: Iterable[Example]
    remaining: int
