"""How few-shot examples are chosen from the training split: the order in which they are offered.

``first`` and ``random`` (seeded) give one order for every query; ``balanced`` interleaves the labels;
``similar`` ranks the pool by BM25 similarity to each query; ``diverse`` re-ranks the most similar by
maximal marginal relevance, so near-duplicates do not crowd each other out.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from ftplug.dataset import Example
from ftplug.plugins.few_shot.bm25 import BM25, words

STRATEGIES = ("first", "random", "balanced", "similar", "diverse")
MMR_LAMBDA = 0.5
MMR_CANDIDATES = 64


class Selector(Protocol):
    """Gives the order in which pool examples are offered for one query."""

    def chunks(self, query: str) -> Iterator[Any]:
        """Pool indices, best first, as consecutive NumPy integer arrays (later ones computed only if needed)."""
        ...

    def order(self, query: str) -> Any:
        """All pool indices, best first, as one NumPy integer array."""
        ...


class _WholeOrder:
    """``order`` from ``chunks``."""

    def chunks(self, query: str) -> Iterator[Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    def order(self, query: str) -> Any:
        """All pool indices, best first."""
        import numpy as np

        return np.concatenate(list(self.chunks(query)))


class FixedOrder(_WholeOrder):
    """The same order for every query."""

    def __init__(self, indices: Sequence[int]) -> None:
        import numpy as np

        self.indices = np.array(indices, dtype=np.int64)

    def chunks(self, query: str) -> Iterator[Any]:
        """The fixed order, in one chunk."""
        yield self.indices


def balanced_order(pool: Sequence[Example], seed: int) -> list[int]:
    """Round-robin over the expected labels (labels and their members in seeded random order)."""
    rng = random.Random(seed)
    groups: dict[str, list[int]] = {}
    for index in rng.sample(range(len(pool)), len(pool)):
        groups.setdefault(pool[index].expected, []).append(index)
    queues = list(groups.values())
    order: list[int] = []
    depth = 0
    while len(order) < len(pool):
        order.extend(queue[depth] for queue in queues if depth < len(queue))
        depth += 1
    return order


class Similar(_WholeOrder):
    """The pool ranked by BM25 similarity of each example's input to the query."""

    def __init__(self, pool: Sequence[Example]) -> None:
        self.index = BM25([example.input_text for example in pool])

    def chunks(self, query: str) -> Iterator[Any]:
        """Most similar first."""
        return self.index.rank_lazily(self.index.scores(query))


class Diverse(Similar):
    """Maximal marginal relevance over the most similar candidates, then the rest by similarity."""

    def __init__(self, pool: Sequence[Example]) -> None:
        super().__init__(pool)
        self.word_sets = [frozenset(words(example.input_text)) for example in pool]

    def _overlap(self, a: int, b: int) -> float:
        union = len(self.word_sets[a] | self.word_sets[b])
        return len(self.word_sets[a] & self.word_sets[b]) / union if union else 0.0

    def chunks(self, query: str) -> Iterator[Any]:
        """Relevant and mutually different first."""
        import numpy as np

        scores = self.index.scores(query)
        ranked = self.index.rank_lazily(scores)
        head = next(ranked)
        while len(head) < MMR_CANDIDATES and (more := next(ranked, None)) is not None:
            head = np.concatenate([head, more])
        candidates, rest = head[:MMR_CANDIDATES].tolist(), head[MMR_CANDIDATES:]
        top = float(scores[candidates[0]]) if candidates and scores[candidates[0]] > 0 else 1.0
        position = {index: rank for rank, index in enumerate(candidates)}  # ties: the more similar first
        chosen: list[int] = []
        redundancy = dict.fromkeys(candidates, 0.0)
        while redundancy:
            best = max(redundancy, key=lambda i: (MMR_LAMBDA * scores[i] / top - (1 - MMR_LAMBDA) * redundancy[i],
                                                  -position[i]))
            chosen.append(best)
            del redundancy[best]
            for other in redundancy:
                redundancy[other] = max(redundancy[other], self._overlap(best, other))
        yield np.array(chosen, dtype=np.int64)
        yield rest
        yield from ranked


def make_selector(strategy: str, pool: Sequence[Example], seed: int) -> Selector:
    """The selector for ``strategy`` over ``pool`` (the training split)."""
    if strategy == "first":
        return FixedOrder(range(len(pool)))
    if strategy == "random":
        return FixedOrder(random.Random(seed).sample(range(len(pool)), len(pool)))
    if strategy == "balanced":
        return FixedOrder(balanced_order(pool, seed))
    if strategy == "similar":
        return Similar(pool)
    if strategy == "diverse":
        return Diverse(pool)
    raise ValueError(f"unknown selection strategy {strategy!r} (known: {', '.join(STRATEGIES)})")
