"""What several commands share: the result file they read or write, and its ``--db`` option."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

DEFAULT_DB = "ftplug.duckdb"  # the result file, in the current folder


def db_option(help: str = "DuckDB file with the results.") -> Callable[[Any], Any]:
    """The ``--db FILE`` option (default :data:`DEFAULT_DB`)."""
    return click.option("--db", default=DEFAULT_DB, show_default=True, help=help)
