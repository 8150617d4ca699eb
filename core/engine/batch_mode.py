"""``ftplug run --batch``: a variant's requests go through the Batch API — at half the price, answered
within 24 hours — and are collected into the store like any prediction.

For each run: first the batches an earlier, interrupted invocation submitted are waited for and collected
(nothing is asked twice); then what is still missing is asked, the response cache answering what it can,
the rest written as JSONL parts of at most ``MAX_REQUESTS`` requests and ``MAX_BYTES`` bytes, each uploaded,
submitted and remembered in the store before any waiting. Parts are collected as they finish: the output
file's answers are scored and stored (and cached), the error file's errors are stored as errors (retried
by the next run), and requests a batch left unanswered (expired, cancelled) are stored as errors too.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ftplug.dataset import Example
from ftplug.engine.budget import Budget, BudgetReached
from ftplug.engine.predictions import PredictionFactory, VariantRequests
from ftplug.engine.requester import Answer
from ftplug.engine.response_cache import request_key
from ftplug.engine.sink import PredictionSink
from ftplug.store.batches import TERMINAL, BatchLedger, BatchRecord
from ftplug.store.records import RunInfo

MAX_REQUESTS = 50_000  # the Batch API's limit per batch
MAX_BYTES = 180 * 1024 * 1024  # under its 200 MB file limit
CHAT_URL = "/v1/chat/completions"


@dataclass
class BatchStats:
    """What batch mode did for a variant, for the run's details."""

    batches: list[str] = field(default_factory=list)
    requests: int = 0
    answered: int = 0
    failed: int = 0
    from_cache: int = 0

    def as_dict(self) -> dict[str, Any]:
        """For ``runs.details``."""
        return {"execution": "batch", "batches": self.batches, "requests": self.requests,
                "answered": self.answered, "failed": self.failed, "from_cache": self.from_cache}


