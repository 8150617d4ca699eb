"""Scoring one prediction with every scorer of an experiment; a failing scorer fails for that output only."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ftplug.capabilities import ScorerCapabilities, declared
from ftplug.components import Score
from ftplug.dataset import Example


@dataclass
class Scored:
    """The scores of one prediction: values, labels read by classification scorers, and scorer errors; with
    several samples, each per-output scorer's value on every sample (``None`` where it failed or gave none)."""

    values: dict[str, float | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    sample_values: dict[str, list[float | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class ActiveScorer:
    """A scorer of the run: the id its values are stored under, the instance, and what it declares."""

    id: str
    scorer: Any
    declares: ScorerCapabilities


def active_scorers(scorers: Iterable[tuple[str, Any]], names: Iterable[str] = ()) -> list[ActiveScorer]:
    """Each ``(id, scorer)`` with its declared capabilities (read once, not for every prediction).

    :param names: how to name each scorer in an error (default: by its id).
    """
    pairs = list(scorers)
    named = [*names] or [f"scorer {scorer_id!r}" for scorer_id, _ in pairs]
    return [ActiveScorer(scorer_id, scorer, declared(ScorerCapabilities, scorer, name))
            for (scorer_id, scorer), name in zip(pairs, named, strict=True)]


def scorer_info(scorer: ActiveScorer, name: str) -> dict[str, Any]:
    """What the report needs to know about a scorer, stored with every run."""
    declares = scorer.declares
    return {"name": name, "aggregate": declares.aggregate, "higher_is_better": declares.higher_is_better,
            "needs_samples": declares.needs_samples, "reads_labels": declares.reads_labels}


def score_prediction(scorers: Sequence[ActiveScorer], output: str, samples: Sequence[str] | None,
                     example: Example) -> Scored:
    """Every scorer's verdict on ``output`` (and, for sample scorers, on all ``samples``). With two samples or
    more (``samples[0]`` being ``output``), each per-output scorer also scores every sample, for the
    between-sample spread (:mod:`ftplug.report.sampling_spread`)."""
    scored = Scored()
    for active in scorers:
        scorer_id, scorer = active.id, active.scorer
        try:
            if active.declares.needs_samples:
                result: Any = scorer.score_samples(list(samples) if samples else [output], example)
            else:
                result = scorer.score(output, example)
            value = _finite(result.value if isinstance(result, Score) else result)
        except Exception as error:  # a scorer's bug or an odd output must not lose the prediction
            scored.values[scorer_id] = None
            scored.errors[scorer_id] = f"{type(error).__name__}: {error}"[:500]
            continue
        scored.values[scorer_id] = value
        if isinstance(result, Score) and result.label is not None:
            scored.labels[scorer_id] = result.label
    if samples is not None and len(samples) > 1:
        for active in scorers:
            if not active.declares.needs_samples:
                scored.sample_values[active.id] = [scored.values[active.id], *(
                    _sample_value(active.scorer, sample, example) for sample in samples[1:])]
    return scored


def _sample_value(scorer: Any, sample: str, example: Example) -> float | None:
    """One sample's score; a scorer failing on it gives ``None`` (its error is recorded for the output only)."""
    try:
        result = scorer.score(sample, example)
        return _finite(result.value if isinstance(result, Score) else result)
    except Exception:  # as for the output: a scorer's bug or an odd sample must not lose the prediction
        return None


class NonFiniteScore(ValueError):
    """A scorer gave infinity or NaN: no mean, interval or test can be made of it."""


def _finite(result: Any) -> float | None:
    """A score as a float, ``None`` for no score; infinity, NaN and what is not a number are refused."""
    if result is None:
        return None
    value = float(result)
    if not math.isfinite(value):
        raise NonFiniteScore(f"the score is {value!r}, not a finite number; stored as missing")
    return value
