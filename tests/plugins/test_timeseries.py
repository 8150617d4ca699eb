"""The timeseries loader, its input formats, chronological splits and the naive baselines."""

from __future__ import annotations

import csv
import datetime
import itertools
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftplug.components import LoadContext, TrainingContext
from ftplug.dataset import Example, split_chronologically
from ftplug.dataset.series import NaiveScale, SeriesFormat, Target, render
from ftplug.errors import ConfigError, DataError, FtplugError
from ftplug.plugins.loaders.timeseries import TimeSeriesLoader
from ftplug.plugins.scorers.numeric import ScaledError
from ftplug.plugins.trainers.baselines import Drift, LinearAR, Majority, MovingAverage, Persistence, SeasonalNaive
from tests.helpers import ROOT

GARCH = ROOT / "data" / "examples" / "garch.csv"


def _load(loader: TimeSeriesLoader, folder: Path = GARCH.parent) -> list[Example]:
    return list(loader.load(LoadContext(base_dir=folder, config_path="experiment.toml")))


def _garch_rows() -> list[dict[str, str]]:
    with GARCH.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_wide_windows_match_the_file_row_by_row() -> None:
    rows = _garch_rows()
    examples = _load(TimeSeriesLoader("garch.csv", date="date", columns=["dm", "bp"], window=10, horizon=2,
                                      stride=7, decimals=4))
    per_series = (len(rows) - 12) // 7 + 1
    assert len(examples) == 2 * per_series
    first = examples[0]
    assert first.id == f"dm@{rows[9]['date']}"
    assert first.metadata["values"] == [float(r["dm"]) for r in rows[:10]]
    assert first.metadata["truth"] == float(rows[11]["dm"])
    change = float(rows[11]["dm"]) - float(rows[9]["dm"])
    assert first.expected == ("up" if change > 0 else "down" if change < 0 else "flat")
    lines = first.input.splitlines()
    assert lines[1] == "date,value" and lines[2] == f"{rows[0]['date']},{float(rows[0]['dm']):.4f}"
    assert (first.metadata["first"], first.metadata["origin"], first.metadata["end"]) == (
        rows[0]["date"], rows[9]["date"], rows[11]["date"])


def test_long_and_parquet_files_give_the_same_windows(tmp_path: Path) -> None:
    import duckdb

    long_csv, parquet = tmp_path / "long.csv", tmp_path / "wide.parquet"
    connection = duckdb.connect()
    connection.execute(f"COPY (SELECT date, 'dm' AS series, dm AS value FROM read_csv('{GARCH}') UNION ALL "
                       f"SELECT date, 'sf', sf FROM read_csv('{GARCH}')) TO '{long_csv}' (HEADER)")
    connection.execute(f"COPY (SELECT * FROM read_csv('{GARCH}')) TO '{parquet}' (FORMAT PARQUET)")
    options = {"date": "date", "window": 15, "stride": 15, "target": "pct_change", "answer_decimals": 3}
    wide = _load(TimeSeriesLoader(str(GARCH), columns=["dm", "sf"], **options))
    long = _load(TimeSeriesLoader(str(long_csv), layout="long", **options))
    from_parquet = _load(TimeSeriesLoader(str(parquet), columns=["dm", "sf"], **options))
    key = [(e.id, e.input, e.expected) for e in wide]
    assert [(e.id, e.input, e.expected) for e in long] == key
    assert [(e.id, e.input, e.expected) for e in from_parquet] == key


def test_targets_and_flat_band() -> None:
    assert Target("value", decimals=2).text(1.0, 1.23456) == "1.23"
    assert Target("pct_change").text(2.0, 2.1) == "5.00"
    assert Target("direction", flat=1.0).text(100.0, 100.9) == "flat"
    assert Target("direction", flat=1.0).text(100.0, 101.5) == "up"
    assert Target("direction").text(100.0, 99.0) == "down"


