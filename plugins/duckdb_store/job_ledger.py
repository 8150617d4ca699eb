"""Fine-tuning jobs and their events in the DuckDB store: the :class:`ftplug.store.jobs.JobLedger`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from ftplug.store.jobs import JobEvent, JobRecord

JOB_COLUMNS = [f.name for f in fields(JobRecord)]
EVENT_COLUMNS = [f.name for f in fields(JobEvent)]


class JobLedgerTables:
    """Mixed into :class:`ftplug.plugins.duckdb_store.store.DuckDBStore`; needs its connection ``db`` and
    ``_transaction()``."""

    db: Any

    def _transaction(self) -> Any:  # provided by the store
        raise NotImplementedError

    def find_job(self, key: str) -> JobRecord | None:
        """The newest job with ``key``."""
        return next(iter(self._jobs("WHERE key = ? ORDER BY created_at DESC LIMIT 1", [key])), None)

    def get_job(self, job_id: str) -> JobRecord | None:
        """The job ``job_id``."""
        return next(iter(self._jobs("WHERE job_id = ?", [job_id])), None)

    def jobs(self) -> list[JobRecord]:
        """Every job, newest first."""
        return self._jobs("ORDER BY created_at DESC", [])

    def save_job(self, record: JobRecord) -> None:
        """Insert or update a job, committed at once."""
        values = [json.dumps(v) if name == "hyperparameters" else v
                  for name, v in ((n, getattr(record, n)) for n in JOB_COLUMNS)]
        placeholders = ", ".join("?" for _ in JOB_COLUMNS)
        with self._transaction():
            self.db.execute(f"INSERT OR REPLACE INTO finetune_jobs ({', '.join(JOB_COLUMNS)}) "
                            f"VALUES ({placeholders})", values)

    def add_job_events(self, events: Sequence[JobEvent]) -> None:
        """Store new events (those already stored are left as they are)."""
        if not events:
            return
        simulated = {e.job_id: self._job_simulated(e.job_id) for e in events}
        # seq keeps the order events happened in: the API's timestamps are whole seconds
        seq = {job_id: self.db.execute("SELECT coalesce(max(seq), 0) FROM finetune_events WHERE job_id = ?",
                                       [job_id]).fetchone()[0] for job_id in simulated}
        rows = []
        for event in events:
            seq[event.job_id] += 1
            rows.append([*(json.dumps(getattr(event, n)) if n == "data" and getattr(event, n) is not None
                           else getattr(event, n) for n in EVENT_COLUMNS), simulated[event.job_id], seq[event.job_id]])
        placeholders = ", ".join("?" for _ in range(len(EVENT_COLUMNS) + 2))
        with self._transaction():
            self.db.executemany(f"INSERT OR IGNORE INTO finetune_events ({', '.join(EVENT_COLUMNS)}, simulated, seq) "
                                f"VALUES ({placeholders})", rows)

    def job_events(self, job_id: str) -> list[JobEvent]:
        """A job's events, oldest first."""
        cursor = self.db.execute(f"SELECT {', '.join(EVENT_COLUMNS)} FROM finetune_events WHERE job_id = ? "
                                 "ORDER BY seq", [job_id])
        return [JobEvent(**{**dict(zip(EVENT_COLUMNS, row, strict=True)),
                            "data": json.loads(row[-1]) if row[-1] else None}) for row in cursor.fetchall()]

    def _job_simulated(self, job_id: str) -> bool:
        row = self.db.execute("SELECT simulated FROM finetune_jobs WHERE job_id = ?", [job_id]).fetchone()
        return bool(row[0]) if row else False

    def _jobs(self, clause: str, parameters: list[Any]) -> list[JobRecord]:
        cursor = self.db.execute(f"SELECT {', '.join(JOB_COLUMNS)} FROM finetune_jobs {clause}", parameters)
        records = []
        for row in cursor.fetchall():
            values = dict(zip(JOB_COLUMNS, row, strict=True))
            values["hyperparameters"] = json.loads(values["hyperparameters"]) if values["hyperparameters"] else {}
            records.append(JobRecord(**values))
        return records
