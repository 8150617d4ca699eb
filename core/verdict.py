"""The verdict: a few plain sentences a team can act on, with every caveat that applies."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ftplug.analysis import PARSE_FAILURE_CAVEAT, SMALL_SAMPLE
from ftplug.baseline_margins import flags
from ftplug.report import simulated_variants

NUMERIC_AGGREGATES = ("rmse",)


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"


def _usd(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def verdict(analysis: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"best": …, "cheapest": …, "break_even": [...], "caveats": [...], "lines": [...]}``."""
    variants = [v for v in analysis["variants"] if v["status"] == "succeeded"]
    primary = analysis["primary"]
    lines: list[str] = []
    caveats: list[str] = []
    best = None
    if primary and variants:
        scored = [v for v in variants if v["metrics"].get(primary, {}).get("value") is not None]
        if scored:
            higher = scored[0]["metrics"][primary]["higher_is_better"]
            ranked = sorted(scored, key=lambda v: v["metrics"][primary]["value"], reverse=higher)
            best = ranked[0]
            m = best["metrics"][primary]
            line = (f"Best on {primary}: {best['variant']} with {_fmt(m['value'])} "
                    f"(95% CI {_fmt(m['low'])}–{_fmt(m['high'])}, n = {m['n']})")
            if len(ranked) > 1:
                runner_up = ranked[1]
                overlap = runner_up["metrics"][primary]
                significance = _significance(analysis, best["variant"], runner_up["variant"], primary)
                line += (f"; runner-up {runner_up['variant']} {_fmt(overlap['value'])}"
                         f" — {significance}")
            lines.append(line + ".")
    if best is not None and best.get("baseline"):
        lines.append(f"The best variant is a naive baseline ({best['variant']}): no model variant beats it on "
                     f"{primary}.")
    lines += flags(analysis.get("baseline_margins"))
    volume = analysis.get("volume") or 0
    cheapest = None
    priced = [v for v in variants if v["cost_per_prediction"] is not None]
    priced = [v for v in priced if not v.get("baseline")] or priced  # a free local baseline is trivially cheapest
    if priced:
        if volume:
            def total(v: dict[str, Any]) -> float:
                training = (v.get("training") or {}).get("training_cost_usd") or 0.0
                return training + volume * v["cost_per_prediction"]

            cheapest = min(priced, key=total)
            lines.append(f"Cheapest at {volume:,} predictions: {cheapest['variant']}, {_usd(total(cheapest))} in "
                         f"all ({_usd((cheapest.get('training') or {}).get('training_cost_usd') or 0.0)} training "
                         f"+ {_usd(cheapest['cost_per_prediction'] * 1000)} per 1,000 predictions).")
        else:
            cheapest = min(priced, key=lambda v: v["cost_per_prediction"])
            lines.append(f"Cheapest per prediction: {cheapest['variant']} at "
                         f"{_usd(cheapest['cost_per_prediction'] * 1000)} per 1,000 (set [report] volume to "
                         "include training costs at your volume).")
    for row in analysis.get("break_even", []):
        n = row["predictions"]
        if n is None:
            lines.append(f"{row['fine_tuned']} vs {row['prompted']}: fine-tuning never pays back at these prices "
                         "(it is not cheaper per prediction).")
        else:
            lines.append(f"{row['fine_tuned']} vs {row['prompted']}: fine-tuning pays back after {n:,} predictions "
                         f"({_usd(row['training_cost_usd'])} training, saving "
                         f"{_usd((row['prompted_per_prediction'] - row['fine_tuned_per_prediction']) * 1000)} "
                         "per 1,000).")
    simulated, everything = simulated_variants(analysis)
    if everything:
        caveats.append("SIMULATED: these results come from the offline simulator and say nothing about a real "
                       "model's accuracy or cost.")
    elif simulated:
        caveats.append(f"SIMULATED: {', '.join(simulated)} come from the offline simulator and say nothing about a "
                       "real model's accuracy or cost; do not compare them with the real variants.")
    caveats += _caveats(analysis, variants, rows)
    return {"best": best["variant"] if best else None, "cheapest": cheapest["variant"] if cheapest else None,
            "lines": lines, "caveats": caveats}


def _significance(analysis: dict[str, Any], first: str, second: str, scorer: str) -> str:
    c = analysis.get("head_to_head")
    if c and c["scorer"] == scorer and {c["variant"], c["reference"]} == {first, second}:
        if c["significant"]:
            return (f"a real difference of {_fmt(c['difference'])} (95% CI {_fmt(c['low'])}–{_fmt(c['high'])}; "
                    f"{c['method']}, p = {c['p_value']:.3g})")
        return (f"not a significant difference ({_fmt(c['difference'])}, 95% CI {_fmt(c['low'])}–"
                f"{_fmt(c['high'])}; {c['method']}, p = {c['p_value']:.3g}): either would do on this evidence")
    return "compare their intervals (no paired test available for this metric)"


