"""The timeseries loader, its input formats, chronological splits and the naive baselines."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftplug.components import LoadContext, TrainingContext
from ftplug.dataset import Example, split_chronologically
from ftplug.errors import ConfigError, DataError, FtplugError
from ftplug.plugins.baselines import Drift, LinearAR, Majority, MovingAverage, Persistence, SeasonalNaive
from ftplug.plugins.scorers_numeric import ScaledError
from ftplug.plugins.timeseries import TimeSeriesLoader
from ftplug.series import SeriesFormat, Target, render
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
    from ftplug.experiment import load_experiment
    from ftplug.planning import load_splits
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


def test_mase_scales_by_the_naive_error_inside_the_window() -> None:
    example = _window(SERIES, 15.0)
    # one-step naive errors inside the window: 2, 1, 2, 3, 2 → mean 2; |14 − 15| / 2
    assert ScaledError().score("14", example) == pytest.approx(0.5)
    assert ScaledError().score("no idea", example) is None
    with pytest.raises(ValueError, match="numeric target"):
        ScaledError().score("up", _window(SERIES, 15.0, "direction"))


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
