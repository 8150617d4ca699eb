"""How much a variant's score moves when nothing but chance changes: repeated sampling and shot draws.

**Between-sample spread.** With ``[scoring] samples = k`` (k ≥ 2, temperature > 0) every prompt is answered k
times and each per-output scorer scores every answer (``scores.sample_values``). Answer j of every example
makes one rerun of the variant at that temperature, so the metric on answer j, for j = 1 … k, gives k scores of
the same variant on the same examples: their standard deviation and range are how far a rerun moves the score.
The per-example disagreement is the share of examples whose k answers do not all score the same.

**Shot-draw spread.** A variant with ``draws = D`` runs D times with its few-shot examples selected by D
seeds (``NAME-draw=1`` … ``NAME-draw=D``); the primary metric over the draws is how much the choice of
examples, rather than their number or kind, moves the score.

:func:`sampling_spread` and :func:`draw_spread` compute both from the result store; :func:`render_spread`
turns them into report lines.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from ftplug.report.numbers import number
from ftplug.report.tables import text_table

SPREAD_AGGREGATES = ("mean", "rmse")  # the aggregates whose metric is a function of the per-answer values alone


def _spread(values: Sequence[float]) -> dict[str, float | None]:
    """Mean, sample standard deviation (none for a single value), min and max of ``values``."""
    if not values:
        return {"mean": None, "sd": None, "min": None, "max": None}
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else None,
            "min": min(values), "max": max(values)}


def sampling_spread(store: Any, rows: Sequence[Mapping[str, Any]], scorers_meta: Mapping[str, Mapping[str, Any]],
                    primary: str | None) -> dict[str, Any] | None:
    """The between-sample spread of each variant whose run answered every prompt several times.

    :param store: the result store (its ``sample_score_means`` and ``sample_disagreements`` queries).
    :param rows: the latest run of each variant, as ``store.variant_rows(experiment)`` gives them.
    :param scorers_meta: each scorer's ``aggregate`` and ``needs_samples`` (as stored in ``runs.details``);
        scorers aggregated by a mean (or the root of one, ``rmse``) are measured, sample scorers such as
        ``consistency`` are not (they already look at every sample).
    :param primary: the report's primary metric, listed first.
    :returns: ``{"primary", "simulated", "variants": [{"variant", "run_id", "simulated", "temperature", "k",
        "scorers": {scorer: {"aggregate", "k", "per_sample", "mean", "sd", "min", "max", "examples",
        "disagreeing", "disagreement"}}}]}``, or ``None`` when no run has per-sample scores.
    """
    runs = [row for row in rows if (row["details"].get("samples") or 1) > 1]
    if not runs:
        return None
    run_ids = [row["run_id"] for row in runs]
    means: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for run_id, scorer, sample, mean, count in store.sample_score_means(run_ids):
        if mean is not None and count:
            means.setdefault((run_id, scorer), []).append((sample, float(mean)))
    agreement = {(run_id, scorer): (int(examples), int(disagreeing), int(k))
                 for run_id, scorer, examples, disagreeing, k in store.sample_disagreements(run_ids)}
    declared = list(scorers_meta)
    order = sorted({scorer for _, scorer in agreement}, key=lambda name: (
        name != primary, declared.index(name) if name in declared else len(declared), name))
    variants = []
    for row in runs:
        scorers: dict[str, Any] = {}
        for scorer in order:
            meta = scorers_meta.get(scorer, {})
            aggregate = meta.get("aggregate", "mean")
            if (aggregate not in SPREAD_AGGREGATES or meta.get("needs_samples")
                    or (row["run_id"], scorer) not in agreement):
                continue
            examples, disagreeing, _ = agreement[(row["run_id"], scorer)]
            per_sample = [math.sqrt(mean) if aggregate == "rmse" else mean
                          for _, mean in sorted(means.get((row["run_id"], scorer), []))]
            scorers[scorer] = {"aggregate": aggregate, "k": len(per_sample), "per_sample": per_sample,
                               **_spread(per_sample), "examples": examples, "disagreeing": disagreeing,
                               "disagreement": disagreeing / examples if examples else None}
        if scorers:
            variants.append({"variant": row["variant"], "run_id": row["run_id"], "simulated": bool(row["simulated"]),
                             "temperature": row["details"].get("temperature"),
                             "k": max(entry["k"] for entry in scorers.values()), "scorers": scorers})
    if not variants:
        return None
    return {"primary": primary, "simulated": any(v["simulated"] for v in variants), "variants": variants}


def draw_spread(rows: Sequence[Mapping[str, Any]], metrics_by_variant: Mapping[str, Mapping[str, Any]],
                primary: str | None) -> list[dict[str, Any]]:
    """The primary metric over the shot draws of each variant run with ``draws = D``.

    :param rows: the latest run of each variant (``store.variant_rows``); a draw's run holds
        ``details["draw"] = {"group", "number", "of", "seed"}``.
    :param metrics_by_variant: each variant's metrics by scorer: ``{variant: {scorer: {"value": …}}}`` (the
        analysis's ``variant["metrics"]``) or ``{variant: {scorer: value}}``.
    :param primary: the metric compared across draws.
    :returns: one entry per base variant, in the order of its first draw: ``{"variant", "primary", "draws",
        "values": [{"draw", "variant", "seed", "value"}], "mean", "sd", "min", "max", "simulated"}``; the
        statistics are over the draws that have a value. Empty when no variant has draws.
    """
    if primary is None:
        return []
    groups: dict[str, list[tuple[Mapping[str, Any], Mapping[str, Any]]]] = {}
    for row in rows:
        draw = row["details"].get("draw")
        if isinstance(draw, Mapping) and draw.get("group") is not None:
            groups.setdefault(str(draw["group"]), []).append((draw, row))
    spreads = []
    for group, members in groups.items():
        values = []
        for draw, row in sorted(members, key=lambda member: member[0].get("number", 0)):
            metric = metrics_by_variant.get(row["variant"], {}).get(primary)
            value = metric.get("value") if isinstance(metric, Mapping) else metric
            values.append({"draw": draw.get("number"), "variant": row["variant"], "seed": draw.get("seed"),
                           "value": float(value) if value is not None else None})
        present = [entry["value"] for entry in values if entry["value"] is not None]
        spreads.append({"variant": group, "primary": primary, "draws": len(values), "values": values,
                        **_spread(present), "simulated": any(bool(row["simulated"]) for _, row in members)})
    return spreads


def _range(entry: Mapping[str, Any]) -> str:
    return "—" if entry.get("min") is None else f"{entry['min']:.3f}–{entry['max']:.3f}"


def _simulated_label(flags: Sequence[bool]) -> str:
    if flags and all(flags):
        return " [SIMULATED]"
    return " [partly SIMULATED]" if any(flags) else ""


def render_spread(section: Mapping[str, Any] | None, draws: Sequence[Mapping[str, Any]]) -> list[str]:
    """Report lines for :func:`sampling_spread`'s ``section`` (may be ``None``) and :func:`draw_spread`'s
    ``draws``: a table each, labelled SIMULATED where the runs were (a simulated variant in a partly simulated
    table is marked ``(simulated)``). No lines when there is neither."""
    lines: list[str] = []
    if section and section.get("variants"):
        variants = section["variants"]
        flags = [bool(v["simulated"]) for v in variants]
        temperatures = sorted({v["temperature"] for v in variants if v.get("temperature") is not None})
        at = f" at temperature {', '.join(str(float(t)) for t in temperatures)}" if temperatures else ""
        ks = sorted({v["k"] for v in variants})
        lines.append(f"Repeated sampling: {', '.join(map(str, ks))} answers per prompt{at}; each answer scored "
                     f"as one rerun{_simulated_label(flags)}")
        body = []
        for variant in variants:
            name = variant["variant"] + (" (simulated)" if variant["simulated"] and not all(flags) else "")
            for scorer, entry in variant["scorers"].items():
                share = entry.get("disagreement")
                body.append([name, scorer, str(entry["k"]), number(entry["mean"]), number(entry["sd"]),
                             _range(entry), "—" if share is None else f"{share:.1%} of {entry['examples']}"])
        lines += text_table(["variant", "scorer", "k", "mean over samples", "sd", "min–max", "disagreement"], body)
        lines.append("sd and min–max: of the metric on each answer j = 1…k, i.e. how far a rerun at this temperature "
                     "moves the score; disagreement: examples whose k answers do not all score the same.")
    if draws:
        if lines:
            lines.append("")
        flags = [bool(d["simulated"]) for d in draws]
        primary = draws[0]["primary"]
        lines.append(f"Shot draws: {primary} over different few-shot selections (one seed each)"
                     f"{_simulated_label(flags)}")
        body = [[d["variant"] + (" (simulated)" if d["simulated"] and not all(flags) else ""), str(d["draws"]),
                 number(d["mean"]), number(d["sd"]), _range(d),
                 ", ".join(number(v["value"]) for v in d["values"])] for d in draws]
        lines += text_table(["variant", "draws", f"mean {primary}", "sd", "min–max", "per draw"], body)
    return lines
