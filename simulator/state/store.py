"""The simulator's in-memory state: uploaded files, fine-tuning jobs, and the clock they share."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftplug.simulator.behaviour.faults import FaultInjector, FaultRule
from ftplug.simulator.http.limits import RateLimiter
from ftplug.simulator.state.clock import Clock
from ftplug.simulator.state.ids import IdMaker

if TYPE_CHECKING:
    from ftplug.simulator.state.batches import Batch
    from ftplug.simulator.state.jobs import Job


@dataclass
class StoredFile:
    """An uploaded (or generated) file."""

    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int

    def to_api(self) -> dict[str, Any]:
        """The ``file`` object."""
        return {"id": self.id, "object": "file", "bytes": len(self.content), "created_at": self.created_at,
                "filename": self.filename, "purpose": self.purpose, "status": "processed",
                "status_details": None, "expires_at": None}


@dataclass(frozen=True)
class JobTiming:
    """How long a simulated fine-tuning job spends in each state (seconds of the simulator's clock)."""

    validating: float = 0.2
    queued: float = 0.2
    per_step: float = 0.002


@dataclass(frozen=True)
class LatencyModel:
    """How long a model takes to answer: time to the first token plus time per generated token."""

    first_token_ms: float = 0.0
    per_token_ms: float = 0.0

    def seconds(self, generated_tokens: int) -> float:
        """The simulated time to produce ``generated_tokens`` tokens."""
        if not self.first_token_ms and not self.per_token_ms:
            return 0.0
        return (self.first_token_ms + self.per_token_ms * max(0, generated_tokens - 1)) / 1000


@dataclass(frozen=True)
class SimulatorOptions:
    """How the simulator behaves beyond its models.

    :param api_key: if set, requests must bear exactly this key (else 401 ``invalid_api_key``).
    :param faults: fault rules (see :mod:`ftplug.simulator.behaviour.faults`).
    :param rpm: requests per minute allowed on model endpoints; ``tpm``: tokens per minute.
    :param record_dir: proxy every JSON request to ``upstream_base_url`` (the real API by default) with
        ``upstream_api_key`` and keep each exchange here. ``replay_dir``: answer from kept exchanges only.
    :param refuse_fine_tuning: answer every new fine-tuning job with a 403, as for an organisation that may
        not fine-tune (OpenAI's self-serve fine-tuning closes to new jobs on 2027-01-06).
    :param max_files: ``max_stored_bytes``: the storage the files API keeps; an upload beyond it is refused.
    :param client_timeout: a slow or half-open client is disconnected after this many idle seconds, so it
        holds one thread at most, never the others.
    :param slots: model requests (chat completions, responses) answered at once; more wait in line for a
        free slot, as on a model server with that many (``None``: no limit). ``openai-processing-ms`` counts
        from the moment a request has its slot, so it leaves the wait out, while the client's time has it.
    """

    api_key: str | None = None
    latency: LatencyModel = LatencyModel()
    faults: tuple[FaultRule, ...] = ()
    rpm: int | None = None
    tpm: int | None = None
    record_dir: Path | None = None
    replay_dir: Path | None = None
    upstream_base_url: str | None = None
    upstream_api_key: str | None = field(default=None, repr=False)
    refuse_fine_tuning: bool = False
    max_files: int = 10_000  # files kept at once; uploads beyond it are refused until some are deleted
    max_stored_bytes: int = 4 << 30  # bytes of file content kept at once (4 GiB)
    client_timeout: float = 30.0  # seconds a connection may sit idle or half-sent before it is closed
    slots: int | None = None


@dataclass
class State:
    """Everything the simulator remembers, behind one lock."""

    seed: int
    clock: Clock
    timing: JobTiming
    options: SimulatorOptions = field(default_factory=SimulatorOptions)
    organization: str = "ftplug-sim"
    lock: threading.RLock = field(default_factory=threading.RLock)
    files: dict[str, StoredFile] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    batches: dict[str, Batch] = field(default_factory=dict)
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted_models: set[str] = field(default_factory=set)
    requests: Counter[str] = field(default_factory=Counter)  # requests received, by "METHOD /path"
    # when the most recent requests arrived (monotonic seconds, "METHOD /path"), to check clients' pacing
    arrivals: deque[tuple[float, str]] = field(default_factory=lambda: deque(maxlen=100_000))

    def __post_init__(self) -> None:
        self.ids = IdMaker(self.seed)
        self.limiter = RateLimiter(self.options.rpm, self.options.tpm)
        self.faults = FaultInjector(self.options.faults, self.seed)

    def now(self) -> int:
        """The clock's current time in whole seconds, as API timestamps are."""
        return int(self.clock.now())

    def add_file(self, filename: str, purpose: str, content: bytes) -> StoredFile:
        """Store a file and return it."""
        with self.lock:
            stored = StoredFile(self.ids.make("file-", 22), filename, purpose, content, self.now())
            self.files[stored.id] = stored
            return stored


def paginate(items: list[dict[str, Any]], after: str | None, limit: int) -> dict[str, Any]:
    """A cursor page: the ``limit`` items following the one whose id is ``after``."""
    start = 0
    if after is not None:
        ids = [item["id"] for item in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    page = items[start:start + limit]
    return {"object": "list", "data": page, "has_more": start + limit < len(items),
            "first_id": page[0]["id"] if page else None, "last_id": page[-1]["id"] if page else None}
