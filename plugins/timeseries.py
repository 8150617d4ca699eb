"""The ``timeseries`` loader: windows of one or many series from a CSV or Parquet file, read through DuckDB.

Each example shows ``window`` consecutive observations of one series and asks for the observation
``horizon`` steps after the last (its value, % change or direction, see :mod:`ftplug.series`); windows
start every ``stride`` observations. Examples carry their time span, so the experiment is split
chronologically (every test window after every training and validation window, see
:func:`ftplug.dataset.split_chronologically`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ftplug import hookimpl
from ftplug.components import LoadContext, Option
from ftplug.dataset import Example
from ftplug.errors import ConfigError, DataError
from ftplug.plugins.loaders import resolve_data_path
from ftplug.series import TARGETS, SeriesFormat, Target, render
from ftplug.sql_text import sql_literal

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
            "FLOAT", "DOUBLE", "DECIMAL")


class TimeSeriesLoader:
    """Windows of the numeric series in a table: wide (a column per series) or long (series, value)."""

    chronological = True  # the split must keep time order (see ftplug.planning.load_splits)

    def __init__(self, path: str, layout: str = "wide", date: str = "", columns: Sequence[str] = (),
                 series: str = "series", value: str = "value", window: int = 30, horizon: int = 1,
                 stride: int = 0, target: str = "direction", flat: float = 0.0, answer_decimals: int = -1,
                 decimals: int = -1, separator: str = "newline", relative: bool = False, dates: bool = True,
                 title: bool = True) -> None:
        if window < 2:
            raise ConfigError(f"window: must be at least 2 observations, got {window}")
        if horizon < 1:
            raise ConfigError(f"horizon: must be at least 1 step, got {horizon}")
        if stride < 0:
            raise ConfigError(f"stride: must be at least 1 (0: the window's length), got {stride}")
        if flat < 0:
            raise ConfigError(f"flat: the band is a half-width in %, ≥ 0, got {flat}")
        if any(not isinstance(c, str) for c in columns):
            raise ConfigError("columns: must be a list of column names")
        self.path, self.layout, self.date, self.columns = path, layout, date, tuple(columns)
        self.series_column, self.value_column = series, value
        self.window, self.horizon, self.stride = window, horizon, stride or window
        self.target = Target(kind=target, horizon=horizon, flat=flat, decimals=answer_decimals)
        self.style = SeriesFormat.from_options({"decimals": decimals, "separator": separator, "relative": relative,
                                                "dates": dates, "title": title})

    def load(self, context: LoadContext) -> Iterator[Example]:
        """Yield every complete window of every series (a window or target with a missing value is skipped)."""
        path = resolve_data_path(self.path, context)
        for name, values, dates, keys in self._series(path):
            yield from self._windows(name, values, dates, keys)

    def _series(self, path: Path) -> Iterator[tuple[str, list[float], list[str] | None, list[Any]]]:
        import duckdb

        connection = duckdb.connect(":memory:")
        try:
            yield from self._read(connection, path)
        finally:
            connection.close()

    def _read(self, connection: Any, path: Path) -> Iterator[tuple[str, list[float], list[str] | None, list[Any]]]:
        """Each series of the file: its name, values (NaN where missing), dates and time keys."""
        import duckdb

        reader = "read_parquet" if path.suffix.lower() in (".parquet", ".pq") else "read_csv"
        try:
            connection.execute(f"CREATE VIEW raw AS SELECT * FROM {reader}({sql_literal(str(path))})")
            connection.execute("CREATE TEMP TABLE data AS SELECT row_number() OVER () + 1 AS _line, * FROM raw")
            types = dict(connection.execute("SELECT column_name, data_type FROM information_schema.columns "
                                            "WHERE table_name = 'data'").fetchall())
        except duckdb.Error as error:
            raise DataError(f"cannot read as {'Parquet' if 'parquet' in reader else 'CSV'}: "
                            f"{str(error).splitlines()[0]}", path=path) from None
        available = [c for c in types if c != "_line"]
        if self.date:
            self._require(path, available, self.date, "date")
        if self.layout == "wide":
            chosen = list(self.columns) or [c for c in available if c != self.date and (
                _numeric(types[c]) or _mostly_numbers(connection, c))]
            if not chosen:
                raise DataError(f"no numeric column to read as a series (columns: {', '.join(available)})", path=path)
            for column in chosen:
                self._require(path, available, column, "columns")
                self._check_numeric(connection, path, column, types[column])
            order = f'ORDER BY "{self.date}"' if self.date else "ORDER BY _line"
            dates = self._dates(connection, order) if self.date else None
            for column in chosen:
                values = [float("nan") if v is None else float(v) for (v,) in connection.execute(
                    f'SELECT "{column}"::DOUBLE FROM data {order}').fetchall()]
                yield column, values, dates, list(dates) if dates is not None else list(range(len(values)))
        else:
            self._require(path, available, self.series_column, "series")
            self._require(path, available, self.value_column, "value")
            self._check_numeric(connection, path, self.value_column, types[self.value_column])
            names = [str(n) for (n,) in connection.execute(
                f'SELECT DISTINCT "{self.series_column}"::VARCHAR AS n FROM data ORDER BY n').fetchall()]
            for name in names:
                where = f"WHERE \"{self.series_column}\"::VARCHAR = {sql_literal(name)}"
                order = f'ORDER BY "{self.date}"' if self.date else "ORDER BY _line"
                rows = connection.execute(f'SELECT "{self.value_column}"::DOUBLE, '
                                          f'{_date_sql(self.date) if self.date else "NULL"} FROM data {where} {order}'
                                          ).fetchall()
                values = [float("nan") if v is None else float(v) for v, _ in rows]
                dates = [str(d) for _, d in rows] if self.date else None
                yield name, values, dates, list(dates) if dates is not None else list(range(len(values)))

    def _dates(self, connection: Any, order: str) -> list[str]:
        return [str(d) for (d,) in connection.execute(f"SELECT {_date_sql(self.date)} FROM data {order}").fetchall()]

    def _require(self, path: Path, available: list[str], column: str, option: str) -> None:
        if column not in available:
            raise DataError(f"no column {column!r} (named by the loader's {option!r}; columns: "
                            f"{', '.join(available)})", path=path, where=1)

    def _check_numeric(self, connection: Any, path: Path, column: str, data_type: str) -> None:
        if _numeric(data_type):
            return
        bad = connection.execute(f'SELECT _line, "{column}" FROM data WHERE "{column}" IS NOT NULL AND '
                                 f'TRY_CAST("{column}" AS DOUBLE) IS NULL ORDER BY _line LIMIT 1').fetchone()
        if bad is not None:
            raise DataError(f"column {column!r}: {str(bad[1])!r} is not a number", path=path, where=int(bad[0]))

    def _windows(self, name: str, values: list[float], dates: list[str] | None, keys: list[Any]) -> Iterator[Example]:
        span = self.window + self.horizon
        for start in range(0, len(values) - span + 1, self.stride):
            shown = values[start:start + self.window]
            truth = values[start + self.window - 1 + self.horizon]
            if any(v != v for v in shown) or truth != truth:  # NaN: a missing value
                continue
            last = start + self.window - 1
            shown_dates = dates[start:start + self.window] if dates is not None else None
            yield Example(
                id=f"{name}@{keys[last]}",
                input=render(name, shown, shown_dates, self.style),
                expected=self.target.text(shown[-1], truth),
                metadata={"series": name, "values": shown, "dates": shown_dates, "truth": truth,
                          "target": self.target.as_dict(), "format": self.style.as_dict(),
                          "first": keys[start], "origin": keys[last], "end": keys[last + self.horizon]})


def _mostly_numbers(connection: Any, column: str) -> bool:
    """A text column most of whose values are numbers: a series with a few bad values (reported by line)."""
    share = connection.execute(f'SELECT avg((TRY_CAST("{column}" AS DOUBLE) IS NOT NULL)::INT) FROM data '
                               f'WHERE "{column}" IS NOT NULL').fetchone()[0]
    return share is not None and share >= 0.5


def _numeric(data_type: str) -> bool:
    return data_type.split("(")[0] in _NUMERIC


def _date_sql(column: str) -> str:
    """The date column as ISO text (``YYYY-MM-DD``, or with the time of day when it has one)."""
    return (f'CASE WHEN try_cast("{column}" AS TIMESTAMP) IS NULL THEN "{column}"::VARCHAR '
            f'WHEN try_cast("{column}" AS TIMESTAMP) = try_cast("{column}" AS DATE) '
            f'THEN strftime(try_cast("{column}" AS DATE), \'%Y-%m-%d\') '
            f'ELSE strftime(try_cast("{column}" AS TIMESTAMP), \'%Y-%m-%dT%H:%M:%S\') END')


@hookimpl
def ftplug_register_loaders(register: Any) -> None:
    """Contribute the ``timeseries`` loader."""
    register("timeseries", TimeSeriesLoader, description="windows of numeric series (CSV or Parquet, wide or long), "
                                                          "split chronologically", options=[
        Option("path", str, help="CSV or Parquet file (.parquet), relative to the experiment file"),
        Option("layout", str, "wide", "wide: a column per series; long: a series column and a value column",
               choices=("wide", "long")),
        Option("date", str, "", "the date column (optional): orders rows, shown in prompts, names windows"),
        Option("columns", list, [], "wide layout: the series columns (default: every numeric column)"),
        Option("series", str, "series", "long layout: the column naming each row's series"),
        Option("value", str, "value", "long layout: the column holding the values"),
        Option("window", int, 30, "observations shown per example (W)"),
        Option("horizon", int, 1, "steps ahead of the last shown observation to predict (H)"),
        Option("stride", int, 0, "observations between window starts (S; 0 = the window's length)"),
        Option("target", str, "direction", "what to predict", choices=TARGETS),
        Option("flat", float, 0.0, "direction: the band (±%) counted as flat"),
        Option("answer_decimals", int, -1, "value / pct_change: digits of the answer (-1: exact; pct_change 2)"),
        Option("decimals", int, -1, "digits shown per observation (-1: as in the data)"),
        Option("separator", str, "newline", "between observations", choices=("newline", "comma", "space", "semicolon")),
        Option("relative", bool, False, "show % changes instead of levels"),
        Option("dates", bool, True, "show dates (when there is a date column)"),
        Option("title", bool, True, "show a first line naming the series"),
    ])
