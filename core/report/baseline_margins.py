"""Every variant's margin over the best naive baseline on the primary metric.

A variant is a baseline when its trainer says so (``details["baseline"]``, as the built-in baselines of
:mod:`ftplug.plugins.trainers.baselines` do). The best baseline is the one with the best point estimate; each other
variant is compared with it on the same examples (paired), and a model variant that is not significantly
better is flagged: an LLM that does not beat persistence or the majority answer has not learnt the task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ftplug.report.numbers import number
from ftplug.report.p_values import p_text


def best_baseline(rows: list[dict[str, Any]], values: dict[str, float | None], higher_is_better: bool) -> str | None:
    """The succeeded baseline variant with the best value (``values`` by variant name; ties by name), if any."""
    from ftplug.report.comparisons import rank

    baselines = {r["variant"]: values.get(r["variant"]) for r in rows
                 if r["details"].get("baseline") and r["status"] == "succeeded"}
    ranking = rank(baselines, higher_is_better)
    return ranking[0] if ranking else None


def margins(variants: Sequence[Mapping[str, Any]], best: str, primary: str, higher_is_better: bool,
            tests: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The margins table: for every variant but the best baseline, its value, the baseline's, the margin
    (positive = better than the baseline, whichever way the metric points), for error metrics the ratio to the
    baseline's (below 1 = better), the paired test (``tests`` by variant name, difference variant − baseline)
    with its interval turned the margin's way (``margin_low``, ``margin_high``), and whether it beats the
    baseline (``"yes"``: significantly better after Holm's correction; ``"not significantly"``; ``"no"``: not
    better at all)."""
    by_name = {v["variant"]: v for v in variants}
    reference = by_name[best]["metrics"].get(primary, {}).get("value")
    sign = 1.0 if higher_is_better else -1.0
    rows = []
    for variant in variants:
        if variant["variant"] == best:
            continue
        value = variant["metrics"].get(primary, {}).get("value")
        margin = None if value is None or reference is None else sign * (value - reference)
        ratio = None if higher_is_better or value is None or not reference else value / reference
        test = tests.get(variant["variant"])
        ends = None
        if test is not None and test.get("low") is not None:
            ends = sorted((sign * test["low"], sign * test["high"]))
        if margin is None or margin <= 0:
            beats = "no"
        elif test is None or test.get("significant"):
            beats = "yes" if test is not None else "not tested"
        else:
            beats = "not significantly"
        rows.append({"variant": variant["variant"], "is_baseline": bool(variant.get("baseline")), "value": value,
                     "margin": margin, "margin_low": ends[0] if ends else None,
                     "margin_high": ends[1] if ends else None, "ratio": ratio, "test": test, "beats": beats})
    return {"baseline": best, "metric": primary, "baseline_value": reference, "higher_is_better": higher_is_better,
            "rows": rows}


def flags(table: dict[str, Any] | None) -> list[str]:
    """One line per model variant (not a baseline) that does not beat the best baseline."""
    if not table:
        return []
    lines = []
    for row in table["rows"]:
        if row["is_baseline"] or row["beats"] in ("yes", "not tested"):
            continue
        test = row["test"]
        evidence = (f" (margin {row['margin']:+.3f}, 95% CI {row['margin_low']:+.3f} to {row['margin_high']:+.3f}, "
                    f"{p_text(test)})" if test and row["margin_low"] is not None and row["margin"] is not None
                    else "")
        how = "does not beat" if row["beats"] == "no" else "is not significantly better than"
        lines.append(f"{row['variant']} {how} the naive baseline {table['baseline']} on {table['metric']}: "
                     f"{number(row['value'])} vs {number(table['baseline_value'])}{evidence}.")
    return lines


