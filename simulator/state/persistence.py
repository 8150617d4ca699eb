"""Keeping the simulator's files, jobs, batches and deleted models in a folder across restarts.

``state.json`` holds the objects; file contents live beside it as ``files/<id>``. The snapshot is
rewritten (atomically) after every request that changed something.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from ftplug.simulator.behaviour.training_data import parse_training_file
from ftplug.simulator.state.jobs import Job
from ftplug.simulator.state.store import JobTiming, State, StoredFile

_JOB_FIELDS = [f.name for f in fields(Job) if f.name not in ("examples", "timing")]


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def save(state: State, folder: Path) -> None:
    """Write the state's snapshot into ``folder``."""
    (folder / "files").mkdir(parents=True, exist_ok=True)
    with state.lock:
        for stored in state.files.values():
            blob = folder / "files" / stored.id
            if not blob.exists():
                _write_atomically(blob, stored.content)
        snapshot = {
            "counter": state.ids.counter,
            "files": [{"id": f.id, "filename": f.filename, "purpose": f.purpose, "created_at": f.created_at}
                      for f in state.files.values()],
            "jobs": [{**{name: getattr(job, name) for name in _JOB_FIELDS}, "timing": asdict(job.timing)}
                     for job in state.jobs.values()],
            "batches": [batch.to_snapshot() for batch in state.batches.values()],
            "deleted_models": sorted(state.deleted_models),
        }
    _write_atomically(folder / "state.json", json.dumps(snapshot).encode())


_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def load(state: State, folder: Path) -> None:
    """Restore a snapshot written by :func:`save`, if ``folder`` holds one."""
    path = folder / "state.json"
    if not path.exists():
        return
    snapshot: dict[str, Any] = json.loads(path.read_text())
    for record in snapshot.get("files", []):  # ids name files in the folder: never a path
        if not isinstance(record.get("id"), str) or not _PLAIN_ID.fullmatch(record["id"]):
            raise ValueError(f"{path}: file id {record.get('id')!r} is not one this simulator makes")
    from ftplug.simulator.state.batches import Batch

    with state.lock:
        state.ids.counter = snapshot["counter"]
        for record in snapshot["files"]:
            content = (folder / "files" / record["id"]).read_bytes()
            state.files[record["id"]] = StoredFile(content=content, **record)
        for record in snapshot["jobs"]:
            job = Job(**{k: v for k, v in record.items() if k != "timing"}, timing=JobTiming(**record["timing"]))
            training = state.files.get(job.training_file)
            if training is not None and job.error is None:  # it was valid when the job was created
                job.examples = parse_training_file(training.content)
            state.jobs[job.id] = job
        for record in snapshot.get("batches", []):
            batch = Batch.from_snapshot(record)
            state.batches[batch.id] = batch
        state.deleted_models.update(snapshot["deleted_models"])
