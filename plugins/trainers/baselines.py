"""Naive baselines as trainers: local predictors that make no request, stored like any variant.

An LLM forecast is worth its cost only if it beats these. Each works on the windows of the ``timeseries``
loader and answers in the example's own target (value, % change or direction, :class:`ftplug.dataset.series.Target`);
``majority`` works on any dataset:

- ``persistence``: the last value; for change targets, the last change again (same direction);
- ``drift``: the line from the window's first to its last value, extended ``horizon`` steps;
- ``moving-average``: the mean of the last ``k`` values;
- ``seasonal-naive``: the value one season (``period`` steps) before the target;
- ``majority``: the most frequent answer of the training split;
- ``linear-ar``: least-squares autoregression on the last ``order`` values, fitted on the training windows
  (values relative to each window's last value, so series of different levels share one model).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from ftplug import hookimpl
from ftplug.components import Help, TrainedModel, TrainingContext
from ftplug.dataset import Example
from ftplug.dataset.series import Target, is_window, pct_change, target_of
from ftplug.errors import ConfigError, FtplugError

BASELINES = ("persistence", "drift", "moving-average", "seasonal-naive", "majority", "linear-ar")


def _windows_only(name: str, examples: Sequence[Example]) -> None:
    if examples and not is_window(examples[0].metadata):
        raise FtplugError(f"the {name} baseline forecasts time-series windows (the timeseries loader); this "
                          "dataset's examples are not windows (the majority baseline works on any dataset)")


def _answer(example: Example, respond: Callable[[list[float], Target], str]) -> str:
    """``respond(values, target)`` for a window; an error for an example that is not one."""
    if not is_window(example.metadata):
        raise FtplugError(f"example {example.id!r} is not a time-series window")
    return respond(example.metadata["values"], target_of(example.metadata))


def _forecast_answer(forecast: Callable[[list[float], int], float]) -> Callable[[list[float], Target], str]:
    """The answer of a baseline that forecasts the value itself."""
    return lambda values, target: target.text(values[-1], forecast(values, target.horizon))


class _Forecaster:
    """A baseline that needs nothing from the training split but the check that it holds windows."""

    local = True  # predictions are computed here, never by the endpoint (so never simulated)
    name = ""

    def forecast(self, values: list[float], horizon: int) -> float:
        """The forecast of the value ``horizon`` steps after ``values``."""
        raise NotImplementedError

    def respond(self, values: list[float], target: Target) -> str:
        """The answer for a window: its forecast, written as the target asks."""
        return _forecast_answer(self.forecast)(values, target)

    def train(self, context: TrainingContext) -> TrainedModel:
        """Check the data are windows; the forecaster itself has nothing to fit."""
        _windows_only(self.name, context.train)
        return TrainedModel(model=f"baseline:{self.name}", predict=lambda e: _answer(e, self.respond),
                            details={"baseline": self.name})


class Persistence(_Forecaster):
    """The last value; for a change target, the window's last ``horizon``-step change repeated."""

    name = "persistence"

    def respond(self, values: list[float], target: Target) -> str:
        """The last value, or the last change's % change and direction."""
        if target.kind == "value":
            return target.text(values[-1], values[-1])
        change = pct_change(values[max(0, len(values) - 1 - target.horizon)], values[-1])
        if target.kind == "pct_change" and not math.isfinite(change):
            change = 0.0  # a change from 0: no finite percentage to repeat
        return target.change_text(change)


class Drift(_Forecaster):
    """The line through the window's first and last values, extended ``horizon`` steps."""

    name = "drift"

    def forecast(self, values: list[float], horizon: int) -> float:
        """last + horizon × (last − first) / (W − 1)."""
        return values[-1] + horizon * (values[-1] - values[0]) / (len(values) - 1)


class MovingAverage(_Forecaster):
    """The mean of the last ``k`` values."""

    name = "moving-average"

    def __init__(self, k: Annotated[int, Help("values averaged", within=(1, 100_000))] = 5) -> None:
        if k < 1:
            raise ConfigError(f"k: must be at least 1, got {k}")
        self.k = k

    def forecast(self, values: list[float], horizon: int) -> float:
        """The mean of the last k values (all of them if the window is shorter)."""
        last = values[-self.k:]
        return sum(last) / len(last)


