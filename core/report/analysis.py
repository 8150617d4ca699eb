"""The decision analysis of an experiment, computed from the result store alone: every metric with a
bootstrap CI, paired comparisons against the reference variant, costs, break-even volumes, confusion
matrices, loss curves and the verdict. :func:`analyse` returns a JSON-ready dict that every report format
renders."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ftplug.errors import InputError
from ftplug.report.baseline_margins import best_baseline, margins
from ftplug.report.comparisons import Results, rank, tied, worse_than_best
from ftplug.report.comparisons import pairs as comparison_pairs
from ftplug.report.matrix import COST, LATENCY, ReportStatistics
from ftplug.report.model import Analysis, BreakEven, Clusters, Comparison, Scenario, VariantResult
from ftplug.report.statistics import RESAMPLES
from ftplug.store import Store

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


def _break_even_rows(variants: list[VariantResult], primary: str, worse: set[str]) -> list[BreakEven]:
    """Break-even of every fine-tuned variant against every prompted one, under price scenarios; a row says
    whether the fine-tuned variant is significantly worse than the best on the primary metric."""
    rows: list[BreakEven] = []
    for tuned in variants:
        training, tuned_cost = tuned["training"], tuned["cost_per_prediction"]
        if not training or training.get("training_cost_usd") is None or tuned_cost is None:
            continue
        for prompted in variants:
            prompted_cost = prompted["cost_per_prediction"]
            if prompted["training"] or prompted["train_rows"] is not None or prompted_cost is None:
                # not a prompted variant that learnt from nothing
                continue
            scenarios: list[Scenario] = []
            for label, train_x, tuned_x, prompt_x in SCENARIOS:
                n = break_even(training["training_cost_usd"] * train_x, tuned_cost * tuned_x, prompted_cost * prompt_x)
                scenarios.append({"scenario": label, "predictions": n})
            tuned_metric = tuned["metrics"].get(primary)
            prompted_metric = prompted["metrics"].get(primary)
            rows.append({"fine_tuned": tuned["variant"], "prompted": prompted["variant"],
                         "training_cost_usd": training["training_cost_usd"],
                         "fine_tuned_per_prediction": tuned_cost, "prompted_per_prediction": prompted_cost,
                         "predictions": scenarios[0]["predictions"], "scenarios": scenarios,
                         "primary": primary, "fine_tuned_metric": tuned_metric["value"] if tuned_metric else None,
                         "prompted_metric": prompted_metric["value"] if prompted_metric else None,
                         "fine_tuned_worse_than_best": tuned["variant"] in worse,
                         "prompted_worse_than_best": prompted["variant"] in worse})
    return rows


def _against_primary(results: Results, names: list[str], ranking: list[str], variants: list[VariantResult],
                     best_naive: str | None, primary: str | None, higher: bool
                     ) -> tuple[Comparison | None, list[Comparison], dict[str, Any] | None, set[str]]:
    """The comparisons on the primary scorer: the head-to-head of the two best, every ranked variant against the
    best, the margins over the best naive baseline and the variants worse than the best (none without a primary
    scorer: nothing is then ranked)."""
    if primary is None:
        return None, [], None, set()
    head_to_head: Comparison | None = None
    if len(ranking) > 1 and (found := results.get(ranking[0], ranking[1], primary)) is not None:
        head_to_head = {"variant": ranking[0], "reference": ranking[1], "scorer": primary, **found}
    against_best: list[Comparison] = [{"variant": name, "reference": ranking[0], "scorer": primary, **found}
                    for name in ranking[1:] if (found := results.get(name, ranking[0], primary)) is not None]
    naive = None
    if best_naive is not None:
        tests = {name: found for name in names if (found := results.get(name, best_naive, primary)) is not None}
        naive = margins(variants, best_naive, primary, higher, tests)
    worse = worse_than_best(results, ranking[0], ranking, primary, higher) if ranking else set()
    return head_to_head, against_best, naive, worse


def analyse(store: Any, experiment: str | None = None, *, resamples: int = RESAMPLES,
            volume: int | None = None, reference: str | None = None, primary: str | None = None) -> Analysis:
    """Everything the report shows for the latest run of each variant of ``experiment``: the data come
    from SQL aggregations of the result store, the intervals and tests from :class:`ReportStatistics`, the
    choice of pairs and Holm's correction from :mod:`ftplug.report.comparisons`."""
    rows = store.variant_rows(experiment)
    if not rows:
        return {"experiment": experiment, "variants": []}
    settings: dict[str, Any] = next((r["details"].get("report") for r in rows if r["details"].get("report")), {}) or {}
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
    higher = meta.get(primary, {}).get("higher_is_better", True)
    succeeded = [r for r in rows if r["status"] == "succeeded"]
    values = {r["variant"]: stats.interval(r["run_id"], primary)["value"] for r in succeeded} if primary in meta else {}
    ranking = rank(values, higher)
    best_naive = best_baseline(rows, values, higher) if primary in meta else None
    wanted = comparison_pairs(names, reference, ranking, best_naive)
    tested = stats.compare_all([(by_name[a], by_name[b]) for a, b in wanted])
    variant_of = {run: name for name, run in by_name.items()}
    results = Results([(variant_of[a], variant_of[b], scorer, result) for a, b, scorer, result in tested])
    variants = [_variant(stats, row, meta) for row in rows]
    comparisons: list[Comparison] = [{"variant": name, "reference": reference, "scorer": scorer, **found}
                   for name in names if name != reference for scorer in meta
                   if (found := results.get(name, reference, scorer)) is not None]
    head_to_head, against_best, naive, worse = _against_primary(results, names, ranking, variants, best_naive,
                                                                 primary, higher)
    analysis: Analysis = {"experiment": rows[0]["experiment"], "simulated": any(v["simulated"] for v in variants),
                "primary": primary, "reference": reference, "volume": volume, "resamples": resamples,
                "scorers": meta, "variants": variants, "ranking": ranking, "tied": tied(values, ranking),
                "comparisons": comparisons, "head_to_head": head_to_head, "against_best": against_best,
                "worse_than_best": sorted(worse), "family": results.family(primary) if primary else 0,
                "test_sets": stats.test_sets, "clusters": _clusters(stats, settings),
                "break_even": _break_even_rows(variants, primary, worse) if primary else [],
                "baseline_margins": naive, "loss_curves": _loss_curves(store, variants)}
    from ftplug.report.sampling_spread import draw_spread, sampling_spread

    analysis["sampling_spread"] = sampling_spread(store, rows, meta, primary)
    analysis["draw_spread"] = draw_spread(rows, {v["variant"]: v["metrics"] for v in variants}, primary)
    from ftplug.report.verdict import verdict

    analysis["verdict"] = verdict(analysis, rows)
    return analysis


