"""Batches submitted for a run (``ftplug run --batch``), remembered in the result store so that an
interrupted run collects them instead of asking (and paying) again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

TERMINAL = ("completed", "failed", "expired", "cancelled")


@dataclass
class BatchRecord:
    """One part of a run's requests sent as one batch.

    :param collected: its answers (and errors) are stored as predictions; nothing more to do.
    """

    batch_id: str
    run_id: str
    part: int
    endpoint: str
    input_file_id: str
    requests: int
    status: str
    created_at: datetime
    simulated: bool
    output_file_id: str | None = None
    error_file_id: str | None = None
    finished_at: datetime | None = None
    collected: bool = False
    error: str | None = None


class BatchLedger(Protocol):
    """Where batch records are kept (the result store)."""

    def save_batch(self, record: BatchRecord) -> None:
        """Insert or update a batch, committed at once."""
        ...

    def run_batches(self, run_id: str) -> list[BatchRecord]:
        """The batches of ``run_id``, in the order of their parts."""
        ...
