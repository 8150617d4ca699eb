"""Nearest-neighbour answers: an inverted index over (prompt, answer) pairs with tf-idf cosine scores."""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Sequence
from itertools import pairwise

COMMON_ANSWERS = 20
COMMON_TERM_SHARE = 0.2  # terms in more than this share of the documents get no postings …
MIN_DOCUMENTS_TO_PRUNE = 50  # … once there are this many documents
_WORD = re.compile(r"[a-z0-9']+")
_STOPWORD_TEXT = """a an and are as at be but by for from has have he her his i if in into is it its me my no not of on
or our she so that the their them then there they this to was we were what when which who will with you your"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def terms(text: str) -> list[str]:
    """Lower-case words minus stop words, plus adjacent word pairs."""
    words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
    return words + [f"{a} {b}" for a, b in pairwise(words)]


class AnswerIndex:
    """Scores each known answer by its nearest prompts' similarity to a query."""

    def __init__(self, pairs: Sequence[tuple[str, str]], neighbours: int = 5) -> None:
        self.answers = [answer for _, answer in pairs]
        self.neighbours = neighbours
        # The most frequent answers always take part in the vote (at zero): they are what the model falls back
        # on when nothing matches, and the alternatives its log-probabilities weigh.
        self.common = [answer for answer, _ in Counter(self.answers).most_common(COMMON_ANSWERS)]
        documents = [Counter(terms(prompt)) for prompt, _ in pairs]
        frequency = Counter(term for document in documents for term in document)
        total = len(documents)
        self.idf = {term: math.log((1 + total) / (1 + count)) + 1 for term, count in frequency.items()}
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        # Terms in most documents (the digits and years of numeric series) tell documents apart least and
        # would make every query visit every document: they weigh in the norms but get no postings.
        common = {term for term, count in frequency.items() if total >= MIN_DOCUMENTS_TO_PRUNE
                  and count > COMMON_TERM_SHARE * total}
        for index, document in enumerate(documents):
            weights = {term: count * self.idf[term] for term, count in document.items()}
            norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            for term, weight in weights.items():
                if term not in common:
                    self.postings[term].append((index, weight / norm))

    def __len__(self) -> int:
        return len(self.answers)

    def scores(self, query: str) -> dict[str, float]:
        """Each answer's summed similarity over the query's ``neighbours`` nearest prompts, plus the most common
        answers at zero; ties keep the order of frequency."""
        weights = {term: count * self.idf.get(term, 0.0) for term, count in Counter(terms(query)).items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        similarity: dict[int, float] = defaultdict(float)
        for term, weight in weights.items():
            for index, document_weight in self.postings.get(term, ()):
                similarity[index] += weight / norm * document_weight
        nearest = sorted(similarity.items(), key=lambda item: (-item[1], item[0]))[: self.neighbours]
        votes = dict.fromkeys(self.common, 0.0)
        for index, score in nearest:
            votes[self.answers[index]] = votes.get(self.answers[index], 0.0) + score
        return votes


_INDEXES: OrderedDict[tuple[tuple[str, str], ...], AnswerIndex] = OrderedDict()
_INDEXES_LOCK = threading.Lock()
INDEXES_KEPT = 256


def index_for(pairs: tuple[tuple[str, str], ...]) -> AnswerIndex:
    """An index per distinct set of examples (a few-shot prompt repeats the same shots for every query; a
    fine-tuned model always answers from the same training file), built once even when many requests for
    it arrive together; the most recently used are kept."""
    with _INDEXES_LOCK:
        index = _INDEXES.get(pairs)
        if index is None:
            index = _INDEXES[pairs] = AnswerIndex(pairs)
            if len(_INDEXES) > INDEXES_KEPT:
                _INDEXES.popitem(last=False)
        else:
            _INDEXES.move_to_end(pairs)
        return index
