"""The decision report of an experiment, rendered from :func:`ftplug.report.analysis.analyse` as text, JSON or CSV
(HTML: :mod:`ftplug.report.html`)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from typing import Any

from ftplug.catalogue.costs import usd
from ftplug.config.durations import duration
from ftplug.report.numbers import number
from ftplug.report.p_values import p_adjusted_number, p_number
from ftplug.report.tables import text_table

SIMULATED_NOTICE = ("SIMULATED: these answers come from ftplug's offline simulator, not from a real model; "
                    "they show the pipeline working, not how any model performs.")
SOURCES = {"simulated": "the offline simulator", "local": "a model in this process", "live": "an API"}
SOURCES_LEGEND = "answered by: " + ", ".join(f"{name} = {meaning}" for name, meaning in SOURCES.items())


def simulated_variants(analysis: Mapping[str, Any]) -> tuple[list[str], bool]:
    """The variants the simulator answered, and whether they are all of them (``False`` when there are none)."""
    variants = analysis.get("variants") or []
    simulated = [v["variant"] for v in variants if v.get("simulated")]
    return simulated, bool(simulated) and len(simulated) == len(variants)


def simulated_notice(analysis: Mapping[str, Any]) -> str | None:
    """The warning a report carries when some or all of its variants were answered by the simulator, naming
    them when not all were; ``None`` when none was."""
    simulated, everything = simulated_variants(analysis)
    if not simulated:
        return None
    if everything:
        return SIMULATED_NOTICE
    real = [f"{v['variant']} ({v.get('source', 'live')})" for v in analysis["variants"] if not v.get("simulated")]
    return (f"SIMULATED: the answers of {', '.join(simulated)} come from ftplug's offline simulator, not from a real "
            f"model, and show the pipeline working, not how any model performs; {', '.join(real)} are real.")


def title_label(analysis: Mapping[str, Any]) -> str:
    """`` [SIMULATED]`` when every variant was simulated, `` [partly SIMULATED]`` when some were, else empty."""
    simulated, everything = simulated_variants(analysis)
    if not simulated:
        return ""
    return " [SIMULATED]" if everything else " [partly SIMULATED]"


def _money(value: float | None) -> str:
    return usd(value, missing="-")


def _with_ci(interval: dict[str, Any], digits: int = 3) -> str:
    if interval.get("value") is None:
        return "-"
    if interval.get("low") is None:
        return number(interval["value"], digits)
    return f"{number(interval['value'], digits)} [{number(interval['low'], digits)}–{number(interval['high'], digits)}]"


LATENCY_LEGEND = ("latency: each answer's round trip as ftplug saw it, any wait in the server's queue included; "
                  "in flight: the median of requests in flight at once (for a local model, prompts per batch)")
SERVER_LEGEND = "; server ms: the server's own time for each answer (its openai-processing-ms), queueing left out"


def _with_p95(latency: dict[str, Any]) -> str:
    if latency.get("value") is None:
        return "-"
    return f"{number(latency['value'], 1)} ({number(latency.get('p95'), 1)})"


def _in_flight(load: dict[str, Any]) -> str:
    """The median of requests in flight, with the most when it is higher (a run's tail has fewer)."""
    median, most = load.get("median"), load.get("max")
    if median is None:
        return "-"
    return number(median, 0) if most is None or most == median else f"{number(median, 0)} (max {number(most, 0)})"


def render_text(analysis: Mapping[str, Any]) -> str:
    """The report as plain text: the comparison, tests against the reference, fine-tuning, break-even,
    confusion matrices and the verdict."""
    variants = analysis.get("variants") or []
    if not variants:
        return "No runs stored yet: run `ftplug run EXPERIMENT.toml` first."
    scorers = list(analysis["scorers"])
    title = f"Experiment {analysis['experiment']}" + title_label(analysis)
    out = [title, f"values with 95% confidence intervals (methods: docs/report.md); {SOURCES_LEGEND}", ""]
    server = any((v.get("server_latency_ms") or {}).get("n") for v in variants)
    header = ["variant", "model", "answered by", "status", "n", "errors", *scorers, "$ / 1k", "latency ms (p95)",
              *(["server ms (p95)"] if server else []), "in flight", "prompt tok"]
    lines = [[v["variant"], v["model"], v.get("source", "-"), v["status"], number(v["predictions"]),
              number(v["errors"]),
              *(_with_ci(v["metrics"].get(name, {})) for name in scorers), _with_ci(v["cost_per_1k_usd"], 4),
              _with_p95(v["latency_ms"]), *([_with_p95(v.get("server_latency_ms") or {})] if server else []),
              _in_flight(v.get("in_flight") or {}), number(v["mean_prompt_tokens"], 1)] for v in variants]
    out += text_table(header, lines)
    out.append(LATENCY_LEGEND + (SERVER_LEGEND if server else ""))
    out += _failures_section(analysis)
    if analysis["comparisons"]:
        out += ["", f"Against the reference {analysis['reference']!r} (paired, on the examples both scored; "
                    "difference = variant − reference)"]
        out += comparison_table(analysis["comparisons"], analysis["scorers"])
        out.append(COMPARISON_LEGEND)
    out += _baseline_section(analysis.get("baseline_margins"))
    tuned = [v for v in variants if v.get("training")]
    if tuned:
        out += ["", "Fine-tuning (a reused job was paid for once, by the run that started it)"]
        out += text_table(["variant", "job", "trained tokens", "epochs", "training cost", "training time",
                       "final train loss", "final valid loss"], [_training_line(v) for v in tuned])
    if analysis["break_even"]:
        scenarios = [s["scenario"] for s in analysis["break_even"][0]["scenarios"]]
        out += ["", "Break-even: predictions after which fine-tuning (training + its inference) costs less"]
        out += text_table(["fine-tuned", "vs", *scenarios],
                      [[row["fine_tuned"], row["prompted"],
                        *(number(s["predictions"]) if s["predictions"] is not None else "never"
                          for s in row["scenarios"])] for row in analysis["break_even"]])
    from ftplug.report.sampling_spread import render_spread

    out += render_spread(analysis.get("sampling_spread"), analysis.get("draw_spread") or [])
    labelled = [analysis["primary"], *analysis["scorers"]]
    for v in variants:
        scorer = next((name for name in labelled if v["confusion"].get(name)), None)
        confusion = v["confusion"].get(scorer) if scorer else None
        if confusion and len(confusion["labels"]) <= 12:
            out += ["", f"Confusion matrix of {v['variant']} ({scorer}; rows: expected, columns: answered)"]
            out += text_table(["", *confusion["labels"]],
                          [[label, *map(str, row)] for label, row in zip(confusion["labels"], confusion["matrix"],
                                                                       strict=True)])
    verdict = analysis["verdict"]
    out += ["", "Verdict", *(f"- {line}" for line in verdict["lines"])]
    if verdict["caveats"]:
        out += ["Caveats", *(f"- {line}" for line in verdict["caveats"])]
    notice = simulated_notice(analysis)
    if notice:
        out += ["", notice]
    return "\n".join(out)


COMPARISON_LEGEND = ("p (Holm): adjusted for the comparisons of the report on that scorer, which decide "
                     "'significant'; detectable: the smallest difference the test would find 80% of the time")


def comparison_table(comparisons: list[dict[str, Any]], scorers: dict[str, Any]) -> list[str]:
    """The paired comparisons: difference, interval, raw and Holm-adjusted p, smallest detectable difference."""
    lines = []
    for c in comparisons:
        lower = not (scorers.get(c["scorer"]) or {}).get("higher_is_better", True)
        lines.append([c["variant"], c["scorer"] + (" (lower is better)" if lower else ""), number(c["n"]),
                      number(c["difference"]), _interval_text(c), p_number(c), p_adjusted_number(c),
                      number(c.get("detectable")), c["method"], "yes" if c["significant"] else "no"])
    return text_table(["variant", "scorer", "n", "difference", "95% CI", "p", "p (Holm)", "detectable", "method",
                   "significant"], lines)


def _interval_text(c: dict[str, Any]) -> str:
    return "-" if c.get("low") is None else f"{number(c['low'])}–{number(c['high'])}"


def _failures_section(analysis: Mapping[str, Any]) -> list[str]:
    """The primary 0/1 metric with every example a variant was asked and has no score for counted as wrong,
    beside its value over the scored ones — shown when some variant has such examples."""
    primary = analysis.get("primary")
    rows = []
    for v in analysis.get("variants") or []:
        m = v["metrics"].get(primary) or {}
        strict = m.get("with_failures")
        if strict and strict.get("n") and strict["n"] != m.get("n"):
            rows.append([v["variant"], f"{number(m.get('n'))} of {number(strict['n'])}", _with_ci(m), _with_ci(strict)])
    if not rows:
        return []
    return ["", f"{primary} with failed requests and unscored answers counted as wrong",
            *text_table(["variant", "scored", f"{primary} (scored)", f"{primary} (failures as wrong)"], rows)]


def _baseline_section(table: dict[str, Any] | None) -> list[str]:
    """Every variant's margin over the best naive baseline, with the paired test against it."""
    if not table:
        return []
    ratio = not table["higher_is_better"]
    header = ["variant", table["metric"], "margin", *(["× baseline"] if ratio else []), "95% CI", "p", "p (Holm)",
              "beats it"]
    lines = []
    for row in table["rows"]:
        test = row["test"] or {}
        lines.append([row["variant"] + (" (baseline)" if row["is_baseline"] else ""), number(row["value"]),
                      number(row["margin"]), *([number(row["ratio"])] if ratio else []),
                      f"{number(row['margin_low'])}–{number(row['margin_high'])}" if row.get("margin_low") is not None
                      else "-", p_number(test) if test else "-", p_adjusted_number(test) if test else "-",
                      row["beats"]])
    return ["", f"Against the best naive baseline {table['baseline']!r} ({table['metric']} "
                f"{number(table['baseline_value'])}; margin and its CI > 0 are better"
                f"{', lower is better' if ratio else ''})", *text_table(header, lines)]


def _training_line(variant: dict[str, Any]) -> list[str]:
    t = variant["training"]
    job = t["job_id"] + (" (reused)" if t.get("reused_job") else "")
    return [variant["variant"], job, number(t.get("trained_tokens")), number(t.get("n_epochs")),
            _money(t.get("training_cost_usd")), duration(t.get("training_seconds")),
            number(t.get("final_train_loss")), number(t.get("final_valid_loss"))]


def render_json(analysis: Mapping[str, Any]) -> str:
    """The whole analysis as JSON (with the simulated notice when it applies)."""
    document = {**analysis, "notice": simulated_notice(analysis)}
    return json.dumps(_strict(document), indent=2, default=str, allow_nan=False)


def _strict(value: Any) -> Any:
    """``value`` with every non-finite float made ``None``: JSON has no NaN or Infinity, and strict readers
    refuse them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(item) for item in value]
    return value


def render_csv(analysis: Mapping[str, Any]) -> str:
    """One row per variant and metric: value, CI, n — for spreadsheets."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["experiment", "variant", "metric", "value", "low", "high", "n", "simulated", "source"])
    for v in analysis.get("variants") or []:
        rows = [(name, m) for name, m in v["metrics"].items()]
        rows += [(f"{name} (failures as wrong)", m["with_failures"]) for name, m in v["metrics"].items()
                 if m.get("with_failures")]
        rows += [("cost_per_1k_usd", {**v["cost_per_1k_usd"], "n": v["predictions"]}), ("latency_ms", v["latency_ms"]),
                 ("server_latency_ms", v.get("server_latency_ms") or {}),
                 ("in_flight", {"value": (v.get("in_flight") or {}).get("median"),
                                "n": v["predictions"]})]
        for name, m in rows:
            writer.writerow([analysis["experiment"], v["variant"], name, m.get("value"), m.get("low"), m.get("high"),
                             m.get("n"), v["simulated"], v.get("source")])
    return buffer.getvalue()