class BatchRunner:
    """Runs one variant's requests through the Batch API of ``client`` (a synchronous ``openai.OpenAI``)."""

    def __init__(self, client: Any, ledger: BatchLedger, *, requests: VariantRequests, records: PredictionFactory,
                 sink: PredictionSink, budget: Budget, simulated: bool, log: Callable[[str], None],
                 poll_seconds: float) -> None:
        """:param requests: the variant's requests; ``records`` makes the record of each answer, ``sink``
            stores it; with a ``budget`` limit each part is collected before the next is submitted, so
            its cost is known before more is spent."""
        self.client, self.ledger, self.requests, self.records = client, ledger, requests, records
        self.sink, self.budget = sink, budget
        self.simulated, self.log, self.poll_seconds = simulated, log, poll_seconds
        self.stats = BatchStats()

    def run(self, run: RunInfo, test: Sequence[Example], todo: Iterable[Example]) -> BatchStats:
        """Collect the run's earlier batches, then ask for what is missing of ``todo``, in batches.

        :raises BudgetReached: when the budget stopped a part from being submitted (the parts already
            submitted are collected first)."""
        earlier = [record for record in self.ledger.run_batches(run.run_id) if not record.collected]
        collected: set[str] = set()
        if earlier:
            self.log(f"collecting {len(earlier)} batch(es) submitted by an earlier run")
            collected = self._wait(earlier, test)
        part = 1 + max((record.part for record in self.ledger.run_batches(run.run_id)), default=0)
        submitted = []
        lines, size = io.BytesIO(), 0
        count = 0
        for request in self.requests(e for e in todo if e.id not in collected):
            if request.cached is not None:
                self.sink.add(self.records.from_cache(request.example, request.key, request.cached))
                self.stats.from_cache += 1
                continue
            body = {"model": self.requests.model, "messages": request.messages, **self.requests.parameters}
            line = json.dumps({"custom_id": request.example.id, "method": "POST", "url": CHAT_URL, "body": body},
                              ensure_ascii=False).encode() + b"\n"
            if count and (count >= MAX_REQUESTS or size + len(line) > MAX_BYTES):
                submitted.append(self._submit(run, part, lines.getvalue(), count))
                part, lines, size, count = part + 1, io.BytesIO(), 0, 0
                if self.budget.limited:
                    self._wait([r for r in submitted if not r.collected], test)
                if (reason := self.budget.exhausted()) is not None:
                    self._wait([r for r in submitted if not r.collected], test)
                    raise BudgetReached(reason)
            lines.write(line)
            size, count = size + len(line), count + 1
        if count and (reason := self.budget.exhausted()) is None:
            submitted.append(self._submit(run, part, lines.getvalue(), count))
        elif count:
            self._wait([r for r in submitted if not r.collected], test)
            raise BudgetReached(reason)
        self._wait([r for r in submitted if not r.collected], test)
        return self.stats

    def _submit(self, run: RunInfo, part: int, jsonl: bytes, count: int) -> BatchRecord:
        uploaded = self.client.files.create(file=(f"ftplug-{run.run_id}-{part}.jsonl", jsonl), purpose="batch")
        batch = self.client.batches.create(
            input_file_id=uploaded.id, endpoint=CHAT_URL, completion_window="24h",
            metadata={"ftplug_run": run.run_id, "ftplug_variant": run.variant[:512], "ftplug_part": str(part)})
        record = BatchRecord(batch_id=batch.id, run_id=run.run_id, part=part, endpoint=CHAT_URL,
                             input_file_id=uploaded.id, requests=count, status=batch.status,
                             created_at=_now(), simulated=self.simulated)
        self.ledger.save_batch(record)  # before any waiting: an interrupted run collects it
        self.stats.batches.append(batch.id)
        self.stats.requests += count
        self.log(f"batch {batch.id} (part {part}): {count} requests submitted")
        return record

    def _wait(self, records: list[BatchRecord], test: Sequence[Example]) -> set[str]:
        """Poll until every batch has ended, collecting each as it does; the ids of the examples stored."""
        pending = list(records)
        stored: set[str] = set()
        last_line = 0.0
        while pending:
            for record in list(pending):
                batch = self.client.batches.retrieve(record.batch_id)
                record.status = batch.status
                if batch.status in TERMINAL:
                    stored |= self._collect(record, batch, test)
                    pending.remove(record)
            if pending:
                if time.monotonic() - last_line >= max(self.poll_seconds, 5.0):
                    last_line = time.monotonic()
                    self.log("waiting for " + ", ".join(f"{r.batch_id} ({r.status})" for r in pending))
                time.sleep(self.poll_seconds)
        return stored

    def _collect(self, record: BatchRecord, batch: Any, test: Sequence[Example]) -> set[str]:
        """Store every request of a finished batch: its answer, or its error."""
        requests = {line["custom_id"]: line["body"] for line in self._lines(record.input_file_id)}
        answers = {line["custom_id"]: line for line in self._lines(batch.output_file_id)}
        errors = {line["custom_id"]: line for line in self._lines(batch.error_file_id)}
        batch_error = "; ".join(e.message for e in (batch.errors.data if batch.errors else []) if e.message)
        from openai.types.chat import ChatCompletion

        for example in (e for e in test if e.id in requests):
            body = requests[example.id]
            line = answers.get(example.id)
            response = (line or {}).get("response") or {}
            if line and response.get("status_code") == 200:
                parameters = {k: v for k, v in body.items() if k not in ("model", "messages")}
                key = request_key(self.requests.endpoint, body["model"], body["messages"], parameters)
                answer = Answer(ChatCompletion.model_validate(response["body"]), None, None, 1)
                record_ = self.records.answered(example, answer, key, batch=True)
                self.stats.answered += 1
            else:
                record_ = self.records.failed(example, _error_message(errors.get(example.id) or line, batch.status,
                                                                      batch_error))
                self.stats.failed += 1
            self.sink.add(record_)
        self.sink.commit()  # the answers are durable before the batch counts as collected
        record.status, record.collected, record.finished_at = batch.status, True, _now()
        record.output_file_id, record.error_file_id = batch.output_file_id, batch.error_file_id
        record.error = batch_error or None
        self.ledger.save_batch(record)
        counts = batch.request_counts
        self.log(f"batch {record.batch_id} (part {record.part}) {batch.status}: "
                 f"{counts.completed if counts else '?'} answered, {counts.failed if counts else '?'} failed")
        return set(requests)

    def _lines(self, file_id: str | None) -> Iterator[dict[str, Any]]:
        if not file_id:
            return
        for raw in self.client.files.content(file_id).text.splitlines():
            if raw.strip():
                yield json.loads(raw)


def _error_message(line: dict[str, Any] | None, status: str, batch_error: str) -> str:
    """One line for a request a batch did not answer."""
    if line:
        error = line.get("error") or ((line.get("response") or {}).get("body") or {}).get("error") or {}
        code = (line.get("response") or {}).get("status_code")
        message = error.get("message") or "no answer"
        prefix = " ".join(str(part) for part in (code, error.get("code")) if part)
        return f"{prefix}: {message}" if prefix else message
    return f"batch {status}: {batch_error or 'the request was not answered'}"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
