"""Read-only access to a result store for ``ftplug sql`` and ``ftplug export``, and row formatting."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

EXPORTED = ("examples", "runs", "predictions", "scores", "finetune_jobs", "finetune_events", "summary", "costs",
            "comparisons")


@contextmanager
def read_only(db: str) -> Iterator[Any]:
    """A read-only DuckDB connection to an existing result store."""
    from ftplug.errors import InputError
    from ftplug.plugins.duckdb_store.store import connect_result_file

    if not Path(db).exists():
        raise InputError("no such result store (run `ftplug run` first, or pass --db)", path=db)
    with connect_result_file(db, read_only=True) as connection:
        yield connection


def format_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> str:
    """Rows as an aligned ``table``, ``csv``, ``json`` (a list of objects) or ``tsv``."""
    if fmt == "json":
        return json.dumps([dict(zip(columns, row, strict=True)) for row in rows], indent=2, default=str)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    cells = [["" if value is None else str(value) for value in row] for row in rows]
    if fmt == "tsv":
        return "\n".join("\t".join(line) for line in [list(columns), *cells])
    widths = [max(len(str(c)) for c in column) for column in zip(columns, *cells, strict=True)]
    lines = [list(columns), ["-" * w for w in widths], *cells]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)
