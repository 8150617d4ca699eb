"""Client-side requests-per-minute and tokens-per-minute limits for one endpoint.

Two rules hold at once, for requests and for tokens alike:

- a *hard window*: no 60-second window ever holds more than the limit (a log of what was admitted);
- *pacing*: within the minute, admissions are spread at the limit's rate with a burst of one second's
  worth, because the API enforces its per-minute limits over shorter intervals too (a burst of a whole
  minute's requests in the first second is refused even when the minute's total is allowed).

The limiter also learns from the API: ``x-ratelimit-limit-*`` headers lower a limit that was set higher
(or set one that was not), ``x-ratelimit-remaining-*`` at zero pauses admissions until the matching
``x-ratelimit-reset-*``, and a 429's ``retry-after`` pauses everyone, not only the request that got it.
"""

from __future__ import annotations

import asyncio
import collections
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

WINDOW = 60.0
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float | None:
    """The API's reset durations (``"20ms"``, ``"1.5s"``, ``"6m0s"``) in seconds; ``None`` if unreadable."""
    text = text.strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


class _Budget:
    """One limit (requests or tokens per minute): the hard window and the pacing, in the same units."""

    def __init__(self, per_minute: float) -> None:
        self.per_minute = per_minute
        self.log: collections.deque[list[float]] = collections.deque()  # [admitted at, amount, still in window]
        self.in_window = 0.0
        self.paced_until = -math.inf  # GCRA's theoretical arrival time

    @property
    def burst(self) -> float:
        return max(1.0, self.per_minute / 60)

    def _expire(self, now: float) -> None:
        while self.log and self.log[0][0] <= now - WINDOW:
            entry = self.log.popleft()
            self.in_window -= entry[1]
            entry[2] = 0.0

    def wait(self, now: float, amount: float) -> float:
        """Seconds until ``amount`` may be admitted (0 if now); ``inf`` if it never fits in a minute."""
        if amount > self.per_minute:
            return math.inf
        self._expire(now)
        interval = WINDOW / self.per_minute
        pacing = max(0.0, self.paced_until - (self.burst - min(amount, self.burst)) * interval - now)
        window = 0.0
        if self.in_window + amount > self.per_minute:
            freed, needed = 0.0, self.in_window + amount - self.per_minute
            for admitted_at, logged, _ in self.log:
                freed += logged
                if freed >= needed:
                    window = admitted_at + WINDOW - now
                    break
        return max(pacing, window)

    def admit(self, now: float, amount: float) -> list[float]:
        entry = [now, amount, 1.0]
        self.log.append(entry)
        self.in_window += amount
        self.paced_until = max(self.paced_until, now) + amount * WINDOW / self.per_minute
        return entry

    def settle(self, entry: list[float], actual: float) -> None:
        """Replace a reservation by what was really used (the window and the pacing both follow)."""
        change = actual - entry[1]
        if entry[2]:
            self.in_window += change
        entry[1] = actual
        self.paced_until += change * WINDOW / self.per_minute


@dataclass
class Reservation:
    """What :meth:`RequestLimiter.acquire` admitted, to be settled once the real usage is known."""

    tokens: int
    _entry: list[float] | None = None


class RequestLimiter:
    """RPM and TPM limits shared by every request to one endpoint (``None`` = no limit set).

    :param clock: seconds, monotonic; ``sleep`` is awaited to wait (both replaceable in tests).
    """

    def __init__(self, rpm: float | None = None, tpm: float | None = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.requests = _Budget(rpm) if rpm else None
        self.tokens = _Budget(tpm) if tpm else None
        self.paused_until = -math.inf
        self.waited = 0.0  # seconds spent waiting for the limits, summed over requests
        self._clock, self._sleep = clock, sleep
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    @property
    def counts_tokens(self) -> bool:
        """Whether requests need their token counts (a token limit is set or was learned)."""
        return self.tokens is not None

    @property
    def rpm(self) -> float | None:
        """The requests-per-minute limit in force."""
        return self.requests.per_minute if self.requests else None

    @property
    def tpm(self) -> float | None:
        """The tokens-per-minute limit in force."""
        return self.tokens.per_minute if self.tokens else None

    def too_large(self, tokens: int) -> bool:
        """Whether a request of ``tokens`` can never be admitted (more than a whole minute's tokens)."""
        return self.tokens is not None and tokens > self.tokens.per_minute

    async def acquire(self, tokens: int = 0) -> Reservation:
        """Wait until one request of ``tokens`` tokens fits every limit, then admit it.

        Admissions are in arrival order: the lock is held while waiting, so a large request is not
        starved by a stream of small ones.
        """
        async with self._loop_lock():
            while True:
                now = self._clock()
                wait = max(self.paused_until - now,
                           self.requests.wait(now, 1) if self.requests else 0.0,
                           self.tokens.wait(now, tokens) if self.tokens else 0.0)
                if wait <= 0:
                    break
                if math.isinf(wait):
                    raise ValueError(f"a request of {tokens} tokens exceeds the {self.tpm:,.0f} tokens-per-minute "
                                     "limit on its own")
                self.waited += wait
                await self._sleep(wait)
            if self.requests:
                self.requests.admit(now, 1)
            entry = self.tokens.admit(now, tokens) if self.tokens else None
            return Reservation(tokens, entry)

    def _loop_lock(self) -> asyncio.Lock:
        # one limiter serves every variant, and each variant runs in an event loop of its own
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    def settle(self, reservation: Reservation, used_tokens: int | None) -> None:
        """Account for the tokens a request really used (prompt + completion), once known."""
        if used_tokens is not None and self.tokens is not None and reservation._entry is not None:
            self.tokens.settle(reservation._entry, used_tokens)

    def pause(self, seconds: float) -> None:
        """Admit nothing for ``seconds`` (the server asked everyone to wait)."""
        self.paused_until = max(self.paused_until, self._clock() + seconds)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Adapt to a response's ``x-ratelimit-*`` headers (see the module's description)."""
        for kind in ("requests", "tokens"):
            limit = _number(headers.get(f"x-ratelimit-limit-{kind}"))
            if limit is not None and limit > 0:
                budget = getattr(self, kind)
                if budget is None:
                    setattr(self, kind, _Budget(limit))
                elif limit < budget.per_minute:
                    budget.per_minute = limit
            remaining = _number(headers.get(f"x-ratelimit-remaining-{kind}"))
            reset = parse_duration(headers.get(f"x-ratelimit-reset-{kind}", ""))
            if remaining is not None and remaining <= 0 and reset:
                self.pause(reset)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None
