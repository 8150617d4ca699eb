"""How an answer and an expected label are compared as text: what the built-in scorers and the report's
confusion matrices share, so that both read a label the same way."""

from __future__ import annotations

import re

_SPACE = re.compile(r"\s+")
_EDGE_PUNCTUATION = "\"'`.,;:!? "


def normalize(text: str) -> str:
    """Case-folded, whitespace collapsed, surrounding quotes and end punctuation removed."""
    return _SPACE.sub(" ", text).strip(_EDGE_PUNCTUATION).casefold()
