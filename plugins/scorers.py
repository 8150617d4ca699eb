"""Built-in scorers."""

from __future__ import annotations

import re
from typing import Any

from ftplug import hookimpl
from ftplug.components import Option
from ftplug.dataset import Example

_SPACE = re.compile(r"\s+")
_EDGE_PUNCTUATION = "\"'`.,;:!? "


def normalize(text: str) -> str:
    """Case-folded, whitespace collapsed, surrounding quotes and end punctuation removed."""
    return _SPACE.sub(" ", text).strip(_EDGE_PUNCTUATION).casefold()


class ExactMatch:
    """1.0 when the output equals the expected answer, else 0.0 (accuracy over a run)."""

    def __init__(self, normalize: bool = True) -> None:
        self.normalize = normalize

    def score(self, output: str, example: Example) -> float:
        """Compare ``output`` with ``example.expected``, normalised unless told otherwise."""
        if self.normalize:
            return float(normalize(output) == normalize(example.expected))
        return float(output == example.expected)


@hookimpl
def ftplug_register_scorers(register: Any) -> None:
    """Contribute ``exact``."""
    register("exact", ExactMatch, description="exact match with the expected answer (accuracy)", options=[
        Option("normalize", bool, True, "ignore case, surrounding whitespace, quotes and end punctuation"),
    ])
