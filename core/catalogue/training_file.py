"""Checking a fine-tuning chat JSONL file before it is uploaded: every problem with its line number,
token statistics and the estimated cost (``ftplug data validate``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftplug.catalogue.chat_format import MIN_EXAMPLES, check_example
from ftplug.catalogue.text_limits import MAX_TEXT_CHARS
from ftplug.catalogue.training_cost import TrainingEstimate, estimate_training


@dataclass(frozen=True)
class LineProblem:
    """A rule one line breaks. ``line`` is 1-based; 0 for a problem of the whole file."""

    line: int
    code: str
    description: str


@dataclass
class TrainingFileReport:
    """What :func:`validate_training_file` found."""

    path: str
    model: str
    examples: int = 0
    problems: list[LineProblem] = field(default_factory=list)
    warnings: list[LineProblem] = field(default_factory=list)
    estimate: TrainingEstimate | None = None

    @property
    def rejected(self) -> bool:
        """Whether the fine-tuning service would refuse the file."""
        return bool(self.problems)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"file": self.path, "model": self.model, "examples": self.examples, "rejected": self.rejected,
                "problems": [vars(p) for p in self.problems], "warnings": [vars(w) for w in self.warnings],
                "tokens": self.estimate.summary() if self.estimate else None}


def validate_training_file(path: str | Path, model: str, n_epochs: int | str = "auto") -> TrainingFileReport:
    """Check every line of the chat JSONL file at ``path`` with the rules of OpenAI's data-preparation
    cookbook and fine-tuning guide, and estimate what training ``model`` on it would bill."""
    from ftplug.catalogue.models import default_catalogue

    report = TrainingFileReport(path=str(path), model=model)
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        at_line = raw[: error.start].count(b"\n") + 1
        report.problems.append(LineProblem(at_line, "encoding", f"not UTF-8 text (byte {error.start})"))
        return report
    conversations: list[tuple[int, list[dict[str, Any]]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) > MAX_TEXT_CHARS:
            report.problems.append(LineProblem(number, "too_long", f"the line is {len(line):,} characters long, "
                                               f"over the {MAX_TEXT_CHARS:,} ftplug reads"))
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            report.problems.append(LineProblem(number, "invalid_json", f"not valid JSON ({error.msg})"))
            continue
        problems = check_example(record)
        report.problems += [LineProblem(number, p.code, f"example {p.description}") for p in problems]
        if problems:
            continue
        messages = record["messages"]
        roles = {m.get("role") for m in messages}
        if "system" not in roles:
            report.warnings.append(LineProblem(number, "missing_system_message", "example has no system message"))
        if "user" not in roles:
            report.warnings.append(LineProblem(number, "missing_user_message", "example has no user message"))
        conversations.append((number, messages))
    report.examples = len(conversations)
    if report.examples < MIN_EXAMPLES:
        report.problems.append(LineProblem(0, "too_few_examples", f"{report.examples} valid example(s); "
                                           f"fine-tuning needs at least {MIN_EXAMPLES} (50–100 recommended)"))
    if default_catalogue().find(model) is None:
        report.warnings.append(LineProblem(0, "unknown_model", f"model {model!r} is not in the catalogue: "
                                           "no training limit or price to check against"))
    if conversations:
        report.estimate = estimate_training([m for _, m in conversations], model, n_epochs)
        limit = report.estimate.training_limit
        for (number, _), tokens in zip(conversations, report.estimate.tokens, strict=True):
            if limit and tokens > limit:
                report.warnings.append(LineProblem(number, "example_too_long", f"example has {tokens:,} tokens, "
                                                   f"over the {limit:,}-token training limit: it would be "
                                                   "truncated"))
    report.problems.sort(key=lambda p: (p.line == 0, p.line))  # lines in order, then the whole file
    report.warnings.sort(key=lambda w: (w.line == 0, w.line))
    return report