def test_input_formats_change_what_the_prompt_shows() -> None:
    values, dates = [1.5, 1.65, 1.32], ["2020-01-01", "2020-01-02", "2020-01-03"]
    assert render("x", values, dates, SeriesFormat(title=False)) == "date,value\n2020-01-01,1.5\n2020-01-02,1.65\n" \
                                                                     "2020-01-03,1.32"
    assert render("x", values, dates, SeriesFormat(dates=False, separator="comma", decimals=1, title=False)) == \
        "1.5, 1.6, 1.3"
    assert render("x", values, None, SeriesFormat(relative=True, separator="space", title=False)) == "10.00 -20.00"
    assert render("x", values, dates, SeriesFormat(separator="semicolon", decimals=2)).splitlines() == [
        "x: 3 observations, oldest first (value)", "2020-01-01=1.50; 2020-01-02=1.65; 2020-01-03=1.32"]
    with pytest.raises(ConfigError, match="separator"):
        SeriesFormat.from_options({"separator": "tab"})
    with pytest.raises(ConfigError, match="unknown key 'digits'"):
        SeriesFormat.from_options({"digits": 2})


def test_a_bad_value_is_reported_with_file_and_line(tmp_path: Path) -> None:
    text = GARCH.read_text(encoding="utf-8").splitlines()
    text[5] = text[5].replace(text[5].split(",")[1], "n/a", 1)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        _load(TimeSeriesLoader("bad.csv", date="date", columns=["dm"], window=5), tmp_path)
    assert caught.value.where == 6 and "'n/a' is not a number" in str(caught.value)
    with pytest.raises(DataError, match="no column 'euro'"):
        _load(TimeSeriesLoader("garch.csv", columns=["euro"], window=5))
    with pytest.raises(ConfigError, match="window"):
        TimeSeriesLoader("garch.csv", window=1)


@settings(max_examples=40, deadline=None)
@pytest.mark.slow
@given(window=st.integers(2, 30), horizon=st.integers(1, 5), stride=st.integers(1, 40), test=st.integers(1, 30),
       validation=st.integers(0, 20))
def test_no_test_window_overlaps_a_training_or_validation_window(window: int, horizon: int, stride: int, test: int,
                                                                 validation: int) -> None:
    examples = _load(TimeSeriesLoader("garch.csv", date="date", columns=["dm", "cd", "dy"], window=window,
                                      horizon=horizon, stride=stride))
    try:
        splits = split_chronologically(examples, test=test, validation=validation)
    except ConfigError:
        return  # too few windows left for training: refused, not leaked
    assert len(splits.test) == test and len(splits.validation) == validation
    assert len(splits.train) + len(splits.validation) + len(splits.test) + splits.dropped == len(examples)
    for earlier, later in ((splits.train, splits.test), (splits.validation, splits.test),
                           (splits.train, splits.validation)):
        if earlier and later:  # every row an earlier window uses (its answer too) comes before any later one shows
            assert max(e.metadata["end"] for e in earlier) < min(e.metadata["first"] for e in later)


def test_a_random_split_is_refused_for_time_series(tmp_path: Path) -> None:
    from ftplug.config.experiment import load_experiment
    from ftplug.engine.planning import load_splits
    from tests.helpers import fresh_plugins

    path = tmp_path / "e.toml"
    path.write_text(f'[experiment]\nname = "t"\n[data]\nloader = "timeseries"\npath = "{GARCH}"\nwindow = 10\n'
                    '[split]\nmethod = "random"\ntest = 10\nvalidation = 5\n[model]\nbase = "gpt-4o-mini"\n'
                    '[[variants]]\nname = "p"\ntrainer = "persistence"\n', encoding="utf-8")
    experiment = load_experiment(path, fresh_plugins().registry)
    with pytest.raises(ConfigError, match=r"\[split\] method: .*random split would let test data leak"):
        load_splits(experiment)


# ---- baselines on a hand-computed series ----------------------------------------------------------------------

def _window(values: list[float], truth: float, kind: str = "value", horizon: int = 1, decimals: int = -1) -> Example:
    target = Target(kind=kind, horizon=horizon, decimals=decimals)
    return Example(id=f"w{truth}", input="", expected=target.text(values[-1], truth),
                   metadata={"values": values, "truth": truth, "target": target.as_dict(), "series": "s",
                             "dates": None, "format": SeriesFormat().as_dict(), "first": 0, "origin": 0, "end": 0})


def _context(train: list[Example]) -> TrainingContext:
    return TrainingContext(experiment="t", variant="v", base_model="m", train=train, validation=[], prompt=None,
                           client=None, simulated=True, seed=0)


SERIES = [10.0, 12.0, 11.0, 13.0, 16.0, 14.0]


