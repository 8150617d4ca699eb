"""The verdict: a few plain sentences a team can act on, with every caveat that applies."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from typing import Any

from ftplug.catalogue.costs import usd
from ftplug.report.analysis import PARSE_FAILURE_CAVEAT, SMALL_SAMPLE
from ftplug.report.baseline_margins import flags
from ftplug.report.model import Verdict
from ftplug.report.numbers import number
from ftplug.report.p_values import p_text
from ftplug.report.text import simulated_variants

_fmt = functools.partial(number, missing="n/a")


def _usd(value: float | None) -> str:
    return usd(value, missing="n/a")


def verdict(analysis: Mapping[str, Any], rows: list[dict[str, Any]]) -> Verdict:
    """``{"best": …, "cheapest": …, "lines": [...], "caveats": [...]}``: the best and the runner-up from the
    analysis's one ranking, with the paired test of that same pair; "best" only when there is something to
    compare; the cheapest and break-even only among the variants not significantly worse than the best."""
    variants = [v for v in analysis["variants"] if v["status"] == "succeeded"]
    by_name = {v["variant"]: v for v in variants}
    primary = analysis["primary"]
    ranking = analysis.get("ranking") or []
    lines: list[str] = []
    caveats: list[str] = []
    best = by_name[ranking[0]] if len(ranking) > 1 else None
    if len(ranking) == 1:
        only = by_name[ranking[0]]
        m = only["metrics"][primary]
        lines.append(f"Only one variant was scored on {primary}: {only['variant']} with {_fmt(m['value'])} "
                     f"({_ci(m)}, n = {m['n']}); there is nothing to compare it with.")
    elif best is not None:
        lines.append(_best_line(analysis, by_name, primary))
    if best is not None and best.get("baseline"):
        lines.append(f"The best variant is a naive baseline ({best['variant']}): no model variant beats it on "
                     f"{primary}.")
    lines += flags(analysis.get("baseline_margins"))
    worse = set(analysis.get("worse_than_best") or [])
    cheapest = _cheapest(analysis, variants, worse, lines)
    for row in analysis.get("break_even", []):
        lines.append(_break_even_line(row, ranking[0] if ranking else None))
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


def _ci(m: dict[str, Any]) -> str:
    if m.get("low") is None:
        return "no interval"
    return f"95% CI {_fmt(m['low'])}–{_fmt(m['high'])}"


def _best_line(analysis: Mapping[str, Any], by_name: dict[str, dict[str, Any]], primary: str) -> str:
    """The best and the runner-up (or the tie), with the paired test of exactly that pair."""
    ranking, tied = analysis["ranking"], analysis.get("tied") or []
    best, runner_up = by_name[ranking[0]], by_name[ranking[1]]
    m, r = best["metrics"][primary], runner_up["metrics"][primary]
    if len(tied) > 1:
        line = (f"Tied on {primary}: {', '.join(tied)} all score {_fmt(m['value'])}; ranked by name, "
                f"{best['variant']} ({_ci(m)}, n = {m['n']}) and {runner_up['variant']} ({_ci(r)}, n = {r['n']})")
    else:
        line = (f"Best on {primary}: {best['variant']} with {_fmt(m['value'])} ({_ci(m)}, n = {m['n']}); "
                f"runner-up {runner_up['variant']} {_fmt(r['value'])} ({_ci(r)}, n = {r['n']})")
    return line + " — " + _significance(analysis.get("head_to_head"), m["n"], r["n"]) + "."


def _significance(c: dict[str, Any] | None, n_first: int, n_second: int) -> str:
    """What the paired test of the best against the runner-up allows one to say."""
    if c is None:
        return "no paired test was possible (no examples both scored)"
    subset = "" if c["n"] == n_first == n_second else f" on the {c['n']:,} examples both scored"
    evidence = f"{_fmt(c['difference'])}{subset}, {_ci(c)}; {c['method']}, {p_text(c)}"
    if c["significant"]:
        return f"a real difference of {evidence}"
    detectable = c.get("detectable")
    smallest = f"; the smallest difference this test split could detect is ≈ {_fmt(detectable)}" if detectable else ""
    if c.get("significant_unadjusted"):
        return (f"not distinguishable after Holm's correction ({evidence}: significant alone, not among "
                f"{c['family']} comparisons{smallest})")
    return f"not distinguishable at this n ({evidence}{smallest})"


def _cheapest(analysis: Mapping[str, Any], variants: Sequence[Mapping[str, Any]], worse: set[str],
              lines: list[str]) -> Mapping[str, Any] | None:
    """The cheapest variant among those not significantly worse than the best, with its line."""
    volume = analysis.get("volume") or 0
    priced = [v for v in variants if v["cost_per_prediction"] is not None]
    priced = [v for v in priced if not v.get("baseline")] or priced  # a free local baseline is trivially cheapest
    eligible = [v for v in priced if v["variant"] not in worse]
    if not eligible:
        return None
    ranking = analysis.get("ranking") or []
    among = (f" among the variants not significantly worse than {ranking[0]} on {analysis['primary']}"
             if ranking and len(eligible) < len(priced) else "")
    left_out = sorted(v["variant"] for v in priced if v["variant"] in worse)
    excluded = f" ({', '.join(left_out)} left out: significantly worse)" if left_out else ""

    def total(v: Mapping[str, Any]) -> float:
        training = (v.get("training") or {}).get("training_cost_usd") or 0.0
        return training + volume * v["cost_per_prediction"]

    if volume:
        cheapest = min(eligible, key=lambda v: (total(v), v["variant"]))
        lines.append(f"Cheapest at {volume:,} predictions{among}: {cheapest['variant']}, {_usd(total(cheapest))} in "
                     f"all ({_usd((cheapest.get('training') or {}).get('training_cost_usd') or 0.0)} training "
                     f"+ {_usd(cheapest['cost_per_prediction'] * 1000)} per 1,000 predictions){excluded}.")
    else:
        cheapest = min(eligible, key=lambda v: (v["cost_per_prediction"], v["variant"]))
        lines.append(f"Cheapest per prediction{among}: {cheapest['variant']} at "
                     f"{_usd(cheapest['cost_per_prediction'] * 1000)} per 1,000{excluded} (set [report] volume to "
                     "include training costs at your volume).")
    return cheapest


def _break_even_line(row: dict[str, Any], best: str | None) -> str:
    """When fine-tuning pays back against a prompted variant, with both variants' quality beside it."""
    quality = (f" ({row['primary']}: {_fmt(row['fine_tuned_metric'])} vs {_fmt(row['prompted_metric'])})"
               if row.get("fine_tuned_metric") is not None else "")
    pair = f"{row['fine_tuned']} vs {row['prompted']}"
    if row.get("fine_tuned_worse_than_best"):
        return (f"{pair}: no break-even claim — {row['fine_tuned']} is significantly worse than {best} on "
                f"{row['primary']}{quality}, so its price is no reason to choose it.")
    n = row["predictions"]
    if n is None:
        return f"{pair}: fine-tuning never pays back at these prices (it is not cheaper per prediction){quality}."
    return (f"{pair}: fine-tuning pays back after {n:,} predictions ({_usd(row['training_cost_usd'])} training, "
            f"saving {_usd((row['prompted_per_prediction'] - row['fine_tuned_per_prediction']) * 1000)} per "
            f"1,000){quality}.")