def _variant(stats: ReportStatistics, row: dict[str, Any], meta: dict[str, Any]) -> VariantResult:
    """One variant's line of the report: its metrics with intervals, costs, latencies, load and training."""
    run_id = row["run_id"]
    cost = stats.interval(run_id, COST)
    latency = stats.interval(run_id, LATENCY)
    return {
        "variant": row["variant"], "model": row["model"], "trainer": row["trainer"] or "none",
        "status": row["status"], "simulated": bool(row["simulated"]), "source": answer_source(row),
        "predictions": row["predictions"], "errors": row["errors"],
        "metrics": {name: stats.interval(run_id, name) for name in meta}, "confusion": stats.confusions(run_id),
        "cost_per_1k_usd": {key: (None if value is None else value * 1000)
                            for key, value in (("value", cost["value"]), ("low", cost["low"]), ("high", cost["high"]))},
        "cost_per_prediction": cost["value"],
        "latency_ms": {"value": latency["value"], "low": latency["low"], "high": latency["high"], "n": latency["n"],
                       "p95": row["p95_latency_ms"]},
        "server_latency_ms": {"value": row["mean_server_latency_ms"], "p95": row["p95_server_latency_ms"],
                              "n": row["server_latency_n"]},
        "in_flight": {"median": row["median_in_flight"], "max": row["max_in_flight"],
                      "limit": (row["details"].get("requests") or {}).get("concurrency")},
        "mean_prompt_tokens": row["mean_prompt_tokens"], "mean_completion_tokens": row["mean_completion_tokens"],
        "training": _training(row["details"]), "shots": (row["details"].get("prompt") or {}).get("packed_mean"),
        "baseline": row["details"].get("baseline"), "train_rows": row["details"].get("train_rows"),
        "price_per_hour": row["details"].get("price_per_hour"),
    }


def _clusters(stats: ReportStatistics, settings: dict[str, Any]) -> Clusters | None:
    """How the test examples were clustered, when they were."""
    if stats.codes is None:
        return None
    shared = stats.shared if stats.shared is not None else stats.asked.any(axis=0)  # the examples compared
    return {"key": settings.get("cluster") or "cluster", "count": len(np.unique(stats.codes[shared])),
            "examples": int(shared.sum())}


def answer_source(run: dict[str, Any]) -> str:
    """What answered a run: ``simulated`` (the offline simulator), ``local`` (a model in ftplug's process) or
    ``live`` (an API)."""
    if run["simulated"]:
        return "simulated"
    return "local" if run.get("endpoint") == "local" else "live"


def _loss_curves(store: Store, variants: list[VariantResult]) -> dict[str, list[dict[str, Any]]]:
    curves = {}
    for variant in variants:
        training = variant.get("training")
        if training:
            events = [e for e in store.job_events(training["job_id"]) if e.step is not None]
            curves[variant["variant"]] = [{"step": e.step, "train_loss": e.train_loss, "valid_loss": e.valid_loss}
                                          for e in events]
    return curves
