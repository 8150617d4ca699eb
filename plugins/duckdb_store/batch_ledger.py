"""Batches of ``ftplug run --batch`` in the DuckDB store: the :class:`ftplug.store.batches.BatchLedger`."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from ftplug.store.batches import BatchRecord

BATCH_COLUMNS = [f.name for f in fields(BatchRecord)]


class BatchLedgerTables:
    """Mixed into :class:`ftplug.plugins.duckdb_store.store.DuckDBStore`; needs its connection ``db``."""

    db: Any

    def save_batch(self, record: BatchRecord) -> None:
        """Insert or update a batch, committed at once."""
        self.db.execute(f"INSERT OR REPLACE INTO batch_jobs ({', '.join(BATCH_COLUMNS)}) "
                        f"VALUES ({', '.join('?' for _ in BATCH_COLUMNS)})",
                        [getattr(record, name) for name in BATCH_COLUMNS])

    def run_batches(self, run_id: str) -> list[BatchRecord]:
        """The batches of ``run_id``, in the order of their parts."""
        rows = self.db.execute(f"SELECT {', '.join(BATCH_COLUMNS)} FROM batch_jobs WHERE run_id = ? ORDER BY part",
                               [run_id]).fetchall()
        return [BatchRecord(**dict(zip(BATCH_COLUMNS, row, strict=True))) for row in rows]
