"""Built-in numeric scorers: ``mae``, ``rmse``, ``smape``, ``mase``, ``directional`` and ``unparsed``.

The number an output gives is the first decimal number in it (``"about 1.25 %"`` → 1.25; thousands
separators are dropped). An output with no number scores ``None`` on the error metrics and 1.0 on
``unparsed``, so a model that hedges instead of answering is visible rather than silently averaged out.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from ftplug import hookimpl
from ftplug.components import Help, Score
from ftplug.dataset import Example

_NUMBER = re.compile(r"[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+−]?\.\d+")


def parse_number(text: str) -> float | None:
    """The first number in ``text``, or ``None``."""
    found = _NUMBER.search(text)
    if not found:
        return None
    try:
        return float(found.group(0).replace(",", "").replace("−", "-"))
    except ValueError:
        return None


def _expected_number(example: Example) -> float:
    value = parse_number(example.expected)
    if value is None:
        raise ValueError(f"expected value {example.expected!r} is not a number")
    return value


class AbsoluteError:
    """|prediction − expected| (the run's metric: the mean absolute error)."""

    aggregate = "mean"
    higher_is_better = False

    def score(self, output: str, example: Example) -> float | None:
        """``None`` when the output holds no number."""
        predicted = parse_number(output)
        return None if predicted is None else abs(predicted - _expected_number(example))


class SquaredError(AbsoluteError):
    """(prediction − expected)² per prediction; the run's metric is the root of their mean (RMSE)."""

    aggregate = "rmse"

    def score(self, output: str, example: Example) -> float | None:
        """``None`` when the output holds no number."""
        predicted = parse_number(output)
        return None if predicted is None else (predicted - _expected_number(example)) ** 2


class SymmetricPercentageError(AbsoluteError):
    """2·|p − a| / (|p| + |a|) per prediction (0 when both are 0); the run's metric is sMAPE (0–2)."""

    def score(self, output: str, example: Example) -> float | None:
        """``None`` when the output holds no number."""
        predicted = parse_number(output)
        if predicted is None:
            return None
        actual = _expected_number(example)
        denominator = abs(predicted) + abs(actual)
        return 0.0 if denominator == 0 else 2 * abs(predicted - actual) / denominator


class Directional:
    """1.0 when the prediction moves the same way from the reference as the truth does.

    The reference is the last number of the input (the latest value of a series) unless the example's
    metadata holds ``reference_key``. A flat truth or prediction counts as its own direction.
    """

    aggregate = "mean"
    higher_is_better = True

    def __init__(self, reference_key: Annotated[str, Help("example metadata key holding the reference "
                                                          "value")] = "") -> None:
        self.reference_key = reference_key

    def _reference(self, example: Example) -> float:
        if self.reference_key:
            value = example.metadata.get(self.reference_key)
            if not isinstance(value, int | float):
                raise ValueError(f"example has no numeric metadata {self.reference_key!r}")
            return float(value)
        numbers = _NUMBER.findall(example.input_text)
        if not numbers:
            raise ValueError("the input holds no number to measure a direction from")
        return float(numbers[-1].replace(",", "").replace("−", "-"))

    def score(self, output: str, example: Example) -> float | None:
        """``None`` when the output holds no number."""
        predicted = parse_number(output)
        if predicted is None:
            return None
        reference = self._reference(example)
        return float(math.copysign(1, predicted - reference) * (predicted != reference)
                     == math.copysign(1, _expected_number(example) - reference)
                     * (_expected_number(example) != reference))


class ScaledError(AbsoluteError):
    """|prediction − expected| divided by the in-sample scale of the MASE (Hyndman & Koehler, 2006): the mean
    absolute error of the one-step naive forecast over the training part of the example's series (its
    observations up to the end of the latest training window, see :class:`ftplug.dataset.series.NaiveScale`). The
    run's metric, the mean, is the MASE: below 1, the forecasts' errors are smaller than the one-step moves
    the series made in training.

    For time-series windows of the ``timeseries`` loader split chronologically, whose target is a ``value``
    or a ``pct_change`` (then the series scaled is the target's own H-step % changes).
    """

    def score(self, output: str, example: Example) -> float | None:
        """``None`` when the output holds no number; an error for examples that are not numeric windows."""
        from ftplug.dataset.series import is_window, target_of

        if not is_window(example.metadata):
            raise ValueError("mase needs time-series windows (the timeseries loader)")
        target = target_of(example.metadata)
        if target.kind == "direction":
            raise ValueError("mase needs a numeric target (value or pct_change), not direction")
        history, until = example.metadata.get("naive_scale"), example.metadata.get("train_end")
        if history is None or until is None:
            raise ValueError("mase needs the training part of the series: windows of the timeseries loader, "
                             "split chronologically")
        predicted = parse_number(output)
        if predicted is None:
            return None
        scale = history.until(until)
        if scale is None:
            raise ValueError(f"series {example.metadata.get('series')!r} has no observations in training, so its "
                             "MASE is undefined")
        if not scale or not math.isfinite(scale):
            raise ValueError(f"series {example.metadata.get('series')!r} is constant in training: its naive error "
                             "is 0, so MASE is undefined")
        return abs(predicted - _expected_number(example)) / scale


class Unparsed:
    """1.0 when the output holds no number (the run's metric: the rate of unparseable outputs)."""

    aggregate = "mean"
    higher_is_better = False

    def score(self, output: str, example: Example) -> Score:
        """1.0 for an output with no number."""
        return Score(float(parse_number(output) is None))


@hookimpl
def ftplug_register_scorers(register: Any) -> None:
    """Contribute the numeric scorers."""
    register("mae", AbsoluteError, description="mean absolute error of the number in the output")
    register("rmse", SquaredError, description="root mean squared error of the number in the output")
    register("smape", SymmetricPercentageError, description="symmetric mean absolute percentage error (0–2)")
    register("directional", Directional, description="share of predictions moving the right way from the "
                                                     "reference (default: the input's last number)")
    register("mase", ScaledError, description="mean absolute scaled error: MAE over the mean one-step naive error "
                                              "of the series in training (time series; Hyndman & Koehler)")
    register("unparsed", Unparsed, description="rate of outputs holding no number")



