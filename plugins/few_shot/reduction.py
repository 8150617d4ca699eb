"""Shrinking long inputs to fit a context window, deterministically: keep the last rows, keep every k-th,
round numbers, aggregate groups of rows, or truncate by tokens.

An input's *rows* are its lines, or, for one-line input, its comma- or space-separated values. Steps are
written ``method:n`` and chained with commas, e.g. ``"last:60,round:2"``:

- ``last:N`` keeps the last N rows (the most recent data);
- ``every:K`` keeps every K-th row, counted back from the last (which is always kept);
- ``round:D`` rounds every decimal number to D decimals (whole numbers and dates are left alone);
- ``aggregate:K`` replaces each group of K rows (aligned to the end) by one: the group's last row with its
  last number replaced by the group's mean (daily → weekly with K = 5 or 7);
- ``truncate:N`` keeps the last N tokens.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ftplug.errors import ConfigError

METHODS = ("last", "every", "round", "aggregate", "truncate")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d+(?![\w.])")


@dataclass(frozen=True)
class Step:
    """One reduction step."""

    method: str
    n: int


def parse_reduction(spec: str) -> tuple[Step, ...]:
    """The steps of ``spec`` (``""`` = none); a :class:`ConfigError` explaining the format otherwise."""
    steps = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        method, _, amount = part.partition(":")
        if method not in METHODS or not amount.isdigit():
            raise ConfigError(f"reduce step {part!r} must be METHOD:N with METHOD one of {', '.join(METHODS)}")
        n = int(amount)
        if n < (0 if method == "round" else 1):
            raise ConfigError(f"reduce step {part!r}: N is too small")
        steps.append(Step(method, n))
    return tuple(steps)


def _split_rows(text: str) -> tuple[list[str], str]:
    if "\n" in text.strip():
        return text.strip("\n").split("\n"), "\n"
    if "," in text:
        return [v.strip() for v in text.split(",")], ", "
    return text.split(), " "


def _aggregate(rows: list[str], k: int) -> list[str]:
    out = []
    start = len(rows) % k
    groups = ([rows[:start]] if start else []) + [rows[i:i + k] for i in range(start, len(rows), k)]
    for group in groups:
        values = [float(m[-1]) for m in (_NUMBER.findall(row) for row in group) if m]
        last = group[-1]
        if not values:
            out.append(last)
            continue
        mean = sum(values) / len(values)
        matches = list(_NUMBER.finditer(last))
        if matches:
            final = matches[-1]
            decimals = len(final.group().split(".")[1]) if "." in final.group() else 2
            last = f"{last[:final.start()]}{mean:.{decimals}f}{last[final.end():]}"
        out.append(last)
    return out


def _rounded(decimals: int) -> Callable[[re.Match[str]], str]:
    """A substitution writing the matched number with ``decimals`` decimals."""
    def replace(match: re.Match[str]) -> str:
        return f"{float(match.group()):.{decimals}f}"
    return replace


def apply_reduction(text: str, steps: tuple[Step, ...], truncate: Callable[[str, int], str] | None = None) -> str:
    """``text`` after every step; ``truncate(text, n)`` keeps the last ``n`` tokens (needed for ``truncate``)."""
    for step in steps:
        if step.method == "round":
            text = _DECIMAL.sub(_rounded(step.n), text)
            continue
        if step.method == "truncate":
            if truncate is None:
                raise ValueError("truncate needs a tokenizer")
            text = truncate(text, step.n)
            continue
        rows, separator = _split_rows(text)
        if step.method == "last":
            rows = rows[-step.n:]
        elif step.method == "every":
            rows = rows[::-1][::step.n][::-1]
        else:
            rows = _aggregate(rows, step.n)
        text = separator.join(rows)
    return text