def _caveats(analysis: Mapping[str, Any], variants: Sequence[Mapping[str, Any]],
             rows: list[dict[str, Any]]) -> list[str]:
    from ftplug.catalogue.models import default_catalogue

    caveats = []
    failed = [r["variant"] for r in rows if r["status"] != "succeeded"]
    if failed:
        caveats.append(f"Not compared: {', '.join(failed)} did not finish.")
    for v in variants:
        errors = v["errors"]
        if errors:
            strict = (v["metrics"].get(analysis["primary"]) or {}).get("with_failures")
            counted = (f" ({analysis['primary']} with failures counted as wrong: {_fmt(strict['value'])}, "
                       f"{_ci(strict)}, n = {strict['n']})" if strict and strict.get("value") is not None else "")
            caveats.append(f"{v['variant']}: {errors} of {v['predictions']} requests failed; its metrics cover the "
                           f"rest{counted}.")
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
    on_primary = [c for c in analysis["comparisons"] if c["scorer"] == analysis["primary"]]
    if on_primary and not any(c["significant"] for c in on_primary):
        caveats.append(f"No variant differs significantly from the reference {analysis['reference']!r} on "
                       f"{analysis['primary']} (after Holm's correction over {analysis.get('family') or 1} "
                       "comparisons).")
    if (analysis.get("family") or 0) > 1:
        caveats.append(f"Significance is judged after Holm's correction over the {analysis['family']} comparisons "
                       f"on {analysis['primary']}; the 95% intervals are each comparison's own.")
    test_sets = analysis.get("test_sets")
    if test_sets:
        asked = ", ".join(f"{name} {count:,}" for name, count in sorted(test_sets["asked"].items()))
        caveats.append(f"The latest runs were not asked the same test examples ({asked}): every score, interval "
                       f"and test is computed on the {test_sets['shared']:,} examples all of them were asked; costs "
                       "and latencies are each run's own.")
    clusters = analysis.get("clusters")
    if clusters:
        caveats.append(f"The {clusters['examples']:,} test examples fall into {clusters['count']:,} clusters (by "
                       f"{clusters['key']}): intervals and tests of the scores are cluster-robust, so examples of one "
                       "cluster are not counted as independent evidence.")
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


def load_caveat(variants: Sequence[Mapping[str, Any]]) -> str | None:
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
