"""The ``timeseries`` loader: windows of one or many series from a CSV or Parquet file, read through DuckDB.

Each example shows ``window`` consecutive observations of one series and asks for the observation
``horizon`` steps after the last (its value, % change or direction, see :mod:`ftplug.dataset.series`); windows
start every ``stride`` observations. Examples carry their time span, so the experiment is split
chronologically (every test window after every training and validation window, see
:func:`ftplug.dataset.split_chronologically`).

Dates are parsed, never compared as text: the whole date column is read in one format, chosen once from
ISO 8601 and the common written forms (``30 May 1980``, ``May 30, 1980``, ``30-May-1980``, ``1980-05``,
``30/05/1980``, …) as the format that reads every value, or given by the loader's ``date_format``. A
column two formats read differently (``05/06/1980``: 5 June or 6 May) is refused rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

from ftplug import hookimpl
from ftplug.components import Help, LoadContext
from ftplug.dataset import Example
from ftplug.dataset.series import TARGETS, NaiveScale, SeriesFormat, Target, render
from ftplug.errors import ConfigError, DataError
from ftplug.plugins.loaders.files import resolve_data_path
from ftplug.store.sql_text import sql_literal

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
            "FLOAT", "DOUBLE", "DECIMAL")

ISO = "ISO 8601"  # the candidate read by DuckDB's own cast (dates, times, fractions of a second, UTC offsets)
_DATE_FORMATS = (
    "%Y-%m", "%Y/%m", "%Y/%m/%d", "%Y.%m.%d",
    "%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y", "%m-%d-%Y", "%d.%m.%Y", "%m.%d.%Y",
    "%d/%m/%y", "%m/%d/%y", "%d-%m-%y", "%m-%d-%y", "%d.%m.%y", "%y-%m-%d", "%y/%m/%d",
    "%d %b %Y", "%d %B %Y", "%d-%b-%Y", "%d-%B-%Y", "%d/%b/%Y", "%d %b %y", "%d-%b-%y",
    "%b %d, %Y", "%B %d, %Y", "%b %d %Y", "%B %d %Y", "%b. %d, %Y",
    "%a, %d %b %Y", "%a %d %b %Y", "%A, %d %B %Y", "%a, %b %d, %Y", "%A, %B %d, %Y", "%a %b %d %Y",
    "%b %Y", "%B %Y", "%b-%Y", "%b-%y", "%Y %b", "%Y-%b",
)
_TIMES = ("", " %H:%M", " %H:%M:%S", " %H:%M:%S.%f", " %I:%M %p", " %I:%M:%S %p", "T%H:%M", "T%H:%M:%S")
CANDIDATE_FORMATS = (ISO, *(date + time for date in _DATE_FORMATS for time in _TIMES))
_SAMPLE = 200  # distinct dates every candidate is first tried on; the survivors are then tried on all of them


class TimeSeriesLoader:
    """Windows of the numeric series in a table: wide (a column per series) or long (series, value)."""

    chronological = True  # the split must keep time order (see ftplug.engine.planning.load_splits)

    def __init__(
            self,
            path: Annotated[str, Help("CSV or Parquet file (.parquet), relative to the experiment file")],
            layout: Annotated[str, Help("wide: a column per series; long: a series column and a value column",
                                        choices=("wide", "long"))] = "wide",
            date: Annotated[str, Help("the date column (optional): orders rows, shown in prompts, names windows")] = "",
            columns: Annotated[Sequence[str], Help("wide layout: the series columns (default: every numeric "
                                                   "column)")] = (),
            series: Annotated[str, Help("long layout: the column naming each row's series")] = "series",
            value: Annotated[str, Help("long layout: the column holding the values")] = "value",
            window: Annotated[int, Help("observations shown per example (W)", within=(2, 100_000))] = 30,
            horizon: Annotated[int, Help("steps ahead of the last shown observation to predict (H)",
                                         within=(1, 100_000))] = 1,
            stride: Annotated[int, Help("observations between window starts (S; 0 = the window's length)",
                                        within=(0, 10_000_000))] = 0,
            target: Annotated[str, Help("what to predict", choices=TARGETS)] = "direction",
            flat: Annotated[float, Help("direction: the band (±%) counted as flat", within=(0, 1000))] = 0.0,
            answer_decimals: Annotated[int, Help("value / pct_change: digits of the answer (-1: exact; "
                                                 "pct_change 2)", within=(-1, 15))] = -1,
            decimals: Annotated[int, Help("digits shown per observation (-1: as in the data)", within=(-1, 15))] = -1,
            separator: Annotated[str, Help("between observations",
                                           choices=("newline", "comma", "space", "semicolon"))] = "newline",
            relative: Annotated[bool, Help("show % changes instead of levels")] = False,
            dates: Annotated[bool, Help("show dates (when there is a date column)")] = True,
            title: Annotated[bool, Help("show a first line naming the series")] = True,
            date_format: Annotated[str, Help('how the dates are written, in strptime form (e.g. "%d/%m/%Y"); '
                                             "needed only when a day/month order is ambiguous (default: "
                                             "inferred from the whole column)")] = "",
    ) -> None:
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
        if date_format and not date:
            raise ConfigError("date_format: reads the date column, so the loader needs one (date = \"...\")")
        if date_format and "%" not in date_format:
            raise ConfigError(f"date_format: a strptime format such as \"%d/%m/%Y\", got {date_format!r}")
        self.path, self.layout, self.date, self.columns = path, layout, date, tuple(columns)
        self.date_format = date_format
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
        """Each series of the file in time order: its name, values (NaN where missing), dates and time keys."""
        import duckdb

        reader = "read_parquet" if path.suffix.lower() in (".parquet", ".pq") else "read_csv"
        try:
            connection.execute("SET TimeZone = 'UTC'")  # times without an offset are read as they are written
            source = f"{reader}({sql_literal(str(path))})"
            connection.execute(f"CREATE VIEW raw AS SELECT * FROM {source}")
            columns = [row[0] for row in connection.execute("DESCRIBE raw").fetchall()]
            if reader == "read_csv" and self.date in columns:
                # DuckDB's sniffer would guess a format for a column such as 05/06/1980; the loader decides
                source = f"read_csv({sql_literal(str(path))}, types = {{{sql_literal(self.date)}: 'VARCHAR'}})"
                connection.execute(f"CREATE OR REPLACE VIEW raw AS SELECT * FROM {source}")
            connection.execute("CREATE TEMP TABLE data AS SELECT row_number() OVER () + 1 AS _line, * FROM raw")
            types = dict(connection.execute("SELECT column_name, data_type FROM information_schema.columns "
                                            "WHERE table_name = 'data'").fetchall())
        except duckdb.Error as error:
            raise DataError(f"cannot read as {'Parquet' if 'parquet' in reader else 'CSV'}: "
                            f"{str(error).splitlines()[0]}", path=path) from None
        available = [c for c in types if c != "_line"]
        if self.date:
            self._require(path, available, self.date, "date")
            shown = self._parse_dates(connection, path, types[self.date])
            order = "ORDER BY _when, _line"
        else:
            shown, order = "NULL", "ORDER BY _line"
        if self.layout == "wide":
            chosen = list(self.columns) or [c for c in available if c != self.date and (
                _numeric(types[c]) or _mostly_numbers(connection, c))]
            if not chosen:
                raise DataError(f"no numeric column to read as a series (columns: {', '.join(available)})", path=path)
            for column in chosen:
                self._require(path, available, column, "columns")
                self._check_numeric(connection, path, column, types[column])
            times = connection.execute(f"SELECT {shown}, _when FROM data {order}").fetchall() if self.date else None
            for column in chosen:
                values = [float("nan") if v is None else float(v) for (v,) in connection.execute(
                    f'SELECT "{column}"::DOUBLE FROM data {order}').fetchall()]
                if times is None:
                    yield column, values, None, list(range(len(values)))
                else:
                    yield column, values, [d for d, _ in times], _keys(times)
        else:
            self._require(path, available, self.series_column, "series")
            self._require(path, available, self.value_column, "value")
            self._check_numeric(connection, path, self.value_column, types[self.value_column])
            names = [str(n) for (n,) in connection.execute(
                f'SELECT DISTINCT "{self.series_column}"::VARCHAR AS n FROM data ORDER BY n').fetchall()]
            for name in names:
                where = f"WHERE \"{self.series_column}\"::VARCHAR = {sql_literal(name)}"
                rows = connection.execute(f'SELECT "{self.value_column}"::DOUBLE, {shown}, '
                                          f'{"_when" if self.date else "NULL"} FROM data {where} {order}').fetchall()
                values = [float("nan") if v is None else float(v) for v, _, _ in rows]
                if self.date:
                    yield name, values, [d for _, d, _ in rows], _keys([(d, k) for _, d, k in rows])
                else:
                    yield name, values, None, list(range(len(values)))

    def _parse_dates(self, connection: Any, path: Path, data_type: str) -> str:
        """Give every row its time in a column ``_when`` and return the SQL of the date as shown.

        Date and timestamp columns (Parquet) are times already; a text column is read in one format for
        the whole column (``date_format``, or the one candidate format that reads every value); a column of
        plain numbers (positions, years, decimal years) is kept as numbers, ordered as numbers.

        :raises DataError: naming the line of an empty date, a value that is not a date, or a value two
            formats that both read the whole column read differently.
        """
        column = f'"{self.date}"'
        base = data_type.split("(")[0]
        empty = connection.execute(f"SELECT _line FROM data WHERE {column} IS NULL OR trim({column}::VARCHAR) = '' "
                                   "ORDER BY _line LIMIT 1").fetchone()
        if empty is not None:
            raise DataError(f"column {self.date!r}: the date is empty (every row needs its date)", path=path,
                            where=int(empty[0]))
        text = f"trim({column}::VARCHAR)"
        if base == "DATE" or base.startswith("TIMESTAMP"):
            when, kind, text = "timezone('UTC', {value}::TIMESTAMPTZ)", "TIMESTAMP", column
        elif self.date_format:
            when, kind = self._with_format(connection, path, text), "TIMESTAMP"
        elif _numeric(data_type) or connection.execute(
                f"SELECT bool_and(isfinite(TRY_CAST({text} AS DOUBLE))) FROM data").fetchone()[0]:
            when, kind = "{value}::DOUBLE", "DOUBLE"
        else:
            when, kind = self._infer_format(connection, path, text), "TIMESTAMP"
        connection.execute(f"ALTER TABLE data ADD COLUMN _when {kind}")
        connection.execute(f"UPDATE data SET _when = {when.format(value=text)}")  # a template of {value}
        if kind == "DOUBLE":
            return text
        return ("CASE WHEN _when = date_trunc('day', _when) THEN strftime(_when, '%Y-%m-%d') "
                "WHEN _when = date_trunc('second', _when) THEN strftime(_when, '%Y-%m-%dT%H:%M:%S') "
                "ELSE strftime(_when, '%Y-%m-%dT%H:%M:%S.%f') END")

    def _with_format(self, connection: Any, path: Path, text: str) -> str:
        """The SQL template reading the date column with ``date_format``; every value must match it."""
        import duckdb

        when = _format_sql(self.date_format)
        try:
            bad = connection.execute(f"SELECT _line, {text} FROM data WHERE {when.format(value=text)} IS NULL "
                                     "ORDER BY _line LIMIT 1").fetchone()
        except duckdb.Error as error:
            raise ConfigError(f"date_format: {self.date_format!r} is not a strptime format: "
                              f"{str(error).splitlines()[0]}") from None
        if bad is not None:
            raise DataError(f"column {self.date!r}: date {bad[1]!r} does not match date_format "
                            f"\"{self.date_format}\"", path=path, where=int(bad[0]))
        return when

    def _infer_format(self, connection: Any, path: Path, text: str) -> str:
        """The SQL template of the one format that reads every date of the column (see ``CANDIDATE_FORMATS``)."""
        connection.execute(f"CREATE TEMP TABLE _dates AS SELECT {text} AS v, min(_line) AS line FROM data GROUP BY 1")
        templates = {name: _format_sql(name) for name in CANDIDATE_FORMATS}

        def counts(names: Sequence[str], source: str) -> dict[str, int]:
            row = connection.execute("SELECT " + ", ".join(
                f"count({templates[n].format(value='v')})" for n in names) + f" FROM {source}").fetchone()
            return dict(zip(names, row, strict=True))

        total, iso = connection.execute(f"SELECT count(*), count({templates[ISO].format(value='v')}) FROM _dates"
                                        ).fetchone()
        if iso == total:  # no other candidate reads an ISO date: they have other separators, orders or names
            return templates[ISO]
        sample = f"(SELECT v FROM _dates ORDER BY v LIMIT {_SAMPLE})"
        on_sample = counts(CANDIDATE_FORMATS, sample)
        fitting = [n for n, c in on_sample.items() if c == min(total, _SAMPLE)]
        on_all = counts(fitting, "_dates") if fitting else {}
        readers = [n for n in fitting if on_all[n] == total]
        if not readers:
            best = max(on_all or on_sample, key=lambda n: (on_all or on_sample)[n])
            line, value = connection.execute(f"SELECT line, v FROM _dates WHERE {templates[best].format(value='v')} "
                                             "IS NULL ORDER BY line LIMIT 1").fetchone()
            like = f"the others read as {_shown_format(best)}; " if (on_all or on_sample)[best] else ""
            raise DataError(f"column {self.date!r}: date {value!r} is not a date ({like}set the loader's "
                            "date_format, e.g. \"%d/%m/%Y\")", path=path, where=int(line))
        first = templates[readers[0]].format(value="v")
        differ = " OR ".join(f"{templates[n].format(value='v')} IS DISTINCT FROM {first}" for n in readers[1:])
        if differ:
            clash = connection.execute(f"SELECT line, v, {', '.join(templates[n].format(value='v') for n in readers)} "
                                       f"FROM _dates WHERE {differ} ORDER BY line LIMIT 1").fetchone()
            if clash is not None:
                readings: dict[Any, list[str]] = {}
                for name, reading in zip(readers, clash[2:], strict=True):
                    readings.setdefault(reading, []).append(name)
                ways = " and ".join(f"{_iso(reading)} with {_shown_format(names[0])}"
                                    for reading, names in readings.items())
                raise DataError(f"column {self.date!r}: date {clash[1]!r} is ambiguous: it reads as {ways}, and every "
                                "date of the column fits each; set the loader's date_format, e.g. "
                                f"\"{next(n for n in readers if n != ISO)}\"", path=path, where=int(clash[0]))
        return templates[readers[0]]

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
        scale = NaiveScale(keys, values, self.target)  # one per series, shared by its windows
        for start in range(0, len(values) - span + 1, self.stride):
            shown = values[start:start + self.window]
            truth = values[start + self.window - 1 + self.horizon]
            if any(v != v for v in shown) or truth != truth:  # NaN: a missing value
                continue
            last = start + self.window - 1
            shown_dates = dates[start:start + self.window] if dates is not None else None
            yield Example(
                id=f"{name}@{dates[last] if dates is not None else keys[last]}",
                input=render(name, shown, shown_dates, self.style),
                expected=self.target.text(shown[-1], truth),
                metadata={"series": name, "values": shown, "dates": shown_dates, "truth": truth,
                          "target": self.target.as_dict(), "format": self.style.as_dict(),
                          "first": keys[start], "origin": keys[last], "end": keys[last + self.horizon],
                          "naive_scale": scale})


def _mostly_numbers(connection: Any, column: str) -> bool:
    """A text column most of whose values are numbers: a series with a few bad values (reported by line)."""
    share = connection.execute(f'SELECT avg((TRY_CAST("{column}" AS DOUBLE) IS NOT NULL)::INT) FROM data '
                               f'WHERE "{column}" IS NOT NULL').fetchone()[0]
    return share is not None and share >= 0.5


def _numeric(data_type: str) -> bool:
    return data_type.split("(")[0] in _NUMERIC


def _format_sql(name: str) -> str:
    """SQL reading ``{value}`` (a text) as a UTC timestamp with one format, NULL where it does not fit."""
    if name == ISO:  # DuckDB's cast alone would also take words such as 'epoch' and 'infinity'
        return ("CASE WHEN regexp_matches({value}, '^\\d{{4}}-\\d{{1,2}}-\\d{{1,2}}([T ]|$)') "
                "THEN timezone('UTC', TRY_CAST({value} AS TIMESTAMPTZ)) END")
    parsed = f"try_strptime({{value}}, {sql_literal(name).replace('{', '{{').replace('}', '}}')})"
    if name not in CANDIDATE_FORMATS:  # the user's date_format: %z gives a time with an offset, read in UTC
        return f"timezone('UTC', {parsed}::TIMESTAMPTZ)"
    if "%Y" in name:  # a two-digit year is %y's, not year 80 of %Y
        return f"CASE WHEN year({parsed}) >= 1000 THEN {parsed} END"
    return parsed


def _shown_format(name: str) -> str:
    return name if name == ISO else f'"{name}"'


def _iso(moment: Any) -> str:
    """A timestamp as the loader shows dates: ``YYYY-MM-DD``, with the time of day when it has one."""
    return f"{moment:%Y-%m-%dT%H:%M:%S.%f}".removesuffix(".000000").removesuffix("T00:00:00")


def _keys(times: list[tuple[str, Any]]) -> list[Any]:
    """The rows' time keys from (shown date, time) pairs: the ISO text, or the number of a numeric time column
    (an integer when it is whole), so that keys compare in time order."""
    if not times or not isinstance(times[0][1], float):
        return [shown for shown, _ in times]
    return [int(number) if number.is_integer() else number for _, number in times]


@hookimpl
def ftplug_register_loaders(register: Any) -> None:
    """Contribute the ``timeseries`` loader."""
    register("timeseries", TimeSeriesLoader, description="windows of numeric series (CSV or Parquet, wide or long), "
                                                          "split chronologically")
