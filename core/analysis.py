"""The decision analysis of an experiment, computed from the result store alone: every metric with a
bootstrap CI, paired comparisons against the reference variant, costs, break-even volumes, confusion
matrices, loss curves and the verdict. :func:`analyse` returns a JSON-ready dict that every report format
renders."""

from __future__ import annotations

import math
from typing import Any

from ftplug.baseline_margins import best_baseline, margins
from ftplug.errors import InputError
from ftplug.report_statistics import COST, LATENCY, ReportStatistics
from ftplug.statistics import RESAMPLES

PARSE_FAILURE_CAVEAT = 0.05  # flag a variant whose outputs fail to parse this often
SMALL_SAMPLE = 100


def _scorer_meta(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What each scorer is (its aggregate, its direction), as stored with the runs (scorers of runs stored
    before this existed are added as plain means by :class:`ReportStatistics`)."""
    meta: dict[str, dict[str, Any]] = {}
    for row in rows:
        meta.update(row["details"].get("scorers", {}))
    return meta


def _training(details: dict[str, Any]) -> dict[str, Any] | None:
    if not details.get("job_id"):
        return None
    keys = ("job_id", "reused_job", "trained_tokens", "n_epochs", "training_cost_usd", "training_seconds",
            "final_train_loss", "final_valid_loss")
    return {key: details.get(key) for key in keys}


def break_even(training_cost: float, tuned_per_prediction: float, prompt_per_prediction: float) -> int | None:
    """Predictions after which training + fine-tuned inference costs less than prompting; ``None`` if never
    (the fine-tuned model is not cheaper per prediction)."""
    saving = prompt_per_prediction - tuned_per_prediction
    if saving <= 0:
        return None
    return max(0, math.ceil(training_cost / saving))


SCENARIOS = (("as measured", 1.0, 1.0, 1.0), ("training price ×2", 2.0, 1.0, 1.0),
             ("training price ×0.5", 0.5, 1.0, 1.0), ("all inference prices ×0.5", 1.0, 0.5, 0.5),
             ("fine-tuned inference ×1.5", 1.0, 1.5, 1.0))


def _break_even_rows(variants: list[dict[str, Any]], primary: str) -> list[dict[str, Any]]:
    rows = []
    for tuned in variants:
        training = tuned.get("training")
        if not training or training.get("training_cost_usd") is None or tuned["cost_per_prediction"] is None:
            continue
        for prompted in variants:
            if prompted.get("training") or prompted["trainer"] != "none" or prompted["cost_per_prediction"] is None:
                continue
            scenarios = []
            for label, train_x, tuned_x, prompt_x in SCENARIOS:
                n = break_even(training["training_cost_usd"] * train_x, tuned["cost_per_prediction"] * tuned_x,
                               prompted["cost_per_prediction"] * prompt_x)
                scenarios.append({"scenario": label, "predictions": n})
            tuned_metric = tuned["metrics"].get(primary, {})
            prompted_metric = prompted["metrics"].get(primary, {})
            rows.append({"fine_tuned": tuned["variant"], "prompted": prompted["variant"],
                         "training_cost_usd": training["training_cost_usd"],
                         "fine_tuned_per_prediction": tuned["cost_per_prediction"],
                         "prompted_per_prediction": prompted["cost_per_prediction"],
                         "predictions": scenarios[0]["predictions"], "scenarios": scenarios,
                         "primary": primary, "fine_tuned_metric": tuned_metric.get("value"),
                         "prompted_metric": prompted_metric.get("value")})
    return rows


def analyse(store: Any, experiment: str | None = None, *, resamples: int = RESAMPLES,
            volume: int | None = None, reference: str | None = None, primary: str | None = None) -> dict[str, Any]:
    """Everything the report shows for the latest run of each variant of ``experiment``: the data come
    from SQL aggregations of the result store, the intervals from bootstraps on those aggregates (see
    :class:`ftplug.report_statistics.ReportStatistics`)."""
    rows = store.variant_rows(experiment)
    if not rows:
        return {"experiment": experiment, "variants": []}
    settings = next((r["details"].get("report") for r in rows if r["details"].get("report")), {}) or {}
    stats = ReportStatistics(store, rows, _scorer_meta(rows), resamples)
    meta = stats.meta
    primary = primary or settings.get("primary") or next(iter(meta), None)
    names = [r["variant"] for r in rows]
    if reference is not None and reference not in names:
        raise InputError(f"--reference {reference!r} names no variant of experiment {rows[0]['experiment']!r} "
                         f"(its variants: {', '.join(names)})")
    reference = reference or settings.get("reference") or names[0]
    if reference not in names:
        reference = names[0]
    volume = volume if volume is not None else settings.get("volume") or 0
    by_name = {r["variant"]: r["run_id"] for r in rows}
    variant_of = {run: name for name, run in by_name.items()}
    pairs = [(by_name[name], by_name[reference]) for name in names if name != reference]
    head_pair = None
    if primary in meta and meta[primary].get("aggregate") != "macro_f1":
        # the two best by the point estimate (from the summary) are also compared head to head
        means = [(stats.mean(r["run_id"], primary), r["run_id"]) for r in rows if r["status"] == "succeeded"]
        ranked = sorted(((m, run) for m, run in means if m is not None),
                        reverse=meta[primary].get("higher_is_better", True))
        if len(ranked) > 1:
            head_pair = (ranked[0][1], ranked[1][1])
            if head_pair not in pairs:
                pairs.append(head_pair)
    best_naive = None
    if primary in meta:
        higher = meta[primary].get("higher_is_better", True)
        best_naive = best_baseline(rows, {r["run_id"]: stats.mean(r["run_id"], primary) for r in rows}, higher)
        if best_naive is not None and meta[primary].get("aggregate") != "macro_f1":
            pairs += [(r["run_id"], best_naive) for r in rows
                      if r["run_id"] != best_naive and (r["run_id"], best_naive) not in pairs]
    variants = []
    for row in rows:
        run_id = row["run_id"]
        metrics = {name: stats.interval(run_id, name) for name in meta}
        cost = stats.interval(run_id, COST)
        latency = stats.interval(run_id, LATENCY)
        variants.append({
            "variant": row["variant"], "model": row["model"], "trainer": row["trainer"] or "none",
            "status": row["status"], "simulated": bool(row["simulated"]), "source": answer_source(row),
            "predictions": row["predictions"],
            "errors": row["errors"], "metrics": metrics, "confusion": stats.confusions(run_id),
            "cost_per_1k_usd": {key: (cost[key] * 1000 if cost.get(key) is not None else None)
                                for key in ("value", "low", "high")},
            "cost_per_prediction": cost.get("value"),
            "latency_ms": {key: latency.get(key) for key in ("value", "low", "high", "n")}
            | {"p95": row["p95_latency_ms"]},
            "server_latency_ms": {"value": row["mean_server_latency_ms"], "p95": row["p95_server_latency_ms"],
                                  "n": row["server_latency_n"]},
            "in_flight": {"median": row["median_in_flight"], "max": row["max_in_flight"],
                          "limit": (row["details"].get("requests") or {}).get("concurrency")},
            "mean_prompt_tokens": row["mean_prompt_tokens"], "mean_completion_tokens": row["mean_completion_tokens"],
            "training": _training(row["details"]), "shots": (row["details"].get("prompt") or {}).get("packed_mean"),
            "baseline": row["details"].get("baseline"), "train_rows": row["details"].get("train_rows"),
            "price_per_hour": row["details"].get("price_per_hour"),
        })
    results = stats.compare_all(pairs)
    comparisons = [{"variant": variant_of[a], "reference": reference, "scorer": scorer, **result}
                   for a, b, scorer, result in results if b == by_name[reference] and a != b]
    head_to_head = next(({"variant": variant_of[a], "reference": variant_of[b], "scorer": scorer, **result}
                         for a, b, scorer, result in results if (a, b) == head_pair and scorer == primary), None)
    naive = None
    if best_naive is not None:
        tests = {variant_of[a]: result for a, b, scorer, result in results if b == best_naive and scorer == primary}
        naive = margins(variants, variant_of[best_naive], primary, meta[primary].get("higher_is_better", True), tests)
    analysis = {"experiment": rows[0]["experiment"], "simulated": any(v["simulated"] for v in variants),
                "primary": primary, "reference": reference, "volume": volume, "resamples": resamples,
                "scorers": meta, "variants": variants, "comparisons": comparisons, "head_to_head": head_to_head,
                "break_even": _break_even_rows(variants, primary) if primary else [], "baseline_margins": naive,
                "loss_curves": _loss_curves(store, variants)}
    from ftplug.verdict import verdict

    analysis["verdict"] = verdict(analysis, rows)
    return analysis


def answer_source(run: dict[str, Any]) -> str:
    """What answered a run: ``simulated`` (the offline simulator), ``local`` (a model in ftplug's process) or
    ``live`` (an API)."""
    if run["simulated"]:
        return "simulated"
    return "local" if run.get("endpoint") == "local" else "live"


def _loss_curves(store: Any, variants: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    curves = {}
    for variant in variants:
        training = variant.get("training")
        if training and hasattr(store, "job_events"):
            events = [e for e in store.job_events(training["job_id"]) if e.step is not None]
            curves[variant["variant"]] = [{"step": e.step, "train_loss": e.train_loss, "valid_loss": e.valid_loss}
                                          for e in events]
    return curves