@pytest.mark.parametrize(("trainer", "kind", "horizon", "expected"), [
    (Persistence(), "value", 1, "14"),               # the last value
    (Persistence(), "direction", 1, "down"),         # the last move: 16 → 14
    (Persistence(), "pct_change", 1, "-12.50"),      # (14 − 16) / 16
    (Persistence(), "pct_change", 2, "7.69"),        # two steps back: (14 − 13) / 13
    (Drift(), "value", 1, "14.8"),                   # 14 + (14 − 10) / 5
    (Drift(), "value", 2, "15.6"),                   # 14 + 2 × 0.8
    (Drift(), "direction", 1, "up"),
    (MovingAverage(k=3), "value", 1, "14.333333333333334"),  # (13 + 16 + 14) / 3
    (MovingAverage(k=3), "direction", 1, "up"),
    (SeasonalNaive(period=2), "value", 1, "16"),     # two steps before t+1 is t−1
    (SeasonalNaive(period=2), "value", 2, "14"),     # t+2 − 2 = t
    (SeasonalNaive(period=4), "value", 3, "16"),     # t+3 − 4 = t−1: values[5 + 3 − 4] = values[4]
])
def test_each_forecasting_baseline_on_a_hand_computed_window(trainer, kind: str, horizon: int, expected: str) -> None:
    model = trainer.train(_context([_window(SERIES, 15.0, kind, horizon)]))
    assert model.predict(_window(SERIES, 15.0, kind, horizon)) == expected
    assert model.model.startswith("baseline:") and trainer.local


def test_majority_and_linear_ar_fit_the_training_split() -> None:
    train = [Example(id=str(i), input="q", expected=label) for i, label in enumerate(["b", "a", "b", "c", "a", "b"])]
    majority = Majority().train(_context(train))
    assert majority.predict(train[0]) == "b" and majority.details["rate"] == pytest.approx(0.5)
    # y / last − 1 = 0.1 + 0.5 × (previous / last − 1), exactly, on three windows: least squares recovers it
    windows = []
    for previous, last in ((8.0, 10.0), (12.0, 10.0), (5.0, 4.0)):
        ratio = 0.1 + 0.5 * (previous / last - 1)
        windows.append(_window([previous, last], last * (1 + ratio)))
    model = LinearAR(order=2).train(_context(windows))
    assert model.details["coefficients"] == pytest.approx([0.1, 0.5])
    assert float(model.predict(_window([9.0, 10.0], 0.0))) == pytest.approx(10 * (1 + 0.1 + 0.5 * -0.1))
    with pytest.raises(FtplugError, match="not windows"):
        Drift().train(_context(train))


def test_mase_scales_by_the_one_step_naive_error_of_the_training_series() -> None:
    # the series 10, 12, 11, 13, 16, 14 at times 0–5, trained up to time 3: one-step moves 2, 1, 2 → mean 5/3
    scale = NaiveScale(range(len(SERIES)), SERIES, Target("value"))
    assert scale.until(3) == pytest.approx(5 / 3) and scale.until(5) == pytest.approx(2.0) and scale.until(0) is None
    example = _window(SERIES, 15.0)
    example.metadata.update(naive_scale=scale, train_end=3)
    assert ScaledError().score("14", example) == pytest.approx(1 / (5 / 3))  # |14 − 15| / (5/3)
    assert ScaledError().score("no idea", example) is None
    # a pct_change target at H = 2 scales its own 2-step % changes: 10 → 11 (+10 %), 12 → 13 (+8.33 %), 11 → 16
    changes = NaiveScale(range(len(SERIES)), SERIES, Target("pct_change", horizon=2))
    assert changes.until(4) == pytest.approx((abs(100 / 12 - 10) + abs(500 / 11 - 100 / 12)) / 2)
    with pytest.raises(ValueError, match="numeric target"):
        ScaledError().score("up", _window(SERIES, 15.0, "direction"))
    with pytest.raises(ValueError, match="training part of the series"):
        ScaledError().score("14", _window(SERIES, 15.0))  # a window that was not split chronologically


