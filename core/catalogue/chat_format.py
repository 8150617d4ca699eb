"""The rules a chat fine-tuning example must follow (OpenAI's data-preparation cookbook and guide).

Shared by ``ftplug data validate`` and the simulator, so both judge a file the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ALLOWED_KEYS = frozenset({"role", "content", "name", "function_call", "weight"})
ALLOWED_ROLES = ("system", "user", "assistant", "function")
MIN_EXAMPLES = 10


@dataclass(frozen=True)
class FormatProblem:
    """One rule an example breaks: the cookbook's code and a description naming the message."""

    code: str
    description: str


def check_example(record: Any) -> list[FormatProblem]:
    """Every rule ``record`` (one parsed JSONL line) breaks; empty when it is a valid chat example."""
    if not isinstance(record, dict):
        return [FormatProblem("data_type", "is not a JSON object")]
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return [FormatProblem("missing_messages_list", "has no non-empty 'messages' list")]
    problems = []
    for number, message in enumerate(messages, start=1):
        if not isinstance(message, dict):
            problems.append(FormatProblem("message_missing_key", f"message {number} is not an object"))
            continue
        for key in ("role", "content"):
            if key not in message:
                problems.append(FormatProblem("message_missing_key", f"message {number} has no '{key}'"))
        for key in sorted(set(message) - ALLOWED_KEYS):
            problems.append(FormatProblem("message_unrecognized_key",
                                          f"message {number} has an unrecognised key '{key}'"))
        if "role" in message and message["role"] not in ALLOWED_ROLES:
            problems.append(FormatProblem("unrecognized_role",
                                          f"message {number} has an unrecognised role {message['role']!r}"))
        content = message.get("content")
        if "function_call" not in message and (not isinstance(content, str) or not content):
            problems.append(FormatProblem("missing_content", f"message {number} has no text content"))
        if "weight" in message and message["weight"] not in (0, 1):
            problems.append(FormatProblem("invalid_weight",
                                          f"message {number} has weight {message['weight']!r}; only 0 or 1"))
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
        problems.append(FormatProblem("example_missing_assistant_message", "has no assistant message"))
    return problems
