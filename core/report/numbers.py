"""Numbers as every rendering of the report writes them."""

from __future__ import annotations

from typing import Any


def number(value: Any, digits: int = 3, missing: str = "-") -> str:
    """``value`` for a table or a sentence: a float with ``digits`` decimals and thousands separators, an
    integer with separators, anything else as it prints; ``missing`` for ``None``."""
    if value is None:
        return missing
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
