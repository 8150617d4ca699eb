"""What a request costs, from its token usage and the catalogue's prices."""

from __future__ import annotations

import functools
from typing import Any

from ftplug.catalogue.models import default_catalogue

PER_TOKEN = 1e-6  # catalogue prices are USD per 1M tokens
BATCH_PRICE_FACTOR = 0.5  # the Batch API bills half the synchronous rates, input and output alike


def request_cost(model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0,
                 batch: bool = False) -> float | None:
    """USD for one chat request, ``None`` when the catalogue has no price for ``model``; ``batch`` for a
    request answered through the Batch API (at ``BATCH_PRICE_FACTOR`` of the price).

    Fine-tuned models (``ft:…``) are priced at their base model's fine-tuned rates; cached input
    tokens at the cached rate when there is one.
    """
    prices = _prices(default_catalogue(), model)
    if prices is None:
        return None
    input_price, cached_price, output_price = prices
    cached = min(cached_tokens, prompt_tokens)
    cached_rate = cached_price if cached_price is not None else input_price
    total = (prompt_tokens - cached) * input_price + cached * cached_rate + completion_tokens * output_price
    return total * PER_TOKEN * (BATCH_PRICE_FACTOR if batch else 1.0)


@functools.lru_cache(maxsize=256)
def _prices(catalogue: Any, model: str) -> tuple[float, float | None, float] | None:
    """Input, cached-input and output prices of ``model`` in ``catalogue`` (looked up once per model: this
    runs for every prediction)."""
    info = catalogue.find(model)
    if info is None:
        return None
    tuned = model.startswith("ft:")
    input_price = info.ft_input_price if tuned else info.input_price
    cached_price = info.ft_cached_input_price if tuned else info.cached_input_price
    output_price = info.ft_output_price if tuned else info.output_price
    if input_price is None or output_price is None:
        return None
    return input_price, cached_price, output_price


def usd(value: float | None, missing: str = "-") -> str:
    """A price in dollars as the reports print it: four decimals below $1 (a prediction costs fractions of a
    cent), two from $1; ``missing`` for an unknown one."""
    if value is None:
        return missing
    return f"${value:,.4f}" if abs(value) < 1 else f"${value:,.2f}"
