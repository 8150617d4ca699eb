"""BM25 ranking of a fixed pool of texts against queries, for choosing the most similar few-shot examples."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, underscore)."""
    return _WORD.findall(text.lower())


class BM25:
    """An inverted index over ``documents``; :meth:`scores` ranks all of them for one query at once.

    :param k1: term-frequency saturation. :param b: length normalisation.
    """

    def __init__(self, documents: Sequence[str], k1: float = 1.5, b: float = 0.75) -> None:
        import numpy as np

        self._np = np
        self.size = len(documents)
        tokenised = [Counter(words(text)) for text in documents]
        lengths = np.array([sum(c.values()) for c in tokenised], dtype=np.float64)
        average = float(lengths.mean()) if self.size else 0.0
        frequency = Counter(term for c in tokenised for term in c)
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for index, counts in enumerate(tokenised):
            norm = k1 * (1 - b + b * lengths[index] / average) if average else k1
            for term, tf in counts.items():
                ids, weights = postings.setdefault(term, ([], []))
                ids.append(index)
                weights.append(tf * (k1 + 1) / (tf + norm))
        self._postings: dict[str, tuple[Any, Any]] = {}
        for term, (ids, weights) in postings.items():
            idf = math.log(1 + (self.size - frequency[term] + 0.5) / (frequency[term] + 0.5))
            self._postings[term] = (np.array(ids, dtype=np.int64), np.array(weights) * idf)

    def scores(self, query: str) -> Any:
        """A NumPy array: each document's BM25 score for ``query``."""
        scores = self._np.zeros(self.size)
        for term in set(words(query)):
            posting = self._postings.get(term)
            if posting is not None:
                scores[posting[0]] += posting[1]
        return scores

    def rank(self, scores: Any) -> Any:
        """Indices ordered by ``scores``, highest first (ties: pool order)."""
        return self._np.argsort(-scores, kind="stable")

    def rank_lazily(self, scores: Any, head: int = 512) -> Iterator[Any]:
        """:meth:`rank` in two chunks: the (at most ``head``) best first, the rest sorted only if asked for.

        Most queries only need the head, and sorting a few hundred scores is far cheaper than sorting all.
        """
        np = self._np
        if self.size <= head:
            yield self.rank(scores)
            return
        threshold = np.partition(scores, self.size - head)[self.size - head]  # the head-th highest score
        above = np.flatnonzero(scores > threshold)  # strictly above: ties at the threshold stay together
        yield above[np.lexsort((above, -scores[above]))]
        rest = np.flatnonzero(scores <= threshold)
        yield rest[np.argsort(-scores[rest], kind="stable")]
