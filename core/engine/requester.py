"""Sends one chat request through the official SDK within the endpoint's limits, retrying what may pass."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ftplug.config.secrets import redact
from ftplug.engine.rate_limits import RequestLimiter
from ftplug.engine.retry_policy import RetryPolicy, is_quota_error, is_rate_limit


@dataclass
class Answer:
    """What came back for one request: the parsed response, or the last error after every attempt.

    :param latency_ms: the successful (or last) attempt's round trip as the client saw it, without waits
        and backoff but with any time the request spent queued at the server; ``None`` for a batch's answer.
    :param server_ms: the time the server says it spent on that attempt (its ``openai-processing-ms``
        header), where it gives one: the answer's own time, whatever the load.
    :param in_flight: this variant's requests in flight when that attempt was sent, itself included.
    """

    response: Any | None
    error: BaseException | None
    latency_ms: float | None
    attempts: int
    server_ms: float | None = None
    in_flight: int | None = None


@dataclass
class RequestStats:
    """Counts over the requests of one variant, for its summary."""

    sent: int = 0
    retries: int = 0
    rate_limited: int = 0
    gave_up: int = 0
    waits: dict[str, float] = field(default_factory=lambda: {"backoff_s": 0.0})

    def as_dict(self, limiter: RequestLimiter, concurrency: int | None = None) -> dict[str, Any]:
        """The counts, the limits in force (``concurrency``: the requests allowed in flight at once) and the
        time spent waiting for them."""
        return {"sent": self.sent, "retries": self.retries, "rate_limited": self.rate_limited,
                "gave_up": self.gave_up, "backoff_s": round(self.waits["backoff_s"], 3),
                "limit_wait_s": round(limiter.waited, 3), "rpm": limiter.rpm, "tpm": limiter.tpm,
                "concurrency": concurrency}


class QuotaExhausted(Exception):
    """The API says the account has no quota or credit left: no further request can succeed."""


class ChatRequester:
    """One endpoint's chat completions: limits (:class:`RequestLimiter`) and retries (:class:`RetryPolicy`).

    :param count_tokens: the request's token count for the TPM limit (called only when one is in force).
    """

    def __init__(self, client: Any, limiter: RequestLimiter, retry: RetryPolicy,
                 count_tokens: Any = None) -> None:
        self.client, self.limiter, self.retry = client, limiter, retry
        self.count_tokens = count_tokens
        self.stats = RequestStats()
        self.in_flight = 0

    def request_tokens(self, messages: Sequence[Mapping[str, Any]], parameters: Mapping[str, Any]) -> int:
        """What the API counts against the TPM limit before answering: the prompt and the most it may write."""
        if not self.limiter.counts_tokens or self.count_tokens is None:
            return 0
        most = parameters.get("max_completion_tokens") or 0
        return int(self.count_tokens(messages)) + most * int(parameters.get("n", 1))

    async def complete(self, model: str, messages: list[dict[str, Any]], parameters: Mapping[str, Any]) -> Answer:
        """Ask for one completion; waits for the limits, retries what :class:`RetryPolicy` allows.

        :raises QuotaExhausted: when the API says the quota is used up (every later request would fail too).
        """
        tokens = self.request_tokens(messages, parameters)
        if self.limiter.too_large(tokens):
            return Answer(None, ValueError(f"the request's {tokens:,} tokens exceed the {self.limiter.tpm:,.0f} "
                                           "tokens-per-minute limit on their own; shorten the prompt"), 0.0, 0)
        attempt = 0
        while True:
            attempt += 1
            reservation = await self.limiter.acquire(tokens)
            self.stats.sent += 1
            self.in_flight += 1
            in_flight = self.in_flight
            started = time.perf_counter()
            try:
                try:
                    raw = await self.client.chat.completions.with_raw_response.create(
                        model=model, messages=messages, **parameters)
                finally:  # the attempt is over, however it ended
                    latency = (time.perf_counter() - started) * 1000
                    self.in_flight -= 1
            except Exception as error:
                if not is_openai_error(error):
                    raise
                response = getattr(error, "response", None)
                server_ms = None
                if response is not None:
                    self.limiter.observe(response.headers)
                    server_ms = processing_ms(response.headers)
                if is_quota_error(error):
                    raise QuotaExhausted(describe_error(error)) from error
                delay = self.retry.delay(attempt, error)
                if delay is None:
                    self.stats.gave_up += 1
                    return Answer(None, error, latency, attempt, server_ms, in_flight)
                self.stats.retries += 1
                if is_rate_limit(error):
                    self.stats.rate_limited += 1
                    self.limiter.pause(delay)  # everyone waits, not only this request
                else:
                    self.stats.waits["backoff_s"] += delay
                    await asyncio.sleep(delay)
                continue
            self.limiter.observe(raw.headers)
            parsed = raw.parse()
            usage = parsed.usage
            self.limiter.settle(reservation, usage.total_tokens if usage else None)
            return Answer(parsed, None, latency, attempt, processing_ms(raw.headers), in_flight)


def processing_ms(headers: Mapping[str, str]) -> float | None:
    """The server's own time for a request, from its ``openai-processing-ms`` header (OpenAI's API and the
    simulator send it; many other servers do not): ``None`` when absent or not a number."""
    value = headers.get("openai-processing-ms")
    if value is None:
        return None
    try:
        milliseconds = float(value)
    except ValueError:
        return None
    return milliseconds if math.isfinite(milliseconds) and milliseconds >= 0 else None


def is_openai_error(error: BaseException) -> bool:
    """Whether ``error`` comes from the SDK (an API answer, a timeout or a failed connection)."""
    import openai

    return isinstance(error, openai.OpenAIError)


def describe_error(error: BaseException) -> str:
    """One line for an SDK error: status, code and message."""
    status = getattr(error, "status_code", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) or str(error)
    prefix = " ".join(str(p) for p in (status, code) if p)
    return redact(f"{prefix}: {message}" if prefix else message)


def describe_request_stats(stats: dict[str, Any] | None) -> str:
    """The retries and waits behind a variant's predictions, when there were any."""
    if not stats or not (stats["retries"] or stats["limit_wait_s"] >= 0.5):
        return ""
    parts = [f"{stats['retries']} retries ({stats['rate_limited']} rate-limited)"] if stats["retries"] else []
    if stats["limit_wait_s"] >= 0.5:
        parts.append(f"{stats['limit_wait_s']:,.1f} s waited for the rate limits")
    return "; " + ", ".join(parts)
