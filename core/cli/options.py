"""What several commands share: the result file they read or write, and its ``--db`` option."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import click

DEFAULT_DB = "ftplug.duckdb"  # the result file, in the current folder


MAX_SHARDS = 10_000  # slices of a test split (more would leave most of them empty)


def db_option(help: str = "DuckDB file with the results.") -> Callable[[Any], Any]:
    """The ``--db FILE`` option (default :data:`DEFAULT_DB`)."""
    return click.option("--db", default=DEFAULT_DB, show_default=True, help=help, callback=named_file)


def named_file(_context: click.Context, parameter: click.Parameter, value: Any) -> Any:
    """A file argument or option as given, refused when it is empty or only spaces (which would name the
    current folder)."""
    if value is not None and str(value).strip() in ("", "."):  # a path type makes '' the current folder, '.'
        raise click.BadParameter(f"must name a file, got {str(value)!r}", param=parameter)
    return value


class FiniteRange(click.FloatRange):
    """A float flag within its range, never NaN or infinity (which a plain range lets through)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """``value`` as a float, refused unless finite and within the range."""
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def int_within(bounds: tuple[int, int]) -> click.IntRange:
    """An integer flag within ``(lowest, highest)``, both allowed."""
    return click.IntRange(*bounds)


def number_within(bounds: tuple[float, float], *, open_below: bool = False) -> FiniteRange:
    """A finite float flag within ``(lowest, highest)`` (the lowest excluded with ``open_below``)."""
    return FiniteRange(bounds[0], bounds[1], min_open=open_below)