def _caveats(analysis: dict[str, Any], variants: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[str]:
    from ftplug.catalogue import default_catalogue

    caveats = []
    failed = [r["variant"] for r in rows if r["status"] != "succeeded"]
    if failed:
        caveats.append(f"Not compared: {', '.join(failed)} did not finish.")
    for v in variants:
        errors = v["errors"]
        if errors:
            caveats.append(f"{v['variant']}: {errors} of {v['predictions']} requests failed; its metrics cover the "
                           "rest.")
        for name, m in v["metrics"].items():
            if m["errors"]:
                caveats.append(f"{v['variant']}: scorer {name} failed on {m['errors']} outputs (stored per output).")
            predictions = max(1, v["predictions"])
            if name == "unparsed" and m["value"] is not None and m["value"] > PARSE_FAILURE_CAVEAT:
                caveats.append(f"{v['variant']}: {m['value']:.0%} of outputs held no number.")
            elif m.get("missing") and m["missing"] / predictions > PARSE_FAILURE_CAVEAT:
                caveats.append(f"{v['variant']}: {name} could not be computed for {m['missing']} of "
                               f"{v['predictions']} outputs (unparseable), which its value leaves out.")
    unpriced = [v["variant"] for v in variants if v.get("source") == "local" and v.get("price_per_hour") == 0]
    if unpriced:
        caveats.append(f"{', '.join(unpriced)} ran on this machine at no price, so their costs show as $0: set "
                       "[model] local price_per_hour (and local-lora's price_per_hour) to what an hour of the "
                       "machine costs to compare costs and break-even.")
    load = load_caveat(variants)
    if load:
        caveats.append(load)
    sizes = [v["metrics"].get(analysis["primary"], {}).get("n") or 0 for v in variants]
    if sizes and 0 < min(sizes) < SMALL_SAMPLE:
        caveats.append(f"Only {min(sizes)} scored test examples per variant: the intervals are wide; a larger "
                       "test split narrows them.")
    significant = [c for c in analysis["comparisons"] if c["scorer"] == analysis["primary"] and c["significant"]]
    if analysis["comparisons"] and not significant:
        caveats.append(f"No variant differs significantly from the reference {analysis['reference']!r} on "
                       f"{analysis['primary']}.")
    tuned = [v for v in variants if v.get("training")]
    if tuned:
        today = dt.date.today()
        seen = set()
        for v in tuned:
            info = default_catalogue().find(v["model"])
            if info is None or info.id in seen:
                continue
            seen.add(info.id)
            if info.fine_tuning_closes:
                verb = "stopped" if today >= info.fine_tuning_closes else "stops"
                caveats.append(f"OpenAI's self-serve fine-tuning {verb} accepting new jobs on "
                               f"{info.fine_tuning_closes}; retraining {v['variant']} there may not be possible.")
            if info.fine_tuning_shutdown:
                caveats.append(f"Models fine-tuned from {info.id} answer until {info.fine_tuning_shutdown}: "
                               "count only the volume before that date when weighing break-even.")
    return caveats


LOAD_RATIO = 2.0  # variants whose median requests in flight differ by this factor ran at different loads


def load_caveat(variants: list[dict[str, Any]]) -> str | None:
    """A warning when the variants answered by a server ran at different loads (requests in flight at once), so
    that their latencies, which include any wait in the server's queue, are not read as the models' speed."""
    loads = {v["variant"]: v["in_flight"]["median"] for v in variants
             if v.get("source") != "local" and (v.get("in_flight") or {}).get("median")}
    if len(loads) < 2 or max(loads.values()) < LOAD_RATIO * min(loads.values()):
        return None
    listed = ", ".join(f"{name} {load:,.0f}" for name, load in sorted(loads.items(), key=lambda item: -item[1]))
    timed = [v["variant"] for v in variants if v["variant"] in loads and (v.get("server_latency_ms") or {}).get("n")]
    advice = ("compare the server's own times (server ms), which leave the queue out" if len(timed) == len(loads)
              else "their latencies measure the load as much as the models; run them at one concurrency to compare")
    return (f"Latency was measured at different loads (median requests in flight: {listed}), and it includes any "
            f"wait in the server's queue: {advice}.")
