"""Many comparisons in one report: Holm's correction, and the smallest difference a comparison could detect."""

from __future__ import annotations

from collections.abc import Sequence

from ftplug.report.statistics import ALPHA

POWER = 0.8


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (in the given order): the k-th smallest p times the number of
    hypotheses not yet rejected, made non-decreasing, at most 1. Rejecting where the adjusted p < α keeps
    the chance of any false rejection among them at most α, whatever their dependence."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def detectable_difference(se: float | None, family: int = 1, *, alpha: float = ALPHA,
                          power: float = POWER) -> float | None:
    """The smallest true difference the test would find with probability ``power``, given the standard error
    ``se`` of the estimated difference, at the strictest level Holm may test it at (α / family):
    (z₁₋α/(2·family) + z_power) · se."""
    from statistics import NormalDist

    if se is None or se <= 0:
        return None
    normal = NormalDist()
    return (normal.inv_cdf(1 - alpha / (2 * max(1, family))) + normal.inv_cdf(power)) * se
