"""Text inlined into SQL."""

from __future__ import annotations


def sql_literal(text: str) -> str:
    """``text`` as a SQL string literal (quoted, its quotes doubled), for the places a value cannot be bound
    as a parameter (``ATTACH``, a file reader's path) or should not be (a filter inlined for DuckDB's
    constant folding)."""
    return "'" + text.replace("'", "''") + "'"