@pytest.mark.parametrize("horizon", [1, 3])
def test_persistence_mase_is_its_test_error_over_the_training_one_step_error(horizon: int) -> None:
    """What docs/timeseries.md says persistence's MASE is, computed from the file's rows alone."""
    rows, columns = _garch_rows(), ["dm", "bp"]
    examples = _load(TimeSeriesLoader("garch.csv", date="date", columns=columns, window=20, horizon=horizon,
                                      stride=5, target="value"))
    splits = split_chronologically(examples, test=60, validation=20)
    model = Persistence().train(_context(list(splits.train)))
    mase = sum(ScaledError().score(model.predict(e), e) for e in splits.test) / len(splits.test)
    train_end = max(e.metadata["end"] for e in splits.train)
    trained = [r for r in rows if r["date"] <= train_end]
    scale = {c: sum(abs(float(a[c]) - float(b[c])) for a, b in itertools.pairwise(trained))
             / (len(trained) - 1) for c in columns}
    documented = sum(abs(e.metadata["truth"] - e.metadata["values"][-1]) / scale[e.metadata["series"]]
                     for e in splits.test) / len(splits.test)
    assert mase == pytest.approx(documented, rel=1e-12)
    assert all(e.metadata["train_end"] == train_end for e in splits.test)
    if horizon == 1:  # one step ahead, persistence is the naive forecast itself: near 1 when test moves as in training
        assert 0.6 < mase < 1.4


# ---- dates that are not ISO text ------------------------------------------------------------------------------

def _garch_with_dates(folder: Path, name: str, written: str | None, *, shuffle: bool = False,
                      keep: object = None, replace: dict[int, str] | None = None) -> Path:
    """A copy of garch.csv (real data) with its dates re-written as ``written`` (a strftime format; ``None``:
    as in the file), its rows optionally shuffled (a seeded shuffle), kept only where ``keep(date)`` holds,
    and the dates of some lines (by line number in the written file) replaced."""
    header, *rows = list(csv.reader(GARCH.open(encoding="utf-8")))
    if keep is not None:
        rows = [r for r in rows if keep(datetime.date.fromisoformat(r[0]))]
    if shuffle:
        random.Random(7).shuffle(rows)
    path = folder / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for line, row in enumerate(rows, start=2):
            date = row[0] if written is None else datetime.date.fromisoformat(row[0]).strftime(written)
            writer.writerow([(replace or {}).get(line, date), *row[1:]])
    return path


def _key(examples: list[Example]) -> list[tuple]:
    return [(e.id, e.input, e.expected, e.metadata["first"], e.metadata["origin"], e.metadata["end"])
            for e in examples]


DIRECTION = {"date": "date", "window": 20, "stride": 5, "target": "direction", "flat": 0.05, "decimals": 4}


@pytest.mark.parametrize("written", ["%d %b %Y", "%b %d, %Y", "%d-%b-%Y", "%d/%m/%Y", "%A, %B %d, %Y"])
def test_non_iso_dates_give_the_windows_and_split_of_iso_dates(tmp_path: Path, written: str) -> None:
    path = _garch_with_dates(tmp_path, "rates.csv", written)
    examples = _load(TimeSeriesLoader(str(path), **DIRECTION), tmp_path)
    assert _key(examples) == _key(_load(TimeSeriesLoader("garch.csv", **DIRECTION)))  # dates shown as ISO
    splits = split_chronologically(examples, test=100, validation=40)
    last_trained = max(datetime.date.fromisoformat(e.metadata["end"]) for e in splits.train)
    first_test = min(datetime.date.fromisoformat(e.metadata["origin"]) for e in splits.test)
    assert last_trained < min(datetime.date.fromisoformat(e.metadata["first"]) for e in splits.test) <= first_test
    assert len(splits.train) == 1670 and splits.dropped == 40


def test_rows_out_of_order_are_put_in_date_order(tmp_path: Path) -> None:
    import duckdb

    wide = _garch_with_dates(tmp_path, "shuffled.csv", "%b %d, %Y", shuffle=True)
    long = tmp_path / "long.csv"  # both series interleaved, in the shuffled order, dates as written
    source = f"read_csv('{wide}', all_varchar = true)"
    duckdb.connect().execute(f"COPY (SELECT date, 'dm' AS series, dm AS value FROM {source} UNION ALL "
                             f"SELECT date, 'sf', sf FROM {source}) TO '{long}' (HEADER)")
    options = {"date": "date", "window": 15, "stride": 4, "target": "pct_change"}
    expected = _key(_load(TimeSeriesLoader("garch.csv", columns=["dm", "sf"], **options)))
    assert _key(_load(TimeSeriesLoader(str(wide), columns=["dm", "sf"], **options), tmp_path)) == expected
    assert _key(_load(TimeSeriesLoader(str(long), layout="long", **options), tmp_path)) == expected


