"""Requests-per-minute and tokens-per-minute limits with the API's ``x-ratelimit-*`` headers."""

from __future__ import annotations

import collections
import math
import threading
import time

from ftplug.simulator.http.routing import ApiError

WINDOW = 60.0


def _duration(seconds: float) -> str:
    """The API's reset format: ``12ms``, ``1.5s``, ``1m0s``."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    return f"{int(seconds // 60)}m{int(seconds % 60)}s"


class RateLimiter:
    """A sliding one-minute window over requests and tokens (``None`` = no limit)."""

    def __init__(self, rpm: int | None = None, tpm: int | None = None, clock: object = time.monotonic) -> None:
        self.rpm, self.tpm = rpm, tpm
        self._clock = clock
        self._events: collections.deque[tuple[float, int]] = collections.deque()
        self._tokens = 0
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._events and self._events[0][0] <= now - WINDOW:
            _, tokens = self._events.popleft()
            self._tokens -= tokens

    def acquire(self, model: str, tokens: int) -> dict[str, str]:
        """Admit a request of ``tokens`` tokens, or raise the API's 429; returns the headers to send."""
        if self.rpm is None and self.tpm is None:
            return {}
        with self._lock:
            now = self._clock()  # type: ignore[operator]
            self._expire(now)
            used_requests, used_tokens = len(self._events), self._tokens
            if self.rpm is not None and used_requests + 1 > self.rpm:
                wait = self._events[0][0] + WINDOW - now
                raise self._refuse(model, "requests per min (RPM)", self.rpm, used_requests, 1, wait)
            if self.tpm is not None and used_tokens + tokens > self.tpm:
                wait = self._wait_for_tokens(now, tokens)
                raise self._refuse(model, "tokens per min (TPM)", self.tpm, used_tokens, tokens, wait)
            self._events.append((now, tokens))
            self._tokens += tokens
            return self.headers(now)

    def _wait_for_tokens(self, now: float, tokens: int) -> float:
        if self.tpm is not None and tokens > self.tpm:
            return math.inf
        freed, needed = 0, self._tokens + tokens - (self.tpm or 0)
        for at, amount in self._events:
            freed += amount
            if freed >= needed:
                return at + WINDOW - now
        return WINDOW

    def headers(self, now: float) -> dict[str, str]:
        """``x-ratelimit-*`` headers for the current window."""
        headers = {}
        oldest = self._events[0][0] + WINDOW - now if self._events else 0.0
        if self.rpm is not None:
            headers.update({"x-ratelimit-limit-requests": str(self.rpm),
                            "x-ratelimit-remaining-requests": str(max(0, self.rpm - len(self._events))),
                            "x-ratelimit-reset-requests": _duration(oldest)})
        if self.tpm is not None:
            headers.update({"x-ratelimit-limit-tokens": str(self.tpm),
                            "x-ratelimit-remaining-tokens": str(max(0, self.tpm - self._tokens)),
                            "x-ratelimit-reset-tokens": _duration(oldest)})
        return headers

    def _refuse(self, model: str, what: str, limit: int, used: int, requested: int, wait: float) -> ApiError:
        headers = self.headers(self._clock())  # type: ignore[operator]
        if math.isinf(wait):
            return ApiError(429, f"Request too large for {model} in organization org-ftplug-sim on {what}: "
                                 f"Limit {limit}, Requested {requested}. The input or output tokens must be reduced "
                                 "in order to run successfully.", type="tokens", code="rate_limit_exceeded",
                            headers=headers)
        wait_ms = max(1, math.ceil(wait * 1000))
        headers.update({"retry-after-ms": str(wait_ms), "retry-after": str(max(1, math.ceil(wait)))})
        kind = "requests" if "RPM" in what else "tokens"
        return ApiError(429, f"Rate limit reached for {model} in organization org-ftplug-sim on {what}: Limit "
                             f"{limit}, Used {used}, Requested {requested}. Please try again in {_duration(wait)}.",
                        type=kind, code="rate_limit_exceeded", headers=headers)
