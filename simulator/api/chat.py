"""``/v1/chat/completions``: validated requests, simulated answers, usage counted as the API counts it."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any

import tiktoken

from ftplug.catalogue.models import default_catalogue
from ftplug.catalogue.text_limits import MAX_TEXT_CHARS, TextTooLong
from ftplug.catalogue.tokens import (
    count_message_tokens,
    count_text_tokens,
    encoding_name_for_model,
    get_encoding,
)
from ftplug.simulator.api.models import model_not_found
from ftplug.simulator.behaviour.logprobs import token_logprobs
from ftplug.simulator.behaviour.matching import AnswerIndex, index_for
from ftplug.simulator.behaviour.rules import Answer, answer
from ftplug.simulator.behaviour.structured import check_response_format, shape
from ftplug.simulator.http.routing import Request, Response, Router, bad_request
from ftplug.simulator.state.jobs import fine_tuned_job
from ftplug.simulator.state.store import State

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
FINGERPRINT = "fp_ftplug_sim"


def _number(body: dict[str, Any], key: str, default: float, low: float, high: float, integer: bool = False) -> Any:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        raise bad_request(f"Invalid type for '{key}': expected {'an integer' if integer else 'a number'}.", param=key)
    if not low <= value <= high:
        raise bad_request(f"Invalid '{key}': must be between {low} and {high}, got {value}.", param=key)
    return value


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("Invalid 'messages': expected a non-empty array.", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise bad_request(f"Invalid 'messages[{index}].role': must be one of {', '.join(ROLES)}.",
                              param=f"messages[{index}].role")
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise bad_request(f"Invalid type for 'messages[{index}].content': expected a string or an array.",
                              param=f"messages[{index}].content")
    return messages


def _stop(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or len(stops) > 4 or not all(isinstance(s, str) for s in stops):
        raise bad_request("Invalid 'stop': expected a string or an array of up to 4 strings.", param="stop")
    return stops


@dataclass(frozen=True)
class _Sampling:
    """How a request asks each choice to be made, validated."""

    temperature: float
    choices_wanted: int
    seed: int
    limit: int | None
    stops: list[str]
    response_format: dict[str, Any] | None
    want_logprobs: bool
    top_logprobs: int


def _sampling(body: dict[str, Any], max_output_tokens: int) -> _Sampling:
    if body.get("stream"):
        raise bad_request("Streaming is not simulated yet; send stream=false.", param="stream")
    temperature = _number(body, "temperature", 1.0, 0, 2)
    choices_wanted = _number(body, "n", 1, 1, 128, integer=True)
    seed = _number(body, "seed", 0, -(2**63), 2**63 - 1, integer=True)
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is not None:
        limit = _number({"max_tokens": limit}, "max_tokens", 0, 1, max_output_tokens, integer=True)
    stops = _stop(body)
    response_format = check_response_format(body.get("response_format"))
    want_logprobs = bool(body.get("logprobs"))
    top_logprobs = _number(body, "top_logprobs", 0, 0, 20, integer=True)
    if top_logprobs and not want_logprobs:
        raise bad_request("'top_logprobs' requires 'logprobs' to be true.", param="top_logprobs")
    return _Sampling(temperature=temperature, choices_wanted=choices_wanted, seed=seed, limit=limit, stops=stops,
                     response_format=response_format, want_logprobs=want_logprobs, top_logprobs=top_logprobs)


def _check_context_length(prompt_tokens: int, limit: int | None, context_window: int) -> None:
    requested = prompt_tokens + (limit or 0)
    if requested <= context_window:
        return
    if limit:
        message = (f"This model's maximum context length is {context_window} tokens. However, you "
                   f"requested {requested} tokens ({prompt_tokens} in the messages, {limit} in the "
                   "completion). Please reduce the length of the messages or completion.")
    else:
        message = (f"This model's maximum context length is {context_window} tokens. However, your "
                   f"messages resulted in {prompt_tokens} tokens. Please reduce the length of the messages.")
    raise bad_request(message, param="messages", code="context_length_exceeded")


def _choice(index: int, chosen: Answer, sampling: _Sampling, encoding: tiktoken.Encoding,
            model: str) -> tuple[dict[str, Any], int]:
    """One choice made from ``chosen``, shaped, stopped and cut to the limit; and its completion tokens."""
    text, finish = shape(chosen.text, sampling.response_format), "stop"
    for stop in sampling.stops:
        if stop and stop in text:
            text = text[: text.index(stop)]
    tokens = encoding.encode(text, disallowed_special=())
    if sampling.limit is not None and len(tokens) > sampling.limit:
        text, finish = encoding.decode(tokens[: sampling.limit]), "length"
    logprobs = (token_logprobs(encoding, text, chosen.confidence, list(chosen.alternatives), sampling.top_logprobs)
                if sampling.want_logprobs else None)
    choice = {"index": index, "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []},
              "logprobs": logprobs, "finish_reason": finish}
    return choice, count_text_tokens(text, model)


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0}}


class _ChatCompletions:
    """The chat completions handler, answering from the simulator's state."""

    def __init__(self, state: State) -> None:
        self.state = state

    def trained_index(self, model: str) -> AnswerIndex | None:
        """The index a fine-tuned ``model`` answers from (``None`` for a base model); a 404 if it does not exist."""
        if not model.startswith("ft:"):
            return None
        job = fine_tuned_job(self.state, model)
        if job is None:
            raise model_not_found(model)
        return index_for(tuple((e.prompt, e.answer) for e in job.examples))

    def create(self, request: Request) -> Response:
        """``POST /v1/chat/completions``."""
        body = request.json()
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise bad_request("Missing required parameter: 'model'.", param="model")
        messages = _messages(body)
        info = default_catalogue().find(model)
        if info is None:
            raise model_not_found(model)
        trained = self.trained_index(model)
        sampling = _sampling(body, info.max_output_tokens)
        try:
            prompt_tokens = count_message_tokens(messages, model)
        except TextTooLong:  # longer than any context window: not worth tokenising to say so
            raise bad_request(f"This model's maximum context length is {info.context_window} tokens. However, "
                              f"a message is longer than {MAX_TEXT_CHARS:,} characters. Please reduce the length "
                              "of the messages.", param="messages", code="context_length_exceeded") from None
        _check_context_length(prompt_tokens, sampling.limit, info.context_window)
        limit_headers = self.state.limiter.acquire(info.id, prompt_tokens + (sampling.limit or 0))
        choices, completion_tokens = self.choices(model, messages, sampling, trained)
        with self.state.lock:
            completion_id = self.state.ids.make("chatcmpl-", 29)
        return Response(json_body={
            "id": completion_id, "object": "chat.completion", "created": self.state.now(),
            "model": model if model.startswith("ft:") else info.id, "choices": choices,
            "usage": _usage(prompt_tokens, completion_tokens),
            "service_tier": "default", "system_fingerprint": FINGERPRINT,
        }, headers=limit_headers, generated_tokens=completion_tokens // sampling.choices_wanted)

    def choices(self, model: str, messages: list[dict[str, Any]], sampling: _Sampling,
                trained: AnswerIndex | None) -> tuple[list[dict[str, Any]], int]:
        """The requested choices, each from its own seeded generator, and their completion tokens together."""
        digest = hashlib.sha256(json.dumps([model, messages], sort_keys=True).encode()).hexdigest()
        encoding = get_encoding(encoding_name_for_model(model))
        choices: list[dict[str, Any]] = []
        completion_tokens = 0
        for index in range(sampling.choices_wanted):
            rng = random.Random(f"{self.state.seed}:{sampling.seed}:{digest}:{index}")
            chosen = answer(messages, sampling.temperature, rng, trained)
            choice, tokens = _choice(index, chosen, sampling, encoding, model)
            choices.append(choice)
            completion_tokens += tokens
        return choices, completion_tokens


def add_routes(router: Router, state: State) -> None:
    """Register the chat completions endpoint."""
    completions = _ChatCompletions(state)
    router.add("POST", "/v1/chat/completions", completions.create)
