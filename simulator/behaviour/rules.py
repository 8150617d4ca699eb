"""How simulated models answer. These rules are a simulation of the fine-tuning / prompting trade-off,
documented so that nobody mistakes the result for a real model's behaviour.

1. The query is the last user message. In-context examples are the (user, assistant) message pairs
   before it.
2. A base model given in-context examples answers with the answer of the examples whose user text is
   most similar to the query: tf-idf cosine over words and word pairs, the five nearest examples vote,
   weighted by similarity. More, and closer, examples therefore give better answers.
3. A base model without examples drifts into verbose, hedging answers ("As an AI language model, …")
   that name a candidate label from the system message ("… one of: a, b, c") chosen by a weak
   heuristic (word overlap with the query, else a hash), or make a generic remark when there is none.
4. A fine-tuned model answers from its training file: the same nearest-neighbour vote over all its
   training examples, in the trained format, with no boilerplate; system messages are ignored.
5. With temperature 0 the best-scoring answer is given. With temperature > 0 an answer is sampled
   from the scores (a softmax whose sharpness falls as temperature rises), seeded by the simulator
   seed, the request's seed, the request's content and the choice index, so repeated samples of one
   prompt can disagree, and reproducibly so.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ftplug.simulator.behaviour.matching import AnswerIndex, index_for, terms

_LABEL_LIST = re.compile(r"one of\s*:?\s*(.+)", re.IGNORECASE)


def message_text(message: dict[str, Any]) -> str:
    """A message's text content (text parts joined for list content)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def split_conversation(messages: Sequence[dict[str, Any]]) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """(system text, query, in-context (user, assistant) pairs)."""
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    query = message_text(messages[last_user]) if last_user >= 0 else ""
    system = "\n".join(message_text(m) for m in messages if m.get("role") in ("system", "developer"))
    pairs = []
    for i in range(max(0, last_user)):
        if messages[i].get("role") == "user" and messages[i + 1].get("role") == "assistant":
            pairs.append((message_text(messages[i]), message_text(messages[i + 1])))
    return system, query, tuple(pairs)


def candidate_labels(system: str) -> list[str]:
    """Labels listed in the system message after "one of", e.g. "Answer with one of: a, b, c."."""
    match = _LABEL_LIST.search(system)
    if match is None:
        return []
    listed = re.split(r",|\bor\b", match.group(1).split(".")[0].split("\n")[0])
    return [label.strip(" '\"`") for label in listed if label.strip(" '\"`")]


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


@dataclass(frozen=True)
class Answer:
    """A simulated answer, how sure the model was of it (0–1], and the answers it weighed against it."""

    text: str
    confidence: float = 1.0
    alternatives: tuple[str, ...] = ()


def _choose(votes: dict[str, float], temperature: float, rng: random.Random) -> Answer:
    ranked = sorted(votes.items(), key=lambda item: -item[1])
    total = sum(score for _, score in ranked)
    if temperature <= 0 or len(ranked) == 1:
        chosen = ranked[0][0]
    else:
        sharpness = 8.0 / temperature
        top = ranked[0][1]
        weights = [math.exp(sharpness * (score - top)) for _, score in ranked]
        chosen = rng.choices([answer for answer, _ in ranked], weights=weights)[0]
    confidence = votes[chosen] / total if total > 0 else 1.0 / len(ranked)
    return Answer(chosen, confidence, tuple(answer for answer, _ in ranked if answer != chosen))


def zero_shot_answer(system: str, query: str, rng: random.Random) -> Answer:
    """The drifting answer of a base model that was shown no examples."""
    labels = candidate_labels(system)
    if not labels:
        return Answer("As an AI language model, I cannot predict that with certainty. Based on the information "
                      "provided, the pattern may continue in a similar way, but many factors could affect the "
                      "outcome.", confidence=0.3)
    query_terms = set(terms(query))
    overlaps = [(len(query_terms & set(terms(label))), label) for label in labels]
    best = max(overlaps)[0]
    if best > 0:
        label = next(label for overlap, label in overlaps if overlap == best)
    else:
        label = labels[_stable_hash(query) % len(labels)] if rng.random() < 0.5 else labels[0]
    return Answer(f"As an AI language model, I can't be certain, but based on the text this is most likely about "
                  f"{label}. Let me know if you would like me to explain my reasoning.", confidence=1 / len(labels),
                  alternatives=tuple(other for other in labels if other != label))


def answer(messages: Sequence[dict[str, Any]], temperature: float, rng: random.Random,
           trained: AnswerIndex | None = None) -> Answer:
    """The simulated answer to a chat request (see the module's rules)."""
    system, query, pairs = split_conversation(messages)
    if trained is not None and len(trained):
        return _choose(trained.scores(query), temperature, rng)
    if pairs:
        return _choose(index_for(pairs).scores(query), temperature, rng)
    return zero_shot_answer(system, query, rng)
