"""The key/value cache of what consecutive prompts share, computed once and reused.

Few-shot prompts with a fixed set of shots differ only in their last turn: a prompt of 1,500 tokens may
share 1,480 with the one before. Reading those tokens once and starting every prompt from a copy of their
cache replaces most of each prompt's prefill. The shared part is found on token ids (the longest common
prefix of the batch and of the previous prompt), so it is exact whatever the chat template does at the
boundary. When a prompt shares less, the cache is cut back (``crop``); when a batch shares more, the
cache is extended.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

MINIMUM = 16  # fewer shared tokens than this are not worth a cache copy per batch


def shared_length(sequences: Sequence[list[int]]) -> int:
    """The length of the longest prefix all ``sequences`` share."""
    if not sequences:
        return 0
    # the common prefix of the lexicographically least and greatest is every sequence's
    least, greatest = min(sequences), max(sequences)
    for index, (a, b) in enumerate(zip(least, greatest, strict=False)):
        if a != b:
            return index
    return min(len(least), len(greatest))


class SharedPrefix:
    """Holds the cache of one token prefix for ``network`` and hands out copies for batches.

    :param network: a causal language model of transformers.
    :param cache_keyword: the name under which this transformers version takes a cache
        (``cache``, or ``past_key_values`` before it).
    """

    def __init__(self, network: Any, cache_keyword: str, minimum: int = MINIMUM) -> None:
        self.network, self.cache_keyword, self.minimum = network, cache_keyword, minimum
        self.ids: list[int] = []
        self.cache: Any = None
        self.previous: list[int] | None = None
        self.tokens_computed = 0  # prefix tokens run through the network (for the report)

    def prepare(self, prompts: Sequence[list[int]]) -> int:
        """Make the cache hold the prefix ``prompts`` share (with each other and with the previous prompt);
        return its length in tokens, 0 when they share too little. Every prompt keeps at least one token."""
        together = [*prompts, self.previous] if self.previous is not None else list(prompts)
        self.previous = list(prompts[-1])
        length = shared_length(together) if len(together) > 1 else 0
        length = min(length, min(len(p) for p in prompts) - 1)
        if length < self.minimum:
            return 0
        target = list(prompts[0][:length])
        kept = shared_length([self.ids, target]) if self.cache is not None else 0
        if kept < self.minimum:
            self.ids, self.cache = [], None
            kept = 0
        elif kept < len(self.ids):
            self.cache.crop(kept - len(self.ids))  # a negative count: the tokens to drop from the end
            self.ids = self.ids[:kept]
        if length > kept:
            self._extend(target[kept:])
        return len(self.ids)

    def _extend(self, ids: list[int]) -> None:
        import torch
        from transformers import DynamicCache

        if self.cache is None:
            self.cache = DynamicCache(config=self.network.config)
        device = next(self.network.parameters()).device
        with torch.no_grad():
            self.network(input_ids=torch.tensor([ids], device=device), use_cache=True,
                         **{self.cache_keyword: self.cache})
        self.ids.extend(ids)
        self.tokens_computed += len(ids)

    def copy_for(self, batch_size: int) -> Any:
        """A copy of the cache for ``batch_size`` prompts (generation writes into the cache it is given)."""
        cache = copy.deepcopy(self.cache)
        if batch_size > 1:
            cache.batch_repeat_interleave(batch_size)
        return cache
