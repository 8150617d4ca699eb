"""Built-in match and classification scorers: ``exact``, ``normalized``, ``accuracy``, ``f1``.

Every scorer gives one value per prediction; how values become a run's metric is its ``aggregate``
(``mean``, ``rmse`` or ``macro_f1``). Classification scorers also record the label they read from the
output, so F1 and the confusion matrix can be computed from the result store alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any

from ftplug import hookimpl
from ftplug.components import Help, Score
from ftplug.dataset import Example
from ftplug.dataset.labels import normalize
from ftplug.errors import ConfigError


class ExactMatch:
    """1.0 when the output equals the expected answer (normalised unless told otherwise), else 0.0."""

    aggregate = "mean"
    higher_is_better = True

    def __init__(self, normalize: Annotated[bool, Help("ignore case, surrounding whitespace, quotes and end "
                                                       "punctuation")] = True) -> None:
        self.normalize = normalize

    def score(self, output: str, example: Example) -> float:
        """Compare ``output`` with ``example.expected``."""
        if self.normalize:
            return float(normalize(output) == normalize(example.expected))
        return float(output == example.expected)


class LabelReader:
    """Reads a class label from an output: the first of ``labels`` it mentions (as a word), or, with no
    labels declared, the whole normalised output."""

    def __init__(self, labels: Annotated[Sequence[str], Help(
            "the class labels; the first one the output names is its answer (empty: the whole normalised output "
            "is the label)")] = ()) -> None:
        if isinstance(labels, str) or not all(isinstance(label, str) and label for label in labels):
            raise ConfigError("labels must be a list of non-empty strings")
        self.labels = [normalize(label) for label in labels]
        self._pattern = (re.compile(r"(?<!\w)(" + "|".join(re.escape(label) for label in
                                                            sorted(self.labels, key=len, reverse=True)) + r")(?!\w)")
                         if self.labels else None)

    def label(self, output: str) -> str | None:
        """The label, or ``None`` when the output names none of the declared labels."""
        text = normalize(output)
        if self._pattern is None:
            return text
        found = self._pattern.search(text)
        return found.group(1) if found else None


class Accuracy(LabelReader):
    """1.0 when the label read from the output is the expected label; records the label read."""

    aggregate = "mean"
    higher_is_better = True
    reads_labels = True

    def score(self, output: str, example: Example) -> Score:
        """The label read, and whether it is right (an output naming no label is wrong)."""
        label = self.label(output)
        return Score(float(label == normalize(example.expected)), label=label if label is not None else "")


class MacroF1(Accuracy):
    """Macro-averaged F1 over the labels (per prediction: correct or not, with the label read)."""

    aggregate = "macro_f1"


@hookimpl
def ftplug_register_scorers(register: Any) -> None:
    """Contribute ``exact``, ``normalized``, ``accuracy`` and ``f1``."""
    register("exact", ExactMatch, description="exact match with the expected answer (accuracy)")
    register("normalized", lambda: ExactMatch(normalize=True),
             description="match after case-folding, collapsing whitespace and stripping quotes/punctuation")
    register("accuracy", Accuracy, description="classification accuracy, recording the label read from each "
                                               "output (for the confusion matrix)")
    register("f1", MacroF1, description="macro-averaged F1 over the labels")
