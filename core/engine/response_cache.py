"""The response cache: an answer, once paid for, is never requested again.

A request is addressed by the content that decides its answer — the endpoint (the simulator's answers are
never served to a live run, nor one endpoint's to another), the model, the messages and the sampling
parameters — and its successful response is kept in the result store with the predictions. Errors are not
cached."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ftplug.engine.endpoint import OPENAI_URL

if TYPE_CHECKING:
    from ftplug.engine.endpoint import Endpoint


def request_key(endpoint: str, model: str, messages: Sequence[Mapping[str, Any]],
                parameters: Mapping[str, Any]) -> str:
    """The content address of a chat request."""
    payload = json.dumps({"endpoint": endpoint, "model": model, "messages": list(messages),
                          "parameters": dict(sorted(parameters.items()))}, sort_keys=True, ensure_ascii=False,
                         separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class CachedResponse:
    """What is kept of a response: every sample's text, the usage and how long the request took."""

    samples: tuple[str, ...]
    prompt_tokens: int | None
    completion_tokens: int | None
    cached_tokens: int
    latency_ms: float | None  # None for an answer from a batch
    server_latency_ms: float | None = None  # the server's own time (openai-processing-ms), if it said

    def to_json(self) -> str:
        """Serialised for the store."""
        return json.dumps({"samples": list(self.samples), "prompt_tokens": self.prompt_tokens,
                           "completion_tokens": self.completion_tokens, "cached_tokens": self.cached_tokens,
                           "latency_ms": self.latency_ms, "server_latency_ms": self.server_latency_ms})

    @classmethod
    def from_json(cls, text: str) -> CachedResponse:
        """Read back from the store."""
        data = json.loads(text)
        return cls(samples=tuple(data["samples"]), prompt_tokens=data["prompt_tokens"],
                   completion_tokens=data["completion_tokens"], cached_tokens=data.get("cached_tokens", 0),
                   latency_ms=data["latency_ms"], server_latency_ms=data.get("server_latency_ms"))


def cache_endpoint(endpoint: Endpoint) -> str:
    """The endpoint as response-cache keys name it."""
    return "simulator" if endpoint.simulated else (endpoint.base_url or OPENAI_URL)