class SeasonalNaive(_Forecaster):
    """The value one season before the target: ``period`` steps back (whole seasons, for long horizons)."""

    name = "seasonal-naive"

    def __init__(
            self,
            period: Annotated[int, Help("steps per season (5: a trading week of daily data, 12: months)",
                                        within=(1, 100_000))] = 5,
    ) -> None:
        if period < 1:
            raise ConfigError(f"period: must be at least 1 step, got {period}")
        self.period = period

    def forecast(self, values: list[float], horizon: int) -> float:
        """values[W − 1 + H − period × ⌈H / period⌉]."""
        index = len(values) - 1 + horizon - self.period * math.ceil(horizon / self.period)
        if index < 0:
            raise FtplugError(f"seasonal-naive: a period of {self.period} reaches before the window's "
                              f"{len(values)} values; use a longer window or a shorter period")
        return values[index]


class Majority:
    """The training split's most frequent answer (ties: the first in alphabetical order), for any dataset."""

    local = True

    def train(self, context: TrainingContext) -> TrainedModel:
        """Count the training answers."""
        if not context.train:
            raise FtplugError("majority: the training split is empty")
        counts = Counter(example.expected for example in context.train)
        answer = min(counts, key=lambda label: (-counts[label], label))
        return TrainedModel(model="baseline:majority", predict=lambda example: answer,
                            details={"baseline": "majority", "answer": answer,
                                     "rate": counts[answer] / len(context.train), "fitted_on": len(context.train)})


class LinearAR:
    """Least-squares autoregression: the target relative to the last value, from the last ``order`` values
    relative to it, with an intercept (NumPy's ``lstsq``)."""

    local = True

    def __init__(self, order: Annotated[int, Help("lags: the intercept and order − 1 relative lags",
                                                  within=(1, 1000))] = 5) -> None:
        if order < 1:
            raise ConfigError(f"order: must be at least 1, got {order}")
        self.order = order

    def _features(self, values: Sequence[float]) -> list[float]:
        last = values[-1]
        lags = [values[-1 - j] if j < len(values) else values[0] for j in range(1, self.order)]
        return [1.0] + [v / last - 1.0 for v in lags]

    def train(self, context: TrainingContext) -> TrainedModel:
        """Fit the coefficients on the training windows (at least ``order`` of them)."""
        import numpy as np

        _windows_only("linear-ar", context.train)
        usable = [e for e in context.train if e.metadata["values"][-1] != 0]
        if len(usable) < self.order:
            raise FtplugError(f"linear-ar: {len(usable)} training windows cannot fit {self.order} coefficients")
        design = np.array([self._features(e.metadata["values"]) for e in usable])
        response = np.array([e.metadata["truth"] / e.metadata["values"][-1] - 1.0 for e in usable])
        coefficients, *_ = np.linalg.lstsq(design, response, rcond=None)

        def forecast(values: list[float], horizon: int) -> float:
            if values[-1] == 0:
                return values[-1]
            return values[-1] * (1.0 + float(np.dot(coefficients, self._features(values))))

        return TrainedModel(model="baseline:linear-ar", predict=lambda e: _answer(e, _forecast_answer(forecast)),
                            details={"baseline": "linear-ar", "order": self.order, "fitted_on": len(usable),
                                     "coefficients": [round(float(c), 8) for c in coefficients]})


@hookimpl
def ftplug_register_trainers(register: Any) -> None:
    """Contribute the naive baselines."""
    register("persistence", Persistence, description="baseline: the last value (change targets: the last change)")
    register("drift", Drift, description="baseline: the line from the window's first to last value, extended")
    register("moving-average", MovingAverage, description="baseline: the mean of the last k values")
    register("seasonal-naive", SeasonalNaive, description="baseline: the value one season before the target")
    register("majority", Majority, description="baseline: the training split's most frequent answer (any dataset)")
    register("linear-ar", LinearAR, description="baseline: least-squares autoregression on the last values")
