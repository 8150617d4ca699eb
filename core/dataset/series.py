"""Time-series windows: how a window of values is shown to a model and what answer it is asked for.

A window is W consecutive observations of one series; its target is the observation H steps after the
last one, asked for as the ``value`` itself, its ``pct_change`` from the last observation, or its
``direction`` (``up``, ``down`` or ``flat`` within an optional band). The same functions format the
expected answers (the loader), the baselines' forecasts (:mod:`ftplug.plugins.trainers.baselines`) and the
re-rendered inputs of a prompt that asks for another input format (the few-shot builder's ``series``).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from ftplug.errors import ConfigError

TARGETS = ("value", "pct_change", "direction")
SEPARATORS = {"newline": "\n", "comma": ", ", "space": " ", "semicolon": "; "}


@dataclass(frozen=True)
class SeriesFormat:
    """How a window is written in the prompt; each choice changes what it costs in tokens.

    :param decimals: digits after the point (``-1``: as few as represent the value exactly).
    :param separator: between observations: ``newline`` (one per line, with a header), ``comma``,
        ``space`` or ``semicolon`` (all on one line).
    :param relative: show each observation as its % change from the previous one instead of its level.
    :param dates: show each observation's date (when the data have dates).
    :param title: show the series' name and what the numbers are on a first line.
    """

    decimals: int = -1
    separator: str = "newline"
    relative: bool = False
    dates: bool = True
    title: bool = True

    @classmethod
    def from_options(cls, options: Mapping[str, Any], where: str = "series") -> SeriesFormat:
        """A format from a table of the fields above; a :class:`ConfigError` for an unknown key or value."""
        known = {f.name: f for f in fields(cls)}
        for key, value in options.items():
            if key not in known:
                raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(known)})")
            expected = int if key == "decimals" else str if key == "separator" else bool
            if isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
                raise ConfigError(f"{where} {key}: must be {expected.__name__}, got {value!r}")
        chosen = cls(**options)
        if chosen.separator not in SEPARATORS:
            raise ConfigError(f"{where} separator: must be one of {', '.join(SEPARATORS)}, got {chosen.separator!r}")
        if chosen.decimals < -1 or chosen.decimals > 12:
            raise ConfigError(f"{where} decimals: must be -1 (exact) or 0–12, got {chosen.decimals}")
        return chosen

    def as_dict(self) -> dict[str, Any]:
        """The format as a JSON-ready table."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def format_number(value: float, decimals: int) -> str:
    """``value`` with ``decimals`` digits after the point (``-1``: the shortest exact form)."""
    if decimals < 0:
        text = repr(float(value))
        return text[:-2] if text.endswith(".0") else text
    return f"{value:.{decimals}f}"


def pct_change(last: float, later: float) -> float:
    """The % change from ``last`` to ``later`` (``0`` when both are 0; ``±inf`` from 0 to non-zero)."""
    if last == 0:
        return 0.0 if later == 0 else float("inf") if later > 0 else float("-inf")
    return 100.0 * (later - last) / abs(last)


def render(name: str, values: Sequence[float], dates: Sequence[str] | None, style: SeriesFormat) -> str:
    """The window as the prompt shows it."""
    shown_dates = list(dates) if dates is not None and style.dates else None
    if style.relative:
        numbers = [pct_change(values[i - 1], values[i]) for i in range(1, len(values))]
        shown_dates = shown_dates[1:] if shown_dates is not None else None
        decimals = style.decimals if style.decimals >= 0 else 2
        what = "% change from the previous observation"
    else:
        numbers, decimals, what = list(values), style.decimals, "value"
    texts = [format_number(v, decimals) for v in numbers]
    title = [f"{name}: {len(texts)} observations, oldest first ({what})"] if style.title else []
    if style.separator == "newline":
        if shown_dates is not None:
            return "\n".join(title + [f"date,{'pct_change' if style.relative else 'value'}"]
                             + [f"{d},{t}" for d, t in zip(shown_dates, texts, strict=True)])
        return "\n".join(title + texts)
    joiner = SEPARATORS[style.separator]
    if shown_dates is not None:
        texts = [f"{d}={t}" for d, t in zip(shown_dates, texts, strict=True)]
    return "\n".join([*title, joiner.join(texts)])


