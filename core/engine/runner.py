"""Runs an experiment: each variant through trainer → prompt builder → client → scorers → store."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from ftplug.catalogue.costs import request_cost
from ftplug.catalogue.local_models import is_local_model
from ftplug.catalogue.tokens import TokenCounter
from ftplug.components import PROMPT_CHUNK, TrainedModel, TrainingContext, prompts_for, trains
from ftplug.config.durations import duration
from ftplug.config.experiment import Experiment, VariantSpec
from ftplug.config.run_options import RunOptions, run_options_for
from ftplug.dataset import Example, Splits
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
from ftplug.engine.progress import Progress
from ftplug.engine.rate_limits import RequestLimiter
from ftplug.engine.requester import (
    Answer,
    ChatRequester,
    QuotaExhausted,
    describe_error,
    describe_request_stats,
    is_openai_error,
)
from ftplug.engine.response_cache import CachedResponse, cache_endpoint, request_key
from ftplug.engine.run_keys import ids_digest, variant_key
from ftplug.engine.scoring import score_prediction, scorer_info
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
        self.spent = 0.0  # USD paid for answers by this invocation
        self.scorers = [(scorer_id, spec.create()) for scorer_id, spec in zip(ids, experiment.scorers, strict=True)]
        self.scoring_details: dict[str, Any] = {  # stored with each run, as JSON
            "scorers": {scorer_id: scorer_info(scorer, spec.name)
                        for (scorer_id, scorer), spec in zip(self.scorers, experiment.scorers, strict=True)},
            "samples": experiment.samples, "temperature": experiment.temperature,
            "report": dict(experiment.report_options)}
        self.endpoint: Endpoint | None = None
        self.limiters: dict[str, RequestLimiter] = {}
        self.broken_plugins: dict[str, str] = {}  # plugin → the error that took it out of this run
        self._test_digest: str | None = None  # the whole test split's ids, hashed once per run
        self._unpriced: set[str] = set()  # runs answered by a server whose prices the catalogue does not know
        self.token_counter: TokenCounter | None = None

    def plan(self) -> Plan:
        """Load and split the data and prepare every variant (:func:`ftplug.engine.planning.make_plan`)."""
        return make_plan(self.experiment, self.options)

    def run(self, endpoint: Endpoint, plan: Plan | None = None) -> list[RunSummary]:
        """Run every variant of ``plan`` (made now if not given) against ``endpoint``; one summary per variant."""
        plan = plan or self.plan()
        self.endpoint = endpoint
        self.scoring_details["report"]["cluster"] = plan.cluster_key
        self.store.save_examples(self.experiment.name, plan.splits, plan.clusters)
        splits = plan.splits
        shard = f" (shard {self.options.shard[0]}/{self.options.shard[1]} of {len(plan.whole_test)})" \
            if self.options.shard else ""
        self.log(f"{self.experiment.name}: {len(splits.train)} train, {len(splits.validation)} validation, "
                 f"{len(plan.test)} test examples{shard}{describe_split(splits)}; answered: "
                 f"{self.describe_answering(plan.variants)}")
        self._test_digest = ids_digest(example.id for example in plan.whole_test)
        summaries: list[RunSummary] = []
        self.hooks.ftplug_activate(experiment=self.experiment, store=self.store)
        try:
            self._run_variants(plan, summaries)
        finally:
            self.hooks.ftplug_deactivate(experiment=self.experiment, store=self.store, summaries=summaries)
        return summaries

    def answers_locally(self, variant: PreparedVariant) -> bool:
        """Whether ``variant`` is answered in this process (never by the simulator): its trainer says so
        (``local = True``) or its model is a local one (``local:…``)."""
        return bool(getattr(variant.trainer, "local", False)) or is_local_model(self.experiment.model_for(variant.spec))

    def describe_answering(self, variants: Sequence[PreparedVariant]) -> str:
        """Which variants are answered where, for the run's header: ``local`` ones in this process (real), the
        others by their endpoint (SIMULATED on the simulator)."""
        assert self.endpoint is not None
        places: dict[str, list[str]] = {}
        for variant in variants:
            if self.answers_locally(variant):
                where = "in this process (real)"
            else:
                where = "by " + endpoint_label(self.endpoint, variant.spec.endpoint, False)
                where += " (SIMULATED)" if variant_simulated(self.endpoint, variant.spec.endpoint) else " (live)"
            places.setdefault(where, []).append(variant.spec.name)
        return "; ".join(f"{', '.join(names)} {where}" for where, names in places.items())

    def _run_variants(self, plan: Plan, summaries: list[RunSummary]) -> None:
        for variant in plan.variants:
            blocked = variant.error or self._blocked(variant)
            if blocked is not None:
                self.log(f"{variant.spec.name}: failed: {blocked}")
                summaries.append(RunSummary(run_id="", variant=variant.spec.name, status="failed", error=str(blocked)))
                if isinstance(blocked, ComponentError):
                    self.broken_plugins.setdefault(blocked.plugin, str(blocked))
                continue
            if self._over_budget():
                reason = f"the run has spent ${self.spent:,.4f}, its --max-cost is ${self.options.max_cost:,.4f}"
                self.log(f"{variant.spec.name}: not started: {reason}")
                summaries.append(RunSummary(run_id="", variant=variant.spec.name, status="stopped", error=reason))
                continue
            summaries.append(self.run_variant(variant, plan.splits, plan.test))

    def _blocked(self, variant: PreparedVariant) -> str | None:
        """Why the variant cannot run: one of its components' plugins failed earlier in this run."""
        for spec in (variant.spec.trainer, variant.spec.prompt):
            if spec.component.plugin in self.broken_plugins:
                return (f"plugin {spec.component.plugin!r} was disabled for this run after an error: "
                        f"{self.broken_plugins[spec.component.plugin]}")
        return None

    def _over_budget(self, pending: float = 0.0) -> bool:
        return self.options.max_cost is not None and self.spent + pending >= self.options.max_cost

    def run_variant(self, variant: PreparedVariant, splits: Splits, test: Sequence[Example]) -> RunSummary:
        """Train (if the variant does), predict every test example, score and store each prediction."""
        spec = variant.spec
        clock = time.monotonic()
        assert self.endpoint is not None, "run_variant is called by run()"
        assert self._test_digest is not None
        local = self.answers_locally(variant)  # answered in this process, never simulated
        simulated = not local and variant_simulated(self.endpoint, spec.endpoint)
        key = variant_key(self.experiment, spec, self._test_digest, simulated)
        shard = f"{self.options.shard[0]}/{self.options.shard[1]}" if self.options.shard else None
        earlier = (None if self.options.fresh
                   else self.store.resumable_run(self.experiment.name, spec.name, key, shard))
        model = self.experiment.model_for(spec)
        run = RunInfo(run_id=earlier[0] if earlier else uuid.uuid4().hex, experiment=self.experiment.name,
                      variant=spec.name, model=model, base_model=model,
                      trainer=spec.trainer.name, prompt_builder=spec.prompt.name,
                      simulated=simulated,
                      endpoint=endpoint_label(self.endpoint, spec.endpoint, local),
                      started_at=earlier[2] if earlier else datetime.now(UTC).replace(tzinfo=None), config_key=key,
                      shard=shard)
        total = remaining = len(test)
        todo: Iterable[Example] = test
        if earlier:
            done = self.store.stored_examples(run.run_id)
            todo = (example for example in test if example.id not in done)
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
        else:
            self.store.start_run(run)
        self.hooks.ftplug_run_started(run=run)
        progress = None if self.options.quiet else Progress(spec.name, remaining, log=self.log,
                                                            interval=self.options.progress_interval)

        def stored(record: PredictionRecord) -> None:
            if progress is not None:
                progress.add(record.error is not None, None if record.from_cache else record.cost_usd)
            self.hooks.ftplug_prediction_stored(run=run, prediction=record)

        sink = PredictionSink(self.store, run, self.options.batch_size, stored, background=True)
        summary = RunSummary(run_id=run.run_id, variant=spec.name, status="failed",
                             details=dict(self.scoring_details))
        if spec.draw is not None:
            summary.details["draw"] = spec.draw.details(self.experiment.seed)
        try:
            trained = self._train(variant, splits, run)
            if progress is not None:
                progress.restart()
            if trained.model != run.model:
                self.store.set_model(run.run_id, trained.model)
            summary.details.update(trained.details)
            if trains(variant.trainer):  # what the trainer learnt from: the x of a learning curve
                summary.details["train_rows"] = len(training_rows(splits, spec.train_size))
            if trained.predict is not None or trained.predict_many is not None:
                if trained.warm_up is not None and remaining:
                    trained.warm_up()
                    if progress is not None:
                        progress.restart()
                predict_locally(trained, todo, lambda example, answer, **measured: sink.add(
                    self._record(run, example, answer, **measured)))
                if trained.report is not None:
                    summary.details["local"] = dict(trained.report())
            else:
                answering = self._endpoint_for(trained, spec)
                self._label_foreign_endpoint(run, trained.model, answering)
                if self.options.batch:
                    summary.details["batch"] = self._predict_in_batches(trained.model, variant, test, todo, run,
                                                                        sink, answering)
                else:
                    summary.details["requests"] = asyncio.run(self._predict_remotely(
                        trained.model, variant, todo, run, sink, answering))
            summary.status = "succeeded"
            if hasattr(variant.prompt, "report"):
                summary.details["prompt"] = variant.prompt.report()
                self.log(f"{spec.name}: {variant.prompt.describe()}")
        except BudgetReached as stop:
            summary.status, summary.error = "stopped", str(stop)
            self.log(f"{spec.name}: stopped: {stop}; raise --max-cost and run again to resume")
        except FtplugError as error:
            summary.error = str(error)
            self.log(f"{spec.name}: failed: {error}")
            if isinstance(error, ComponentError):
                self.broken_plugins.setdefault(error.plugin, str(error))
                self.log(f"ftplug: warning: plugin {error.plugin!r} is disabled for the rest of this run")
        except (KeyboardInterrupt, asyncio.CancelledError):
            summary.status, summary.error = "interrupted", "interrupted by the user"
            raise
        finally:
            sink.close()
            if progress is not None:
                progress.finish()
            self.spent += sink.spent
            summary.predictions, summary.errors = self.store.run_counts(run.run_id)
            self.store.finish_run(run.run_id, summary.status, datetime.now(UTC).replace(tzinfo=None),
                                  summary.error, summary.details)
            self.hooks.ftplug_run_finished(run=run, summary=summary)
        label = " [simulated]" if run.simulated else ""
        self.log(f"{spec.name}: {summary.predictions}/{total} predictions, {summary.errors} errors"
                 f"{describe_request_stats(summary.details.get('requests'))} in {duration(time.monotonic() - clock)}"
                 f"{label}")
        return summary

    def _label_foreign_endpoint(self, run: RunInfo, model: str, endpoint: Endpoint) -> None:
        """A run answered under a name the server only borrows (:func:`ftplug.engine.endpoint.borrowed_name`) is
        named for where it was answered, and left unpriced."""
        name = borrowed_name(endpoint, model)
        if name is None:
            return
        self._unpriced.add(run.run_id)
        self.store.set_model(run.run_id, name)
        self.log(f"{run.variant}: {endpoint.base_url} is not OpenAI's API: its answers are not priced as {model} "
                 "(give the model's prices in a catalogue file, [model] catalogue, to price them)")

    def _train(self, variant: PreparedVariant, splits: Splits, run: RunInfo) -> TrainedModel:
        assert self.endpoint is not None, "_train is called by run_variant"

        def log(line: str) -> None:
            self.log(f"{variant.spec.name}: {line}")

        context = TrainingContext(
            experiment=self.experiment.name, variant=variant.spec.name,
            base_model=self.experiment.model_for(variant.spec),
            train=training_rows(splits, variant.spec.train_size), validation=splits.validation, prompt=variant.prompt,
            client=LazyClient(lambda: self._endpoint_for(NO_MODEL, variant.spec).client(
                max_retries=self.options.max_retries)),
            simulated=self.endpoint.embedded,  # a standalone simulator trains at its address, as an API does
            seed=self.experiment.seed, log=log, endpoint_url=self.endpoint.base_url, ledger=self.store,
            approve_cost=lambda cost, what: self._approve_cost(cost, what, log),
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

    def _approve_cost(self, cost: float | None, what: str, log: Callable[[str], None]) -> None:
        """The cost gate (see :class:`RunOptions`)."""
        assert self.endpoint is not None
        shown = f"${cost:,.2f}" if cost is not None else "unknown (no training price in the catalogue)"
        if self.endpoint.simulated:
            log(f"{what}; estimated cost {shown} if it were real — simulated, nothing is charged")
            return
        log(f"{what}; estimated training cost {shown}")
        limit = self.options.max_training_cost
        if limit is not None and (cost is None or cost > limit):
            raise FtplugError(f"estimated training cost {shown} is over --max-training-cost ${limit:,.2f}; "
                              "nothing was started")
        if self.options.yes or (cost is not None and cost <= self.options.confirm_above_usd):
            return
        if self.options.confirm is None:
            raise FtplugError(f"estimated training cost {shown} needs confirmation (over "
                              f"${self.options.confirm_above_usd:,.2f}): re-run with --yes to accept it")
        if not self.options.confirm(f"Start fine-tuning at an estimated {shown}?"):
            raise FtplugError("fine-tuning declined; nothing was started")

    def _record(self, run: RunInfo, example: Example, output: str, samples: list[str] | None = None,
                **measurements: Any) -> PredictionRecord:
        scored = score_prediction(self.scorers, output, samples, example)
        return PredictionRecord(run_id=run.run_id, example_id=example.id, output=output, scores=scored.values,
                                labels=scored.labels, score_errors=scored.errors,
                                samples=samples if samples and len(samples) > 1 else None,
                                sample_values=scored.sample_values or None, **measurements)

    def _endpoint_for(self, trained: TrainedModel, spec: VariantSpec | None = None) -> Endpoint:
        """Where the variant's model answers (see :func:`ftplug.engine.endpoint.answering_endpoint`)."""
        assert self.endpoint is not None
        return answering_endpoint(self.endpoint, trained.base_url, trained.api_key_env,
                                  spec.endpoint if spec is not None else None)

    async def _predict_remotely(self, model: str, variant: PreparedVariant, test: Iterable[Example],
                                run: RunInfo, sink: PredictionSink, endpoint: Endpoint) -> dict[str, Any]:
        client = endpoint.async_client(max_retries=0)  # retries are the requester's, within the limits
        requester = ChatRequester(client, self._limiter(endpoint), self.options.retry,
                                  count_tokens=lambda messages: self._token_counter().messages(messages))
        parameters = self._parameters(variant)
        where = cache_endpoint(endpoint)
        prompts = self._with_cache(prompts_for(variant.prompt, test), where, model, parameters)

        stopped: list[FtplugError] = []

        async def worker() -> None:
            for example, messages, key, hit in prompts:  # one shared iterator: each example goes to one worker
                if hit is None and not stopped and self._over_budget(sink.spent):
                    stopped.append(BudgetReached(f"spent ${self.spent + sink.spent:,.4f}, the --max-cost is "
                                                 f"${self.options.max_cost:,.4f}"))
                if hit is None and stopped:
                    return  # stop asking; requests in flight in other workers finish and are stored
                if hit is not None:
                    sink.add(self._from_cache(run, example, model, key, hit))
                    continue
                try:
                    answer = await requester.complete(model, messages, parameters)
                except QuotaExhausted as error:
                    stopped.append(FtplugError(f"the API refuses for quota: {error}; nothing more was asked"))
                    return
                sink.add(self._answer_record(answer, run, example, model, key))

        try:
            await asyncio.gather(*(worker() for _ in range(self.options.concurrency)))
            if stopped:
                raise stopped[0]
        finally:
            await client.close()
        return requester.stats.as_dict(requester.limiter, self.options.concurrency)

    def _predict_in_batches(self, model: str, variant: PreparedVariant, test: Sequence[Example],
                            todo: Iterable[Example], run: RunInfo, sink: PredictionSink,
                            endpoint: Endpoint) -> dict[str, Any]:
        from ftplug.engine.batch_mode import BatchCallbacks, BatchRunner, BudgetStop

        parameters = self._parameters(variant)
        where = cache_endpoint(endpoint)
        callbacks = BatchCallbacks(
            requests=lambda examples: self._with_cache(prompts_for(variant.prompt, examples), where, model, parameters),
            answered=lambda example, completion, key: self._answer_record(
                Answer(completion, None, None, 1), run, example, model, key, batch=True),
            failed=lambda example, message: PredictionRecord(run_id=run.run_id, example_id=example.id, output=None,
                                                             error=message),
            from_cache=lambda example, key, hit: self._from_cache(run, example, model, key, hit),
            store=sink.add, commit=sink.commit,
            over_budget=lambda: (f"spent ${self.spent + sink.spent:,.4f}, the --max-cost is "
                                 f"${self.options.max_cost:,.4f}") if self._over_budget(sink.spent) else None,
            one_at_a_time=self.options.max_cost is not None)
        client = endpoint.client(max_retries=self.options.max_retries)
        try:
            batches = BatchRunner(client, self.store, callbacks, where=where, simulated=endpoint.simulated,
                                  log=lambda line: self.log(f"{variant.spec.name}: {line}"),
                                  poll_seconds=self.options.batch_poll_seconds or (0.2 if endpoint.simulated else 30))
            return batches.run(run, model, parameters, test, todo).as_dict()
        except BudgetStop as stop:
            raise BudgetReached(str(stop)) from stop
        except Exception as error:
            if is_openai_error(error):
                raise FtplugError(f"batch mode: {describe_error(error)}") from error
            raise
        finally:
            client.close()

    def _limiter(self, endpoint: Endpoint) -> RequestLimiter:
        """The one limiter of ``endpoint``, shared by every variant asking it."""
        where = endpoint.base_url or OPENAI_URL
        if where not in self.limiters:
            self.limiters[where] = RequestLimiter(self.options.rpm, self.options.tpm)
        return self.limiters[where]

    def _token_counter(self) -> TokenCounter:
        if self.token_counter is None:
            self.token_counter = TokenCounter(self.experiment.base_model)
        return self.token_counter

    def _parameters(self, variant: PreparedVariant) -> dict[str, Any]:
        """The request's sampling parameters (part of its cache key)."""
        parameters: dict[str, Any] = {"temperature": self.experiment.temperature, "seed": self.experiment.seed}
        limit = getattr(variant.prompt, "max_output_tokens", None)
        if limit:
            parameters["max_completion_tokens"] = limit
        if self.experiment.samples > 1:
            parameters["n"] = self.experiment.samples
        return parameters

    def _with_cache(self, prompts: Iterator[tuple[Example, list[dict[str, Any]]]], where: str, model: str,
                    parameters: dict[str, Any]) -> Iterator[tuple[Example, list[dict[str, Any]], str, Any]]:
        """Each prompt with its cache key and its cached response, looked up a chunk at a time."""
        while chunk := list(itertools.islice(prompts, PROMPT_CHUNK)):
            keys = [request_key(where, model, messages, parameters) for _, messages in chunk]
            found = self.store.cached_responses(keys) if self.options.use_cache else {}
            for (example, messages), key in zip(chunk, keys, strict=True):
                yield example, messages, key, found.get(key)

    def _from_cache(self, run: RunInfo, example: Example, model: str, key: str, entry: str) -> PredictionRecord:
        response = CachedResponse.from_json(entry)
        samples = list(response.samples)
        cost = (request_cost(model, response.prompt_tokens, response.completion_tokens, response.cached_tokens)
                if response.prompt_tokens is not None and response.completion_tokens is not None
                and run.run_id not in self._unpriced else None)
        return self._record(run, example, samples[0] if samples else "", samples, prompt_tokens=response.prompt_tokens,
                            completion_tokens=response.completion_tokens, cached_tokens=response.cached_tokens,
                            latency_ms=response.latency_ms, cost_usd=cost, from_cache=True, cache_key=key,
                            server_latency_ms=response.server_latency_ms)

    def _answer_record(self, answer: Answer, run: RunInfo, example: Example, model: str, key: str,
                       batch: bool = False) -> PredictionRecord:
        """The prediction an answer makes: scored when there is a response, the last error otherwise."""
        if answer.response is None:
            assert answer.error is not None
            return PredictionRecord(run_id=run.run_id, example_id=example.id, output=None,
                                    latency_ms=answer.latency_ms, error=describe_error(answer.error),
                                    server_latency_ms=answer.server_ms, in_flight=answer.in_flight)
        response = answer.response
        samples = [choice.message.content or "" for choice in response.choices]
        output = samples[0] if samples else ""
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage else None
        completion_tokens = usage.completion_tokens if usage else None
        details = usage.prompt_tokens_details if usage else None
        cached = (details.cached_tokens or 0) if details else 0
        cost = None
        if usage and run.run_id not in self._unpriced:
            cost = request_cost(model, usage.prompt_tokens, usage.completion_tokens, cached, batch=batch)
        entry = CachedResponse(tuple(samples), prompt_tokens, completion_tokens, cached, answer.latency_ms,
                               answer.server_ms).to_json()
        return self._record(run, example, output, samples, prompt_tokens=prompt_tokens,
                            completion_tokens=completion_tokens, cached_tokens=cached, latency_ms=answer.latency_ms,
                            cost_usd=cost, cache_key=key, cache_entry=entry, server_latency_ms=answer.server_ms,
                            in_flight=answer.in_flight)


class BudgetReached(FtplugError):
    """The run has spent its ``--max-cost``."""


NO_MODEL = TrainedModel(model="")  # before training: where the trainer's client should point

