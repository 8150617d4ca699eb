"""What a fine-tuning job will bill: tokens per example, the epochs ``auto`` picks, the estimated cost.

The rules are those of OpenAI's data-preparation cookbook: an example's tokens are counted like a prompt
(3 per message, the values, 3 priming); examples longer than the model's training limit are truncated
to it; ``auto`` targets 3 epochs, more for tiny files (at least 100 example-passes, at most 25 epochs)
and fewer for huge ones (at most 25,000 example-passes); billed tokens = Σ min(limit, tokens) × epochs.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ftplug.catalogue.costs import PER_TOKEN

TARGET_EPOCHS = 3
MIN_EXAMPLE_PASSES = 100
MAX_EXAMPLE_PASSES = 25_000
MAX_AUTO_EPOCHS = 25


def auto_epochs(n_examples: int) -> int:
    """The epochs ``n_epochs = "auto"`` chooses for a file of ``n_examples`` examples."""
    if n_examples <= 0:
        return TARGET_EPOCHS
    if n_examples * TARGET_EPOCHS < MIN_EXAMPLE_PASSES:
        return min(MAX_AUTO_EPOCHS, MIN_EXAMPLE_PASSES // n_examples)
    if n_examples * TARGET_EPOCHS > MAX_EXAMPLE_PASSES:
        return max(1, MAX_EXAMPLE_PASSES // n_examples)
    return TARGET_EPOCHS


@dataclass(frozen=True)
class TrainingEstimate:
    """Token statistics and the estimated bill of one training file.

    :param tokens: tokens of each example, in file order. :param training_limit: the model's per-example
        limit (``None`` if unknown). :param cost_usd: ``None`` when the catalogue has no training price.
    """

    model: str
    tokens: tuple[int, ...]
    training_limit: int | None
    epochs: int
    epochs_chosen_by_auto: bool
    billed_tokens: int
    training_price: float | None
    cost_usd: float | None

    @property
    def truncated(self) -> int:
        """How many examples exceed the training limit (the service truncates them)."""
        return sum(t > self.training_limit for t in self.tokens) if self.training_limit else 0

    def summary(self) -> dict[str, Any]:
        """A JSON-ready dict of the statistics."""
        tokens = self.tokens or (0,)
        return {"model": self.model, "examples": len(self.tokens), "min_tokens": min(tokens),
                "median_tokens": statistics.median(tokens), "max_tokens": max(tokens),
                "total_tokens": sum(self.tokens), "training_limit": self.training_limit,
                "truncated": self.truncated, "epochs": self.epochs, "epochs_auto": self.epochs_chosen_by_auto,
                "billed_tokens": self.billed_tokens, "training_price_per_1m": self.training_price,
                "estimated_cost_usd": self.cost_usd}


def estimate_training(conversations: Sequence[Sequence[Mapping[str, Any]]], model: str,
                      n_epochs: int | str = "auto") -> TrainingEstimate:
    """The estimate for fine-tuning ``model`` on ``conversations`` (each a list of chat messages)."""
    from ftplug.catalogue.models import base_model, default_catalogue
    from ftplug.catalogue.tokens import count_message_tokens

    info = default_catalogue().find(base_model(model))
    limit = info.training_limit if info else None
    tokens = tuple(count_message_tokens(messages, model) for messages in conversations)
    auto = n_epochs == "auto"
    epochs = auto_epochs(len(tokens)) if auto else int(n_epochs)
    billed = sum(min(t, limit) if limit else t for t in tokens) * epochs
    price = info.training_price if info else None
    return TrainingEstimate(model=info.id if info else model, tokens=tokens, training_limit=limit, epochs=epochs,
                            epochs_chosen_by_auto=auto, billed_tokens=billed, training_price=price,
                            cost_usd=billed * price * PER_TOKEN if price is not None else None)