@dataclass(frozen=True)
class Target:
    """What a window's answer is and how it is written.

    :param kind: ``value``, ``pct_change`` or ``direction``.
    :param horizon: steps after the window's last observation.
    :param flat: for ``direction``, the half-width in % of the band counted as ``flat``.
    :param decimals: for ``value`` and ``pct_change``, digits of the answer (``-1``: shortest exact form).
    """

    kind: str = "direction"
    horizon: int = 1
    flat: float = 0.0
    decimals: int = -1

    def text(self, last: float, forecast: float) -> str:
        """The answer for a window whose last observation is ``last`` when the target is ``forecast``."""
        if self.kind == "value":
            return format_number(forecast, self.decimals)
        return self.change_text(pct_change(last, forecast))

    def change_text(self, change: float) -> str:
        """The answer of a ``pct_change`` or ``direction`` target for a change of ``change`` %."""
        if self.kind == "pct_change":
            return format_number(change, self.decimals if self.decimals >= 0 else 2)
        if change > self.flat:
            return "up"
        if change < -self.flat:
            return "down"
        return "flat"

    def as_dict(self) -> dict[str, Any]:
        """The target as a JSON-ready table (kept in each example's metadata)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def question(self) -> str:
        """What the model is asked, in one sentence (for system messages and documentation)."""
        step = "the next observation" if self.horizon == 1 else f"the observation {self.horizon} steps ahead"
        if self.kind == "value":
            return f"Give {step} as a number."
        if self.kind == "pct_change":
            return f"Give the % change from the last observation to {step}, as a number."
        band = f" (flat: within ±{self.flat:g} %)" if self.flat else ""
        return f"Is {step} up, down or flat from the last observation{band}? Answer with one word."


def target_of(example_metadata: Mapping[str, Any]) -> Target:
    """The :class:`Target` stored in a time-series example's metadata."""
    return Target(**example_metadata["target"])


def is_window(example_metadata: Mapping[str, Any]) -> bool:
    """Whether an example's metadata describe a time-series window (made by the ``timeseries`` loader)."""
    return "values" in example_metadata and "target" in example_metadata


class NaiveScale:
    """The scale of the MASE (Hyndman & Koehler, 2006) for one series: the mean absolute error of the
    in-sample one-step naive forecast of the quantity a target asks for, over the series up to a time.

    The quantity is the value itself for a ``value`` target, and the H-step % change (from the observation H
    steps earlier) for a ``pct_change`` target. The one-step naive forecast of each observation of it is the
    one before, so the scale up to time ``t`` is the mean of ``|q[i] − q[i − 1]|`` over the ``i`` whose time
    is at most ``t`` (pairs with a missing or infinite quantity are left out). The loader makes one per
    series; every window of the series shares it.
    """

    def __init__(self, keys: Sequence[Any], values: Sequence[float], target: Target) -> None:
        from ftplug.dataset import time_of

        if target.kind == "pct_change":
            h = target.horizon
            quantity = [pct_change(values[i - h], values[i]) if i >= h else math.nan for i in range(len(values))]
        else:
            quantity = list(values)
        self._times = [time_of(key) for key in keys]
        self._sums, self._counts = [0.0], [0]  # cumulative over the pairs ending at or before each index
        for i in range(1, len(quantity)):
            step = abs(quantity[i] - quantity[i - 1])
            finite = math.isfinite(step)
            self._sums.append(self._sums[-1] + (step if finite else 0.0))
            self._counts.append(self._counts[-1] + finite)
        if not quantity:
            self._sums, self._counts = [], []

    def until(self, time: Any) -> float | None:
        """The mean absolute one-step naive error over the observations at or before ``time`` (a key as the
        windows' ``first``/``origin``/``end`` hold it); ``None`` when there is no such pair."""
        from ftplug.dataset import time_of

        index = bisect_right(self._times, time_of(time)) - 1
        if index < 1 or not self._counts[index]:
            return None
        return self._sums[index] / self._counts[index]
