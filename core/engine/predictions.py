"""One variant's requests and the records its answers make: what the remote, batch and local paths share.

:class:`VariantRequests` turns test examples into requests — each with its messages, its response-cache
key and the cached response, if any — and :class:`PredictionFactory` turns whatever answered (a response,
a cached response, a batch's line, a local predictor, an error) into the scored record the sink stores.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ftplug.catalogue.costs import request_cost
from ftplug.components import PROMPT_CHUNK, prompts_for
from ftplug.dataset import Example
from ftplug.engine.requester import Answer, describe_error
from ftplug.engine.response_cache import CachedResponse, request_key
from ftplug.engine.scoring import ActiveScorer, score_prediction
from ftplug.store.records import PredictionRecord


class Request(NamedTuple):
    """One example's chat request: its messages, its cache key and the cached response (``None``: ask)."""

    example: Example
    messages: list[dict[str, Any]]
    key: str
    cached: str | None


@dataclass(frozen=True)
class VariantRequests:
    """The requests of one variant: its prompt builder's messages for ``model`` with ``parameters``, keyed
    for the response cache under ``endpoint`` and looked up there, a chunk at a time, by ``lookup``
    (``None``: the cache is not read)."""

    prompt: Any
    model: str
    parameters: Mapping[str, Any]
    endpoint: str  # the cache's name of the endpoint answering (see response_cache.cache_endpoint)
    lookup: Callable[[list[str]], Mapping[str, str]] | None = None

    def __call__(self, examples: Iterable[Example]) -> Iterator[Request]:
        """A request for each of ``examples``, in order."""
        prompts = prompts_for(self.prompt, examples)
        while chunk := list(itertools.islice(prompts, PROMPT_CHUNK)):
            keys = [request_key(self.endpoint, self.model, messages, self.parameters) for _, messages in chunk]
            found = self.lookup(keys) if self.lookup is not None else {}
            for (example, messages), key in zip(chunk, keys, strict=True):
                yield Request(example, messages, key, found.get(key))


@dataclass(frozen=True)
class PredictionFactory:
    """Makes the records of run ``run_id``: each output scored by ``scorers`` and, when ``priced``, its cost
    at ``model``'s prices (a server that only borrows the model's name is not priced)."""

    run_id: str
    model: str
    scorers: Sequence[ActiveScorer]
    priced: bool = True

    def scored(self, example: Example, output: str, samples: list[str] | None = None,
               **measurements: Any) -> PredictionRecord:
        """The record of ``output`` (with every sample, if the prompt was sampled) and its measurements."""
        scored = score_prediction(self.scorers, output, samples, example)
        return PredictionRecord(run_id=self.run_id, example_id=example.id, output=output, scores=scored.values,
                                labels=scored.labels, score_errors=scored.errors,
                                samples=samples if samples and len(samples) > 1 else None,
                                sample_values=scored.sample_values or None, **measurements)

    def failed(self, example: Example, message: str, **measurements: Any) -> PredictionRecord:
        """The record of a request that got no answer (retried by the next run)."""
        return PredictionRecord(run_id=self.run_id, example_id=example.id, output=None, error=message,
                                **measurements)

    def answered(self, example: Example, answer: Answer, key: str, *, batch: bool = False) -> PredictionRecord:
        """The record an answer makes: scored, priced (at batch rates from a batch) and cacheable when there is
        a response; the last error otherwise."""
        if answer.response is None:
            assert answer.error is not None
            return self.failed(example, describe_error(answer.error), latency_ms=answer.latency_ms,
                               server_latency_ms=answer.server_ms, in_flight=answer.in_flight)
        response = answer.response
        samples = [choice.message.content or "" for choice in response.choices]
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage else None
        completion_tokens = usage.completion_tokens if usage else None
        details = usage.prompt_tokens_details if usage else None
        cached = (details.cached_tokens or 0) if details else 0
        cost = (request_cost(self.model, usage.prompt_tokens, usage.completion_tokens, cached, batch=batch)
                if usage and self.priced else None)
        entry = CachedResponse(tuple(samples), prompt_tokens, completion_tokens, cached, answer.latency_ms,
                               answer.server_ms).to_json()
        return self.scored(example, samples[0] if samples else "", samples, prompt_tokens=prompt_tokens,
                           completion_tokens=completion_tokens, cached_tokens=cached, latency_ms=answer.latency_ms,
                           cost_usd=cost, cache_key=key, cache_entry=entry, server_latency_ms=answer.server_ms,
                           in_flight=answer.in_flight)

    def from_cache(self, example: Example, key: str, entry: str) -> PredictionRecord:
        """The record of a cached response: scored anew, at what it would have cost (it is not paid again)."""
        response = CachedResponse.from_json(entry)
        samples = list(response.samples)
        cost = (request_cost(self.model, response.prompt_tokens, response.completion_tokens, response.cached_tokens)
                if response.prompt_tokens is not None and response.completion_tokens is not None and self.priced
                else None)
        return self.scored(example, samples[0] if samples else "", samples, prompt_tokens=response.prompt_tokens,
                           completion_tokens=response.completion_tokens, cached_tokens=response.cached_tokens,
                           latency_ms=response.latency_ms, cost_usd=cost, from_cache=True, cache_key=key,
                           server_latency_ms=response.server_latency_ms)
