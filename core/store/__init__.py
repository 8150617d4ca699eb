"""The result store's interface. The built-in implementation is the DuckDB plugin.

The DuckDB file's tables are a contract users query with SQL:
``runs`` (run_id, experiment, variant, model, started_at, finished_at, status, simulated, …),
``predictions`` (run_id, example_id, output, prompt_tokens, completion_tokens, latency_ms, error,
cost_usd, simulated, server_latency_ms, in_flight, …), ``scores`` (run_id, example_id, scorer, value) and ``examples``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from ftplug.dataset import Splits
from ftplug.store.batches import BatchLedger
from ftplug.store.jobs import JobLedger
from ftplug.store.records import PredictionRecord, RunInfo


class Store(JobLedger, BatchLedger, Protocol):
    """Where runs, predictions, scores, fine-tuning jobs and Batch API batches are kept."""

    path: str

    def save_examples(self, experiment: str, splits: Splits, clusters: dict[str, str] | None = None) -> None:
        """Store every example with the split it belongs to, and the cluster of each example in ``clusters``
        (by id; ``[report] cluster``)."""
        ...

    def start_run(self, run: RunInfo) -> None:
        """Store a new run with status ``running``."""
        ...

    def resumable_run(self, experiment: str, variant: str, config_key: str,
                      shard: str | None = None) -> tuple[str, str, Any] | None:
        """The newest run of ``variant`` stored under ``config_key`` for ``shard`` (``None``: the whole test
        split): ``(run_id, status, started_at)``."""
        ...

    def stored_examples(self, run_id: str) -> set[str]:
        """Examples of ``run_id`` with a prediction that holds no error."""
        ...

    def reopen_run(self, run_id: str) -> None:
        """Mark an earlier run as running again (it is being resumed)."""
        ...

    def run_counts(self, run_id: str) -> tuple[int, int]:
        """Stored predictions of ``run_id`` and how many of them hold an error."""
        ...

    def cached_responses(self, keys: Sequence[str]) -> dict[str, str]:
        """Cached responses (JSON) of those request ``keys`` that are in the response cache."""
        ...

    def set_model(self, run_id: str, model: str) -> None:
        """Record the model a run ended up using (a trainer may have produced a new one)."""
        ...

    def set_answered_here(self, run_id: str) -> None:
        """Record that a run is answered in ftplug's process: not simulated, its endpoint ``local`` (its
        predictions too)."""
        ...

    def add_predictions(self, records: Sequence[PredictionRecord], simulated: bool) -> None:
        """Commit a batch of predictions and their scores in one transaction.

        Called from a writer thread while the runner goes on with other calls on its own thread: one batch
        at a time, never concurrently with itself."""
        ...

    def finish_run(self, run_id: str, status: str, finished_at: datetime, error: str | None,
                   details: Mapping[str, Any]) -> None:
        """Set a run's final status."""
        ...

    def variant_rows(self, experiment: str | None = None) -> list[dict[str, Any]]:
        """The latest run of each variant (of ``experiment``, or of the most recent experiment) with
        its aggregate numbers: one dict per variant, for reports."""
        ...

    # The report's statistics come from these reads (see ftplug.report.matrix and the DuckDB plugin):
    # variant_rows, scorer_names, example_span, score_cells, score_errors, prediction_sample,
    # prediction_histograms and label_counts. A store without them cannot report.

    def close(self) -> None:
        """Flush and release the store."""
        ...


def open_store(path: str) -> Store:
    """Open the store at ``path`` through the first plugin that answers ``ftplug_open_store``."""
    from ftplug.errors import FtplugError
    from ftplug.pluginhost.manager import get_plugins

    store = get_plugins().hook.ftplug_open_store(path=path)
    if store is None:
        raise FtplugError(f"no plugin can open a store at {path}")
    return store


def open_existing_store(path: str) -> Store:
    """Like :func:`open_store`, but a missing file is an error (for commands that only read results)."""
    from pathlib import Path

    from ftplug.errors import InputError

    if path != ":memory:" and not Path(path).exists():
        raise InputError("no such result store (run `ftplug run` first, or pass --db)", path=path)
    return open_store(path)
