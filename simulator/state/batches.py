"""Batches: a JSONL of requests run as one job whose state follows the clock, like fine-tuning jobs.

``validating`` → ``in_progress`` → ``finalizing`` → ``completed`` (or ``failed`` when the input file is
invalid, or ``cancelling`` → ``cancelled``). The requests are answered when the batch completes, by the
same handlers as live requests; successes go to the output file, failures to the error file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ftplug.simulator.state.ids import token
from ftplug.simulator.state.store import JobTiming, State

ENDPOINTS = ("/v1/chat/completions", "/v1/responses")
EXPIRY_SECONDS = 24 * 3600
Execute = Callable[[str, dict[str, Any]], tuple[int, dict[str, Any]]]


@dataclass
class Batch:
    """One batch and what is needed to compute its state at any time."""

    id: str
    endpoint: str
    input_file_id: str
    completion_window: str
    metadata: dict[str, str] | None
    created: float
    timing: JobTiming
    requests: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    cancelled_at: float | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"total": 0, "completed": 0, "failed": 0})
    usage: dict[str, Any] | None = None
    done: bool = False

    @property
    def validated_at(self) -> float:
        return self.created + self.timing.validating

    @property
    def finalizing_at(self) -> float:
        return self.validated_at + len(self.requests) * self.timing.per_step

    @property
    def completed_at(self) -> float:
        return self.finalizing_at + self.timing.queued

    def status(self, now: float) -> str:
        """The status at time ``now``."""
        if self.cancelled_at is not None and self.cancelled_at <= now:
            return "cancelled" if now >= self.cancelled_at + self.timing.queued else "cancelling"
        if now < self.validated_at:
            return "validating"
        if self.errors:
            return "failed"
        if now < self.finalizing_at:
            return "in_progress"
        if now < self.completed_at:
            return "finalizing"
        return "completed"

    def run(self, state: State, execute: Execute) -> None:
        """Answer every request (once) and write the output and error files."""
        if self.done:
            return
        outputs: list[str] = []
        failures: list[str] = []
        usage: dict[str, Any] = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0,
                 "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}
        for index, line in enumerate(self.requests):
            status, body = execute(line["url"], line["body"])
            record = {"id": f"batch_req_{token(f'{self.id}:{index}', 24)}", "custom_id": line["custom_id"],
                      "response": {"status_code": status, "request_id": f"req_{token(f'{self.id}:r{index}', 32)}",
                                   "body": body}, "error": None}
            (outputs if status == 200 else failures).append(json.dumps(record))
            counted = body.get("usage") if status == 200 else None
            if counted:
                usage["input_tokens"] += counted.get("prompt_tokens", counted.get("input_tokens", 0))
                usage["output_tokens"] += counted.get("completion_tokens", counted.get("output_tokens", 0))
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        if outputs:
            self.output_file_id = state.add_file(f"{self.id}_output.jsonl", "batch_output",
                                                 ("\n".join(outputs) + "\n").encode()).id
        if failures:
            self.error_file_id = state.add_file(f"{self.id}_error.jsonl", "batch_output",
                                                ("\n".join(failures) + "\n").encode()).id
        self.counts = {"total": len(self.requests), "completed": len(outputs), "failed": len(failures)}
        self.usage, self.done = usage, True

    def to_api(self, now: float) -> dict[str, Any]:
        """The ``batch`` object at time ``now`` (call :meth:`run` first once it is completed)."""
        status = self.status(now)

        def at(moment: float, reached: bool) -> int | None:
            return int(moment) if reached else None

        order = ["validating", "in_progress", "finalizing", "completed"]
        reached = order.index(status) if status in order else -1
        return {
            "id": self.id, "object": "batch", "endpoint": self.endpoint,
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "input_file_id": self.input_file_id, "completion_window": self.completion_window, "status": status,
            "output_file_id": self.output_file_id if status == "completed" else None,
            "error_file_id": self.error_file_id if status == "completed" else None,
            "created_at": int(self.created),
            "in_progress_at": at(self.validated_at, reached >= 1),
            "expires_at": int(self.created) + EXPIRY_SECONDS,
            "finalizing_at": at(self.finalizing_at, reached >= 2),
            "completed_at": at(self.completed_at, reached >= 3),
            "failed_at": at(self.validated_at, status == "failed"),
            "expired_at": None,
            "cancelling_at": at(self.cancelled_at or 0, self.cancelled_at is not None),
            "cancelled_at": at((self.cancelled_at or 0) + self.timing.queued, status == "cancelled"),
            "request_counts": self.counts if status == "completed" else
            {"total": len(self.requests), "completed": 0, "failed": 0},
            "metadata": self.metadata,
            "usage": self.usage if status == "completed" else None,
        }

    def to_snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy for the state folder."""
        return asdict(self)

    @classmethod
    def from_snapshot(cls, record: dict[str, Any]) -> Batch:
        """The batch saved by :meth:`to_snapshot`."""
        return cls(**{**record, "timing": JobTiming(**record["timing"])})


def parse_batch_input(content: bytes, endpoint: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(requests, errors) of a batch input file; each error names its line as the API does."""
    requests: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()

    def fail(line: int, message: str, param: str | None = None) -> None:
        errors.append({"code": "invalid_request", "line": line, "message": message, "param": param})

    for number, text in enumerate(content.decode("utf-8", errors="replace").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except json.JSONDecodeError:
            fail(number, "This line is not parseable as valid JSON.")
            continue
        if not isinstance(line, dict):
            fail(number, "Each line must be a JSON object.")
            continue
        custom_id = line.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            fail(number, "Missing required parameter: 'custom_id'.", "custom_id")
        elif custom_id in seen:
            fail(number, f"The custom_id '{custom_id}' is duplicated; custom ids must be unique.", "custom_id")
        if line.get("method") != "POST":
            fail(number, "The method must be 'POST'.", "method")
        if line.get("url") != endpoint:
            fail(number, f"The url must be the batch's endpoint {endpoint}.", "url")
        if not isinstance(line.get("body"), dict):
            fail(number, "Missing required parameter: 'body'.", "body")
        if isinstance(custom_id, str):
            seen.add(custom_id)
        requests.append(line)
    if not requests and not errors:
        fail(1, "The input file is empty.")
    return requests, errors