def test_a_numeric_time_column_is_ordered_and_split_as_numbers(tmp_path: Path) -> None:
    rows = _garch_rows()
    path = tmp_path / "days.csv"  # the day number since 1 January 1980 instead of the date: 1, 2, …, 2697
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["day", "dm"])
        for row in reversed(rows):
            writer.writerow([(datetime.date.fromisoformat(row["date"]) - datetime.date(1979, 12, 31)).days, row["dm"]])
    examples = _load(TimeSeriesLoader(str(path), date="day", window=10, stride=3), tmp_path)
    assert [e.metadata["values"] for e in examples] == [e.metadata["values"] for e in _load(
        TimeSeriesLoader("garch.csv", date="date", columns=["dm"], window=10, stride=3))]
    assert examples[0].id == "dm@15" and examples[0].metadata["first"] == 2  # 2 January 1980 is day 2
    splits = split_chronologically(examples, test=50, validation=10)
    assert max(e.metadata["end"] for e in splits.train) < min(e.metadata["first"] for e in splits.test)


def test_an_ambiguous_day_month_order_is_refused_unless_date_format_says(tmp_path: Path) -> None:
    early = _garch_with_dates(tmp_path, "early.csv", "%d/%m/%Y", keep=lambda d: d.day <= 12)  # both readings valid
    with pytest.raises(DataError) as caught:
        _load(TimeSeriesLoader(str(early), date="date", window=5), tmp_path)
    message = str(caught.value)
    assert "\n" not in message and caught.value.where == 2
    assert "date '02/01/1980' is ambiguous" in message and '"%d/%m/%Y"' in message and '"%m/%d/%Y"' in message
    assert "date_format" in message
    chosen = _load(TimeSeriesLoader(str(early), date="date", window=5, date_format="%d/%m/%Y"), tmp_path)
    assert chosen[0].metadata["first"] == "1980-01-02" and chosen[0].id == "dm@1980-01-08"
    everyday = _garch_with_dates(tmp_path, "all.csv", "%d/%m/%Y")  # days past 12: only day-first reads them all
    assert _key(_load(TimeSeriesLoader(str(everyday), **DIRECTION), tmp_path)) == _key(_load(
        TimeSeriesLoader("garch.csv", **DIRECTION)))
    with pytest.raises(DataError) as caught:
        _load(TimeSeriesLoader(str(everyday), date="date", window=5, date_format="%m/%d/%Y"), tmp_path)
    assert caught.value.where == 10 and "date '14/01/1980' does not match date_format \"%m/%d/%Y\"" in str(caught.value)
    with pytest.raises(ConfigError, match="date_format"):
        _load(TimeSeriesLoader(str(everyday), date="date", window=5, date_format="%Q"), tmp_path)


def test_a_date_that_cannot_be_read_names_the_file_the_line_and_the_value(tmp_path: Path) -> None:
    path = _garch_with_dates(tmp_path, "prices.csv", "%d %b %Y", replace={14: "yesterday"})
    with pytest.raises(DataError) as caught:
        _load(TimeSeriesLoader(str(path), date="date", window=5), tmp_path)
    assert caught.value.where == 14 and caught.value.path == str(path)
    assert str(caught.value).startswith(f"{path}:14: column 'date': date 'yesterday' is not a date")
    assert "date_format" in str(caught.value) and "\n" not in str(caught.value)
    empty = _garch_with_dates(tmp_path, "gap.csv", None, replace={30: ""})
    with pytest.raises(DataError, match="the date is empty") as caught:
        _load(TimeSeriesLoader(str(empty), date="date", window=5), tmp_path)
    assert caught.value.where == 30


