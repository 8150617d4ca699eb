"""When a failed request is tried again, and after how long.

A 429 waits what the server says (``retry-after-ms``, else ``retry-after`` in seconds or as an HTTP date);
5xx, 408, 409, timeouts and connection errors back off exponentially with full jitter. A 429 that says the
account's quota is used up is not retried: no wait makes it pass. Other 4xx are the request's own fault
and are not retried either.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

RETRYABLE_STATUS = {408, 409, 429}
QUOTA_CODES = {"insufficient_quota", "billing_hard_limit_reached"}


@dataclass
class RetryPolicy:
    """``attempts`` in all (the first try included); backoff ``base`` × 2^(attempt−1), at most ``cap``
    seconds, drawn uniformly below that (full jitter); server-directed waits honoured up to ``max_wait``."""

    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    max_wait: float = 120.0
    random: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, error: BaseException) -> float | None:
        """Seconds to wait before attempt ``attempt + 1`` after ``error``; ``None`` to give up."""
        if attempt >= self.attempts or not is_retryable(error):
            return None
        server = retry_after(_headers(error))
        if server is not None:
            return server if server <= self.max_wait else None
        return self.random.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))


def is_retryable(error: BaseException) -> bool:
    """Whether trying ``error``'s request again may succeed."""
    import openai

    if isinstance(error, openai.APIConnectionError):  # timeouts included
        return True
    if not isinstance(error, openai.APIStatusError):
        return False
    if is_quota_error(error):
        return False
    return error.status_code in RETRYABLE_STATUS or error.status_code >= 500


def is_quota_error(error: BaseException) -> bool:
    """Whether ``error`` says the account has no quota or credit left (nothing to wait for)."""
    return getattr(error, "status_code", None) == 429 and getattr(error, "code", None) in QUOTA_CODES


def is_rate_limit(error: BaseException) -> bool:
    """Whether ``error`` is the server refusing for rate (a 429 that waiting can cure)."""
    return getattr(error, "status_code", None) == 429 and not is_quota_error(error)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The server's requested wait in seconds, from ``retry-after-ms`` or ``retry-after``; ``None`` if absent."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    seconds = headers.get("retry-after")
    if seconds is None:
        return None
    try:
        return max(0.0, float(seconds))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(seconds)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _headers(error: BaseException) -> Mapping[str, str]:
    response: Any = getattr(error, "response", None)
    return response.headers if response is not None else {}
