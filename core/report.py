"""The side-by-side comparison of an experiment's variants, as a table or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

SIMULATED_NOTICE = ("SIMULATED: these answers come from ftplug's offline simulator, not from a real model; "
                    "they show the pipeline working, not how any model performs.")


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.4f}"


def report_table(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table, one line per variant, with the simulated notice when any run was simulated."""
    if not rows:
        return "No runs stored yet: run `ftplug run EXPERIMENT.toml` first."
    scorers = sorted({name for row in rows for name in row["scores"]})
    header = ["variant", "model", "status", "n", "errors", *scorers, "prompt tok", "latency ms", "$ / 1k"]
    lines = [[row["variant"], row["model"], row["status"], str(row["predictions"]), str(row["errors"]),
              *(_fmt(row["scores"].get(name)) for name in scorers),
              _fmt(row["mean_prompt_tokens"], 1), _fmt(row["mean_latency_ms"], 1),
              _money(row["cost_per_1k_usd"])] for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=True)]

    def render(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    simulated = any(row["simulated"] for row in rows)
    title = f"Experiment {rows[0]['experiment']}" + (" [SIMULATED]" if simulated else "")
    out = [title, render(header), render(["-" * w for w in widths]), *(render(line) for line in lines)]
    out += fine_tuning_table(rows)
    if simulated:
        out += ["", SIMULATED_NOTICE]
    return "\n".join(out)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def fine_tuning_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Lines for the variants trained by a fine-tuning job: job, tokens, epochs, cost, time, final losses."""
    tuned = [row for row in rows if row.get("details", {}).get("job_id")]
    if not tuned:
        return []
    header = ["variant", "job", "trained tokens", "epochs", "training cost", "training time", "final train loss",
              "final valid loss"]
    lines = []
    for row in tuned:
        d = row["details"]
        job = d["job_id"] + (" (reused)" if d.get("reused_job") else "")
        tokens = f"{d['trained_tokens']:,}" if d.get("trained_tokens") is not None else "-"
        lines.append([row["variant"], job, tokens, _fmt(d.get("n_epochs")), _money(d.get("training_cost_usd")),
                      _duration(d.get("training_seconds")), _fmt(d.get("final_train_loss")),
                      _fmt(d.get("final_valid_loss"))])
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=True)]

    def render(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    return ["", "Fine-tuning (a reused job was paid for once, by the run that started it)", render(header),
            render(["-" * w for w in widths]), *(render(line) for line in lines)]


def report_json(rows: Sequence[dict[str, Any]]) -> str:
    """The same numbers as JSON: ``{"experiment", "simulated", "variants": [...]}``."""
    variants = [{key: (value.isoformat() if hasattr(value, "isoformat") else value)
                 for key, value in row.items() if key != "experiment"} for row in rows]
    document = {
        "experiment": rows[0]["experiment"] if rows else None,
        "simulated": any(row["simulated"] for row in rows),
        "notice": SIMULATED_NOTICE if any(row["simulated"] for row in rows) else None,
        "variants": variants,
    }
    return json.dumps(document, indent=2, default=str)
