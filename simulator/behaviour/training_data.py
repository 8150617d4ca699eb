"""Reading a fine-tuning file the way the service validates it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ftplug.catalogue.chat_format import MIN_EXAMPLES, check_example
from ftplug.simulator.http.routing import ApiError


@dataclass(frozen=True)
class TrainingExample:
    """One chat example: its messages, and the (user, assistant) pair it teaches."""

    messages: tuple[dict[str, Any], ...]
    prompt: str
    answer: str


class InvalidTrainingFile(Exception):
    """The file would be rejected; ``message`` names the line."""


def parse_training_file(content: bytes, minimum: int = MIN_EXAMPLES) -> list[TrainingExample]:
    """Every example of a chat JSONL file, checked with the cookbook's rules; :class:`InvalidTrainingFile`
    naming the first bad line, or when there are fewer than ``minimum`` examples."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidTrainingFile("The file is not valid UTF-8 text.") from None
    examples = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise InvalidTrainingFile(f"Line {number}: not valid JSON.") from None
        problems = check_example(record)
        if problems:
            raise InvalidTrainingFile(f"Line {number}: {problems[0].description} ({problems[0].code}).")
        messages = record["messages"]
        answer = [m for m in messages if m["role"] == "assistant"][-1]
        users = [m for m in messages if m["role"] == "user"]
        prompt = str(users[-1].get("content", "")) if users else ""
        examples.append(TrainingExample(tuple(messages), prompt, str(answer.get("content") or "")))
    if len(examples) < minimum:
        raise InvalidTrainingFile(f"Training file has {len(examples)} example(s), but must have at least "
                                  f"{minimum} examples.")
    return examples


def check_hyperparameter(value: Any, name: str, kind: type, low: float, high: float) -> Any:
    """``"auto"`` or a number of ``kind`` within bounds; a 400 naming the parameter otherwise."""
    if value is None or value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not float(value).is_integer()):
        raise ApiError(400, f"Invalid value for '{name}': expected 'auto' or a number.", param=name)
    if not low <= value <= high:
        raise ApiError(400, f"Invalid value for '{name}': must be between {low} and {high}.", param=name)
    return kind(value)
