"""Batched, transactional commits of predictions to the result store."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from ftplug.engine.budget import Budget
from ftplug.store import Store
from ftplug.store.records import PredictionRecord, RunInfo

FLUSH_SECONDS = 0.2
MAX_BATCH = 50_000


@dataclass
class PredictionSink:
    """Collects predictions and commits them to the store in batches: at least ``batch_size`` and at least
    ``FLUSH_SECONDS`` apart, so that a fast local run commits large batches (each commit has a fixed cost)
    while a crash still loses at most a fraction of a second of answers.

    With ``background``, each commit runs on a writer thread while the caller goes on (the database works
    outside the GIL, so requests keep flowing during a commit); commits stay one at a time and in order,
    and ``on_stored`` is still called on the caller's thread, once its batch is committed.
    """

    store: Store
    run: RunInfo
    batch_size: int
    on_stored: Callable[[PredictionRecord], None]
    background: bool = False
    budget: Budget | None = None  # charged for every paid answer as it is taken
    pending: list[PredictionRecord] = field(default_factory=list)
    stored: int = 0
    last_flush: float = field(default_factory=time.monotonic)
    _writer: ThreadPoolExecutor | None = None
    _writing: tuple[Future[None], list[PredictionRecord]] | None = None

    def add(self, record: PredictionRecord) -> None:
        """Take a prediction; commit the batch when it is due."""
        self.pending.append(record)
        if self.budget is not None and not record.from_cache and record.cost_usd:
            self.budget.charge(record.cost_usd)
        if len(self.pending) >= MAX_BATCH or (len(self.pending) >= self.batch_size
                                               and time.monotonic() - self.last_flush >= FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        """Commit what is pending (on the writer thread with ``background``: see :meth:`close`)."""
        self.last_flush = time.monotonic()
        self._settle()
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        if not self.background:
            self.store.add_predictions(batch, simulated=self.run.simulated)
            self._stored(batch)
            return
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ftplug-store")
        self._writing = (self._writer.submit(self.store.add_predictions, batch, simulated=self.run.simulated), batch)

    def commit(self) -> None:
        """Commit everything pending and wait until it is committed."""
        self.flush()
        self._settle()

    def close(self) -> None:
        """Commit everything pending and wait until it is committed; raises what a commit raised."""
        try:
            self.flush()
            self._settle()
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)
                self._writer = None

    def _settle(self) -> None:
        """Wait for the commit in flight, if any, and report its predictions."""
        if self._writing is None:
            return
        future, batch = self._writing
        self._writing = None
        future.result()
        self._stored(batch)

    def _stored(self, batch: list[PredictionRecord]) -> None:
        self.stored += len(batch)
        for record in batch:
            self.on_stored(record)
