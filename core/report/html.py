"""The decision report as one self-contained HTML file: tables, the verdict and Plotly charts (the Plotly
library is embedded, so the file opens offline)."""

from __future__ import annotations

import functools
import html
from collections.abc import Mapping
from typing import Any

from ftplug.report.numbers import number
from ftplug.report.p_values import p_adjusted_number, p_number
from ftplug.report.text import COMPARISON_LEGEND, LATENCY_LEGEND, SERVER_LEGEND, simulated_notice, title_label

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: .2rem; } .sub { color: #666; margin-top: 0; }
.simulated { background: #fff3cd; border: 2px solid #d39e00; padding: .8rem 1rem; font-weight: 600; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; font-size: .9rem; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .7rem; text-align: left; }
th { background: #f5f5f5; } .chart { margin: 1rem 0 2rem; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


_num = functools.partial(number, missing="–")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _error_bars(metrics: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Plotly ``error_y`` from each metric's value to the bounds of its confidence interval."""
    return {"type": "data", "array": [m["high"] - m["value"] for m in metrics],
            "arrayminus": [m["value"] - m["low"] for m in metrics]}


def _metric_charts(analysis: Mapping[str, Any], suffix: str) -> dict[str, Any]:
    """One bar chart per scorer (``metric:<scorer>``), skipping scorers no variant has a value for."""
    import plotly.graph_objects as go

    variants = analysis["variants"]
    names = [v["variant"] for v in variants]
    figures: dict[str, Any] = {}
    for scorer in analysis["scorers"]:
        metrics = [v["metrics"].get(scorer, {}) for v in variants]
        values = [m.get("value") for m in metrics]
        if all(value is None for value in values):
            continue
        upper = [(m["high"] - m["value"]) if m.get("high") is not None else 0 for m in metrics]
        lower = [(m["value"] - m["low"]) if m.get("low") is not None else 0 for m in metrics]
        figure = go.Figure(go.Bar(x=names, y=values, error_y={"type": "data", "array": upper,
                                                                "arrayminus": lower}))
        figure.update_layout(title=f"{scorer} per variant, with 95% confidence intervals{suffix}",
                             yaxis_title=scorer, height=380)
        figures[f"metric:{scorer}"] = figure
    return figures


def _cost_chart(analysis: Mapping[str, Any], suffix: str) -> Any | None:
    """The primary metric against the cost per 1,000 predictions, or None when no variant has both."""
    import plotly.graph_objects as go

    primary = analysis["primary"]
    points = [(v["variant"], v["cost_per_1k_usd"].get("value"), v["metrics"].get(primary, {}))
              for v in analysis["variants"]]
    points = [p for p in points if p[1] is not None and p[2].get("value") is not None]
    if not points:
        return None
    figure = go.Figure(go.Scatter(
        x=[p[1] for p in points], y=[p[2]["value"] for p in points], text=[p[0] for p in points],
        mode="markers+text", textposition="top center", error_y=_error_bars([p[2] for p in points])))
    figure.update_layout(title=f"Cost vs {primary}{suffix}", xaxis_title="USD per 1,000 predictions",
                         yaxis_title=primary, height=420)
    return figure


def _break_even_chart(analysis: Mapping[str, Any], suffix: str) -> Any | None:
    """Total cost by volume of every variant in a break-even pair, or None when there is no pair."""
    import plotly.graph_objects as go

    pairs = analysis["break_even"]
    if not pairs:
        return None
    horizon = max([row["predictions"] or 0 for row in pairs] + [analysis["volume"] or 0])
    horizon = max(1000, int(horizon * 2))
    figure = go.Figure()
    involved = {row["fine_tuned"] for row in pairs} | {row["prompted"] for row in pairs}
    for v in analysis["variants"]:
        if v["variant"] not in involved or v["cost_per_prediction"] is None:
            continue
        start = (v.get("training") or {}).get("training_cost_usd") or 0.0
        figure.add_trace(go.Scatter(x=[0, horizon], y=[start, start + horizon * v["cost_per_prediction"]],
                                    mode="lines", name=v["variant"]))
    figure.update_layout(title=f"Total cost by volume: where the lines cross, fine-tuning pays back{suffix}",
                         xaxis_title="predictions", yaxis_title="USD (training + inference)", height=420)
    return figure


def _loss_charts(analysis: Mapping[str, Any], suffix: str) -> dict[str, Any]:
    """One fine-tuning loss chart per variant with a loss curve (``loss:<variant>``)."""
    import plotly.graph_objects as go

    figures: dict[str, Any] = {}
    for variant, curve in analysis.get("loss_curves", {}).items():
        if not curve:
            continue
        figure = go.Figure()
        figure.add_trace(go.Scatter(x=[p["step"] for p in curve], y=[p["train_loss"] for p in curve],
                                    mode="lines", name="training loss"))
        if any(p["valid_loss"] is not None for p in curve):
            figure.add_trace(go.Scatter(x=[p["step"] for p in curve], y=[p["valid_loss"] for p in curve],
                                        mode="lines", name="validation loss"))
        figure.update_layout(title=f"Fine-tuning loss of {variant}{suffix}", xaxis_title="step",
                             yaxis_title="loss", height=380)
        figures[f"loss:{variant}"] = figure
    return figures


def _shots_chart(analysis: Mapping[str, Any], suffix: str) -> Any | None:
    """The primary metric of the prompted variants against their number of shots, or None with fewer than two
    distinct shot counts."""
    import plotly.graph_objects as go

    primary = analysis["primary"]
    shot_points = sorted((v["shots"], v["metrics"].get(primary, {}), v["variant"]) for v in analysis["variants"]
                         if v["shots"] is not None and v["train_rows"] is None
                         and v["metrics"].get(primary, {}).get("value") is not None)
    if len({p[0] for p in shot_points}) < 2:
        return None
    figure = go.Figure(go.Scatter(
        x=[p[0] for p in shot_points], y=[p[1]["value"] for p in shot_points], text=[p[2] for p in shot_points],
        mode="lines+markers", error_y=_error_bars([p[1] for p in shot_points])))
    figure.update_layout(title=f"{primary} vs number of shots{suffix}", xaxis_title="shots (mean per prompt)",
                         yaxis_title=primary, height=380)
    return figure


def _learning_curve_chart(analysis: Mapping[str, Any], suffix: str) -> Any | None:
    """The primary metric against the training rows, one line per trainer, or None when no trainer has two
    distinct row counts."""
    import plotly.graph_objects as go

    primary = analysis["primary"]
    curves: dict[str, list[tuple[int, dict[str, Any], str]]] = {}
    for v in analysis["variants"]:
        if v.get("train_rows") is not None and v["metrics"].get(primary, {}).get("value") is not None:
            curves.setdefault(v["trainer"], []).append((v["train_rows"], v["metrics"][primary], v["variant"]))
    if not any(len({p[0] for p in points}) >= 2 for points in curves.values()):
        return None
    figure = go.Figure()
    for trainer, points in sorted(curves.items()):
        points.sort(key=lambda p: p[0])
        figure.add_trace(go.Scatter(
            x=[p[0] for p in points], y=[p[1]["value"] for p in points], text=[p[2] for p in points],
            mode="lines+markers", name=trainer, error_y=_error_bars([p[1] for p in points])))
    figure.update_layout(title=f"{primary} vs training rows (learning curve){suffix}", xaxis_title="training rows",
                         yaxis_title=primary, height=380)
    return figure


def charts(analysis: Mapping[str, Any]) -> dict[str, Any]:
    """The report's Plotly figures by name: ``metric:<scorer>``, ``cost-vs-<primary>``, ``break-even``,
    ``loss:<variant>``, ``shots``, ``train_rows`` (learning curves)."""
    label = title_label(analysis).strip()
    suffix = f" ({label.strip('[]')})" if label else ""
    figures = {**_metric_charts(analysis, suffix),
               f"cost-vs-{analysis['primary']}": _cost_chart(analysis, suffix),
               "break-even": _break_even_chart(analysis, suffix),
               **_loss_charts(analysis, suffix),
               "shots": _shots_chart(analysis, suffix),
               "train_rows": _learning_curve_chart(analysis, suffix)}
    figures = {name: figure for name, figure in figures.items() if figure is not None}
    naive = analysis.get("baseline_margins")
    if naive and naive["baseline_value"] is not None:
        for key in ("shots", "train_rows"):
            if key in figures:
                figures[key].add_hline(y=naive["baseline_value"], line_dash="dash",
                                       annotation_text=f"best naive baseline: {naive['baseline']}")
    return figures


def render_html(analysis: Mapping[str, Any]) -> str:
    """The whole report as one HTML document."""
    from plotly.offline import get_plotlyjs

    variants = analysis["variants"]
    scorers = list(analysis["scorers"])
    parts = [f"<h1>Experiment {_e(analysis['experiment'])}{_e(title_label(analysis))}</h1>",
             '<p class="sub">values with 95% bootstrap confidence intervals</p>']
    notice = simulated_notice(analysis)
    if notice:
        parts.append(f'<p class="simulated">{_e(notice)}</p>')
    verdict = analysis["verdict"]
    parts.append("<h2>Verdict</h2><ul>" + "".join(f"<li>{_e(line)}</li>" for line in verdict["lines"]) + "</ul>")
    if verdict["caveats"]:
        parts.append("<h3>Caveats</h3><ul>" + "".join(f"<li>{_e(c)}</li>" for c in verdict["caveats"]) + "</ul>")
    rows = []
    server = any((v.get("server_latency_ms") or {}).get("n") for v in variants)
    for v in variants:
        cells: list[Any] = [v["variant"], v["model"], v.get("source", "-"), v["status"], v["predictions"], v["errors"]]
        for name in scorers:
            m = v["metrics"].get(name, {})
            cells.append(f"{_num(m.get('value'))} [{_num(m.get('low'))}–{_num(m.get('high'))}]")
        cells += [f"${_num(v['cost_per_1k_usd'].get('value'), 4)}", _num(v["latency_ms"].get("value"), 1),
                  *([_num((v.get("server_latency_ms") or {}).get("value"), 1)] if server else []),
                  _num((v.get("in_flight") or {}).get("median"), 0), _num(v["mean_prompt_tokens"], 1)]
        rows.append(cells)
    parts.append("<h2>Variants</h2>" + _table(["variant", "model", "answered by", "status", "n", "errors", *scorers,
                                               "$ / 1k", "latency ms", *(["server ms"] if server else []),
                                               "in flight", "prompt tokens"], rows)
                 + f"<p>{_e(LATENCY_LEGEND + (SERVER_LEGEND if server else ''))}</p>")
    if analysis["comparisons"]:
        parts.append(f"<h2>Against the reference {_e(analysis['reference'])}</h2>" + _table(
            ["variant", "scorer", "n", "difference", "95% CI", "p", "p (Holm)", "detectable", "method", "significant"],
            [[c["variant"], c["scorer"], _num(c["n"]), _num(c["difference"]),
              "-" if c.get("low") is None else f"{_num(c['low'])}–{_num(c['high'])}", p_number(c),
              p_adjusted_number(c), _num(c.get("detectable")), c["method"], "yes" if c["significant"] else "no"]
             for c in analysis["comparisons"]]) + f"<p>{_e(COMPARISON_LEGEND)}</p>")
    naive = analysis.get("baseline_margins")
    if naive:
        parts.append(f"<h2>Against the best naive baseline {_e(naive['baseline'])} ({_e(naive['metric'])} "
                     f"{_num(naive['baseline_value'])})</h2>" + _table(
            ["variant", naive["metric"], "margin (> 0: better)", "95% CI of the margin", "p", "p (Holm)", "beats it"],
            [[r["variant"] + (" (baseline)" if r["is_baseline"] else ""), _num(r["value"]), _num(r["margin"]),
              f"{_num(r['margin_low'])}–{_num(r['margin_high'])}" if r.get("margin_low") is not None else "-",
              p_number(r["test"]) if r["test"] else "-", p_adjusted_number(r["test"]) if r["test"] else "-",
              r["beats"]] for r in naive["rows"]]))
    if analysis["break_even"]:
        scenarios = [s["scenario"] for s in analysis["break_even"][0]["scenarios"]]
        parts.append("<h2>Break-even (predictions)</h2>" + _table(
            ["fine-tuned", "vs", *scenarios],
            [[row["fine_tuned"], row["prompted"], *(_num(s["predictions"]) if s["predictions"] is not None
                                                    else "never" for s in row["scenarios"])]
             for row in analysis["break_even"]]))
    parts.append("<h2>Charts</h2>")
    for name, figure in charts(analysis).items():
        chart = figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
        parts.append(f'<div class="chart" data-chart="{_e(name)}">{chart}</div>')
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>ftplug report: {_e(analysis['experiment'])}</title><style>{STYLE}</style>"
            f"<script>{get_plotlyjs()}</script></head><body>{''.join(parts)}</body></html>")
