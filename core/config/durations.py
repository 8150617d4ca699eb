"""Lengths of time as the terminal and the report show them."""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    """A length of time as people read it: ``41.2 s``, ``8.3 min``, ``2.5 h``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"
