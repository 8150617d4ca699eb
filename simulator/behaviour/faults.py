"""Fault injection: errors, slow answers and dropped connections, per route, by probability or schedule.

A rule is written ``KIND[@ROUTE][:key=value…]``, for example ``429@/v1/chat/completions:p=0.2``,
``500:first=2``, ``503:every=5``, ``slow:p=0.1:delay_ms=1500``, ``drop:every=10``. KIND is 429, 500,
503, ``quota`` (the 429 of an account out of credit, ``insufficient_quota``), ``slow`` or ``drop``;
ROUTE is a path prefix (default: every route). ``p`` is a probability
(seeded), ``every=N`` hits every Nth matching request, ``first=N`` the first N; with none of them the
rule hits every matching request. For 429, ``retry_after_ms`` (default 200) is sent as ``retry-after-ms``.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from ftplug.simulator.http.routing import ApiError

KINDS = ("429", "500", "503", "quota", "slow", "drop")


class DropConnection(Exception):
    """Close the connection without answering."""


@dataclass(frozen=True)
class FaultRule:
    """One kind of fault on the routes starting with ``route``."""

    kind: str
    route: str = "/"
    probability: float | None = None
    every: int = 0
    first: int = 0
    retry_after_ms: int = 200
    delay_ms: int = 1000

    @classmethod
    def parse(cls, spec: str) -> FaultRule:
        """A rule from its written form (see the module docstring); ``ValueError`` naming what is wrong."""
        head, *pairs = spec.split(":")
        kind, _, route = head.partition("@")
        if kind not in KINDS:
            raise ValueError(f"fault {spec!r}: kind must be one of {', '.join(KINDS)}")
        fields: dict[str, object] = {"kind": kind, "route": route or "/"}
        names = {"p": "probability", "every": "every", "first": "first", "retry_after_ms": "retry_after_ms",
                 "delay_ms": "delay_ms"}
        for pair in pairs:
            key, _, value = pair.partition("=")
            if key not in names or not value:
                raise ValueError(f"fault {spec!r}: unknown setting {pair!r} (known: {', '.join(names)})")
            try:
                fields[names[key]] = float(value) if key == "p" else int(value)
            except ValueError:
                raise ValueError(f"fault {spec!r}: {key} must be a number") from None
        probability = fields.get("probability")
        if isinstance(probability, float) and not 0 <= probability <= 1:
            raise ValueError(f"fault {spec!r}: p must be between 0 and 1")
        return cls(**fields)  # type: ignore[arg-type]


class FaultInjector:
    """Decides, per request and reproducibly for a seed, whether a fault hits it."""

    def __init__(self, rules: tuple[FaultRule, ...], seed: int) -> None:
        self.rules = rules
        self._random = random.Random(f"faults:{seed}")
        self._counts = [0] * len(rules)
        self._lock = threading.Lock()

    def _hits(self, index: int, rule: FaultRule) -> bool:
        self._counts[index] += 1
        count = self._counts[index]
        if rule.first:
            return count <= rule.first
        if rule.every:
            return count % rule.every == 0
        if rule.probability is not None:
            return self._random.random() < rule.probability
        return True

    def check(self, path: str) -> float:
        """Raise the fault that hits this request, if any; return seconds of extra delay for ``slow``."""
        delay = 0.0
        with self._lock:
            hit = [rule for index, rule in enumerate(self.rules)
                   if path.startswith(rule.route) and self._hits(index, rule)]
        for rule in hit:
            if rule.kind == "slow":
                delay += rule.delay_ms / 1000
            elif rule.kind == "drop":
                raise DropConnection()
            else:
                raise fault_error(rule)
        return delay


def fault_error(rule: FaultRule) -> ApiError:
    """The API's error for a 429, 500, 503 or quota fault."""
    if rule.kind == "quota":
        return ApiError(429, "You exceeded your current quota, please check your plan and billing details.",
                        type="insufficient_quota", code="insufficient_quota")
    if rule.kind == "429":
        return ApiError(429, f"Rate limit reached for requests. Please try again in {rule.retry_after_ms}ms.",
                        type="requests", code="rate_limit_exceeded",
                        headers={"retry-after-ms": str(rule.retry_after_ms),
                                 "retry-after": str(max(1, round(rule.retry_after_ms / 1000)))})
    if rule.kind == "503":
        return ApiError(503, "Our servers are currently overloaded. Please try again later.",
                        type="service_unavailable_error", code="server_is_overloaded")
    return ApiError(500, "The server had an error while processing your request. Sorry about that!",
                    type="server_error")