def test_a_bad_date_through_ftplug_run_is_one_line_and_exit_2(tmp_path: Path) -> None:
    from tests.helpers import run_cli

    _garch_with_dates(tmp_path, "prices.csv", "%d %b %Y", replace={14: "yesterday"})
    experiment = tmp_path / "e.toml"
    experiment.write_text('[experiment]\nname = "t"\n[data]\nloader = "timeseries"\npath = "prices.csv"\n'
                          'date = "date"\nwindow = 10\n[split]\ntest = 10\nvalidation = 5\n[model]\n'
                          'base = "gpt-4o-mini"\n[[variants]]\nname = "p"\ntrainer = "persistence"\n', encoding="utf-8")
    done = run_cli("run", str(experiment), "--db", str(tmp_path / "r.duckdb"), "--quiet")
    assert done.returncode == 2 and "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ftplug: error: ")
    assert "prices.csv:14:" in lines[0] and "'yesterday' is not a date" in lines[0]


def test_no_other_candidate_format_reads_an_iso_date() -> None:
    """The loader takes ISO 8601 without trying the other candidates: none of them reads an ISO date."""
    import duckdb

    from ftplug.plugins.loaders.timeseries import CANDIDATE_FORMATS, ISO, _format_sql

    connection = duckdb.connect()
    moments = "FROM (SELECT TIMESTAMP '1950-01-01' + to_minutes(i * 6131) AS t FROM range(3000) r(i))"
    connection.execute(f"CREATE TABLE d AS SELECT strftime(t, '%Y-%m-%d') AS v {moments} UNION ALL "
                       f"SELECT strftime(t, '%Y-%m-%d %H:%M') {moments} UNION ALL "
                       f"SELECT strftime(t, '%Y-%m-%dT%H:%M:%S') {moments}")
    others = [n for n in CANDIDATE_FORMATS if n != ISO]
    counts = connection.execute("SELECT " + ", ".join(f"count({_format_sql(n).format(value='v')})" for n in others)
                                + " FROM d").fetchone()
    assert [n for n, c in zip(others, counts, strict=True) if c] == []


def test_a_chronological_split_refuses_times_it_cannot_order() -> None:
    def window(i: int, first: object, origin: object, end: object) -> Example:
        return Example(id=f"w{i}", input="", expected="", metadata={"first": first, "origin": origin, "end": end})

    text = [window(i, f"{d} May 1980", f"{d + 1} May 1980", f"{d + 2} May 1980") for i, d in enumerate(range(1, 20))]
    with pytest.raises(DataError, match="'1 May 1980' is not a time"):
        split_chronologically(text, test=2, validation=0)
    with pytest.raises(DataError, match="out of order"):
        split_chronologically([window(0, "1980-05-03", "1980-05-02", "1980-05-04")], test=1, validation=0)
    with pytest.raises(DataError, match="mix numbers and dates"):
        split_chronologically([window(0, 1, 2, 3), window(1, "1980-05-03", "1980-05-03", "1980-05-04")], test=1,
                              validation=0)
    # positions 9, 10, 100 order as numbers (as text, "100" < "9")
    numbered = [window(i, p - 2, p, p + 1) for i, p in enumerate([100, 9, 10, 50, 30])]
    splits = split_chronologically(numbered, test=1, validation=0)
    assert [e.metadata["origin"] for e in splits.test] == [100]
    assert [e.metadata["origin"] for e in splits.train] == [9, 10, 30, 50]


def test_date_format_is_a_registered_loader_option() -> None:
    from ftplug.components import Kind
    from tests.helpers import fresh_plugins

    option = fresh_plugins().registry.get(Kind.LOADER, "timeseries").option("date_format")
    assert option is not None and option.default == "" and "%d/%m/%Y" in option.help
    with pytest.raises(ConfigError, match="date_format"):
        TimeSeriesLoader("garch.csv", date_format="%d/%m/%Y")  # no date column to read


def test_the_dry_run_prices_train_size_and_local_baselines(tmp_path: Path) -> None:
    from tests.helpers import run_cli

    done = run_cli("run", str(ROOT / "data" / "examples" / "direction.toml"), "--dry-run", "--db",
                   str(tmp_path / "never.duckdb"))
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines()[2:-1]}
    assert "local, fitted on" in lines["persistence"] and lines["persistence"].count("$0.0000") == 3
    assert "200 examples × 2 epochs" in lines["fine-tuned-train_size=200"]
    assert "800 examples × 2 epochs" in lines["fine-tuned-train_size=800"]
    assert lines["zero-shot"].split()[1] == "$0.0000"  # nothing to train
