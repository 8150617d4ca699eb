"""Waiting for a fine-tuning job: poll it, store every new event, and show progress from its metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ftplug.errors import FtplugError
from ftplug.store.jobs import TERMINAL_STATUSES, JobEvent, JobLedger, JobRecord

EVENTS_PAGE = 100
PROGRESS_STEPS = 10  # report training progress about ten times over a job


@dataclass
class Progress:
    """What the events of a job said so far."""

    seen: set[str] = field(default_factory=set)
    step: int | None = None
    total_steps: int | None = None
    train_loss: float | None = None
    valid_loss: float | None = None
    full_valid_loss: float | None = None
    reported_step: int = -1

    def update(self, events: list[JobEvent]) -> None:
        """Take in new events (oldest first)."""
        for event in events:
            self.seen.add(event.event_id)
            if event.step is not None:
                self.step, self.total_steps = event.step, event.total_steps or self.total_steps
                self.train_loss = event.train_loss if event.train_loss is not None else self.train_loss
                self.valid_loss = event.valid_loss if event.valid_loss is not None else self.valid_loss
                if event.full_valid_loss is not None:
                    self.full_valid_loss = event.full_valid_loss

    def line(self) -> str:
        """``step 40/120, training loss 0.812, validation loss 0.905``."""
        parts = [f"step {self.step}/{self.total_steps}" if self.total_steps else f"step {self.step}"]
        if self.train_loss is not None:
            parts.append(f"training loss {self.train_loss:.3f}")
        if self.valid_loss is not None:
            parts.append(f"validation loss {self.valid_loss:.3f}")
        return ", ".join(parts)

    def due(self) -> bool:
        """Whether enough steps have passed since the last progress line."""
        if self.step is None:
            return False
        every = max(1, (self.total_steps or 0) // PROGRESS_STEPS)
        if self.reported_step < 0 or self.step - self.reported_step >= every or self.step == self.total_steps:
            self.reported_step = self.step
            return True
        return False


def new_events(client: Any, job_id: str, seen: set[str]) -> list[JobEvent]:
    """Events of ``job_id`` not in ``seen``, oldest first (the API lists newest first, in pages)."""
    found: list[JobEvent] = []
    after: str | None = None
    while True:
        page = client.fine_tuning.jobs.list_events(job_id, limit=EVENTS_PAGE, **({"after": after} if after else {}))
        fresh = [event for event in page.data if event.id not in seen]
        found += [JobEvent.from_api(job_id, event) for event in fresh]
        if len(fresh) < len(page.data) or not page.data or not getattr(page, "has_more", False):
            break
        after = page.data[-1].id
    return found[::-1]


def watch(client: Any, job: Any, record: JobRecord, ledger: JobLedger | None, log: Callable[[str], None], *,
          interval: float, timeout: float, sleep: Callable[[float], None] | None = None) -> tuple[Any, Progress]:
    """Poll ``job`` until it ends; keep ``record`` and the events in ``ledger`` as they change."""
    progress = Progress()
    if ledger is not None:
        progress.update(ledger.job_events(record.job_id))
    deadline = time.monotonic() + timeout
    while True:
        events = new_events(client, job.id, progress.seen)
        if events:
            if ledger is not None:
                ledger.add_job_events(events)
            for event in events:
                if event.step is None and event.level in ("warn", "error"):
                    log(f"job {job.id}: {event.level}: {event.message}")
            progress.update(events)
            if progress.due():
                log(f"job {job.id}: {job.status}, {progress.line()}")
        if job.status != record.status:
            record.status = job.status
            if ledger is not None:
                ledger.save_job(record)
            log(f"job {job.id}: {job.status}")
        if job.status in TERMINAL_STATUSES:
            return job, progress
        if time.monotonic() > deadline:
            raise FtplugError(f"fine-tuning job {job.id} still {job.status} after {timeout:.0f} s; it keeps running "
                              "on the server: run again later to pick it up")
        (sleep or time.sleep)(interval)
        job = client.fine_tuning.jobs.retrieve(job.id)


def finished_at(job: Any) -> datetime | None:
    """When the job ended, as a naive UTC datetime."""
    stamp = getattr(job, "finished_at", None)
    return datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None) if stamp else None
