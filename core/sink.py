"""Batched, transactional commits of predictions to the result store."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ftplug.runs import PredictionRecord, RunInfo
from ftplug.store import Store

FLUSH_SECONDS = 0.2
MAX_BATCH = 50_000


@dataclass
class PredictionSink:
    """Collects predictions and commits them to the store in batches: at least ``batch_size`` and at least
    ``FLUSH_SECONDS`` apart, so that a fast local run commits large batches (each commit has a fixed cost)
    while a crash still loses at most a fraction of a second of answers."""

    store: Store
    run: RunInfo
    batch_size: int
    on_stored: Callable[[PredictionRecord], None]
    pending: list[PredictionRecord] = field(default_factory=list)
    stored: int = 0
    last_flush: float = field(default_factory=time.monotonic)
    spent: float = 0.0

    def add(self, record: PredictionRecord) -> None:
        """Take a prediction; commit the batch when it is due."""
        self.pending.append(record)
        if not record.from_cache and record.cost_usd:
            self.spent += record.cost_usd
        if len(self.pending) >= MAX_BATCH or (len(self.pending) >= self.batch_size
                                               and time.monotonic() - self.last_flush >= FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        """Commit what is pending, then tell ``on_stored`` about each prediction."""
        self.last_flush = time.monotonic()
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        self.store.add_predictions(batch, simulated=self.run.simulated)
        self.stored += len(batch)
        for record in batch:
            self.on_stored(record)
