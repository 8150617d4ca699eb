"""Every option of every built-in component, every number of the experiment file and every numeric flag, given
hostile values (wrong types, huge and negative integers, NaN and infinity, empty and odd strings, lists and
tables): each is refused with one line naming its key, or accepted only if it is a sane value — and an
accepted one plans (data loaded, components made) without any other exception."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftplug.components import Kind, Option
from ftplug.config import limits
from ftplug.config.experiment import experiment_from_dict
from ftplug.config.run_options import run_options_for
from ftplug.engine.planning import make_plan
from ftplug.errors import InputError
from ftplug.pluginhost.manager import get_plugins
from tests.helpers import EXAMPLE

EXAMPLES = EXAMPLE.parent
LARGEST = 2**63 - 1  # TOML's largest integer

HOSTILE = st.one_of(
    st.integers(min_value=-LARGEST - 1, max_value=LARGEST),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, LARGEST, -LARGEST - 1, math.nan, math.inf, -math.inf, 1e308, "", " ", "\n", "\x00",
                     "max", "auto", "all", "nan", True, False, [], {}, ["a", 1], [None]]),
    st.text(max_size=6),
    st.booleans(),
    st.lists(st.one_of(st.integers(), st.text(max_size=3), st.floats()), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _data(loader: str, folder: Path) -> dict[str, Any]:
    """A [data] table for ``loader`` on real data: rows of fortunes.csv, the exchange windows or garch.csv."""
    if loader == "csv":
        return {"loader": "csv", "path": str(EXAMPLES / "fortunes.csv"), "input": "text", "expected": "topic",
                "id": "id"}
    if loader == "jsonl":
        lines = (EXAMPLES / "exchange_windows.jsonl").read_text(encoding="utf-8").splitlines()[:40]
        (folder / "windows.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return {"loader": "jsonl", "path": str(folder / "windows.jsonl")}
    lines = (EXAMPLES / "garch.csv").read_text(encoding="utf-8").splitlines()[:300]
    (folder / "garch.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"loader": "timeseries", "path": str(folder / "garch.csv"), "date": "date", "columns": ["dm"],
            "window": 10, "stride": 5}


def _experiment(folder: Path, loader: str = "csv") -> dict[str, Any]:
    return {"experiment": {"name": "hostile", "seed": 3}, "data": _data(loader, folder),
            "split": {"test": 6, "validation": 2}, "model": {"base": "gpt-4o-mini-2024-07-18"},
            "variants": [{"name": "v", "prompt": {"builder": "few-shot", "shots": 2}}],
            "scoring": {"scorers": ["exact"]}}


def _components() -> list[tuple[Kind, str, Option]]:
    registry = get_plugins().registry
    return [(kind, component.name, option) for kind in Kind for component in registry.by_kind(kind)
            for option in component.options]


COMPONENT_OPTIONS = _components()


def _with(doc: dict[str, Any], kind: Kind, name: str, option: str, value: Any, folder: Path) -> tuple[dict, str]:
    """``doc`` using component ``name`` with ``option = value``, and where an error about it must point."""
    doc = copy.deepcopy(doc)
    if kind is Kind.LOADER:
        doc["data"] = {**_data(name if name in ("csv", "jsonl") else "timeseries", folder), option: value}
        return doc, f"[data] {option}"
    if kind is Kind.PROMPT_BUILDER:
        doc["variants"][0]["prompt"] = {"builder": name, "shots": 2, option: value}
        return doc, f"prompt {option}"
    if kind is Kind.TRAINER:
        doc["variants"][0]["trainer"] = {"name": name, option: value}
        return doc, f"trainer {option}"
    doc["scoring"]["scorers"] = [{"name": name, option: value}]
    return doc, f"scorers {name!r} {option}"


def _plan(doc: dict[str, Any], folder: Path) -> None:
    """Load and plan ``doc`` as ``ftplug run`` does before the result file opens, scorers made too."""
    experiment = experiment_from_dict(doc, get_plugins().registry, folder / "e.toml")
    plan = make_plan(experiment, run_options_for(experiment))
    for variant in plan.variants:
        if variant.error is not None:
            raise variant.error
    for scorer in experiment.scorers:
        scorer.create()


def _refused_or_sane(doc: dict[str, Any], folder: Path, key: str, value: Any, sane: bool | None) -> None:
    """``doc`` either plans, with a sane value, or fails with one line naming ``key`` when the value is not."""
    try:
        _plan(doc, folder)
    except InputError as error:
        message = str(error)
        assert "\n" not in message.strip(), message
        if sane is False:  # the table and the key, as "[split] test" or "[split]: test (…)"
            assert all(part in message for part in key.split()), f"{key} not named in {message!r}"
        return
    assert sane is not False, f"{key} = {value!r} was accepted"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


def test_every_numeric_built_in_option_declares_its_range() -> None:
    # the range is what keeps a huge value from the run: a numeric option without one is a bug waiting
    unbounded = [f"{kind.value} {name} {option.name}" for kind, name, option in COMPONENT_OPTIONS
                 if {int, float} & set(option.type if isinstance(option.type, tuple) else (option.type,))
                 and option.within is None and option.choices is None]
    assert not unbounded


def _near(option: Option) -> st.SearchStrategy[Any]:
    """Values at and just past the edges of what ``option`` accepts: its default, bounds and choices."""
    edges: list[Any] = [] if option.required else [option.default]
    if option.within is not None:
        low, high = option.within
        edges += [low, high, low - 1, high + 1, float(low), float(high) + 0.5, (low + high) // 2]
    edges += list(option.choices or ())
    return st.sampled_from(edges) if edges else HOSTILE


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(COMPONENT_OPTIONS), data=st.data())
def test_a_hostile_component_option_is_refused_or_sane(folder: Path, target: tuple[Kind, str, Option],
                                                       data: st.DataObject) -> None:
    kind, name, option = target
    value = data.draw(st.one_of(HOSTILE, _near(option)), label="value")
    base = _experiment(folder, name if kind is Kind.LOADER and name in ("csv", "jsonl") else
                       "timeseries" if kind is Kind.LOADER else "csv")
    doc, key = _with(base, kind, name, option.name, value, folder)
    _refused_or_sane(doc, folder, key, value, None if option.problem(value) is None else False)


EXPERIMENT_NUMBERS = [  # each key with the range a value must be in to be accepted
    ("run", "concurrency", limits.CONCURRENCY), ("run", "max_attempts", limits.MAX_ATTEMPTS),
    ("run", "rpm", limits.RPM), ("run", "tpm", limits.TPM), ("run", "backoff", limits.BACKOFF),
    ("report", "volume", limits.VOLUME), ("split", "test", (0, 10**12)), ("split", "validation", (0, 10**12)),
    ("scoring", "samples", (1, 128)), ("scoring", "temperature", (0, 2)),
    ("experiment", "seed", limits.SEED), ("[[variants]] 'v'", "train_size", (1e-300, limits.TRAIN_ROWS)),
    ("[model] local", "batch_size", (1, 4096)), ("[model] local", "price_per_hour", (0, 1e6)),
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(EXPERIMENT_NUMBERS), data=st.data())
def test_a_hostile_number_of_the_experiment_file_is_refused_or_within_its_range(
        folder: Path, target: tuple[str, str, tuple[float, float]], data: st.DataObject) -> None:
    table, key, (low, high) = target
    value = data.draw(st.one_of(HOSTILE, st.sampled_from([low, high, low - 1, high + 1, high * 10])), label="value")
    doc = _experiment(folder)
    if table == "[[variants]] 'v'":
        doc["variants"][0][key] = value
    elif table == "[model] local":
        doc["model"]["local"] = {key: value}
    else:
        doc.setdefault(table, {})[key] = value
    sane = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and \
        low <= value <= high and not (key == "train_size" and isinstance(value, float) and value > 1)
    where = table if table.startswith("[") else f"[{table}]"
    _refused_or_sane(doc, folder, f"{where} {key}", value, None if sane else False)


def _numeric_flags() -> list[tuple[click.Command, click.Option]]:
    from ftplug.cli import cli, report, run
    from ftplug.plugins.commands.simulator import serve

    assert cli is not None
    return [(command, parameter) for command in (run, report, serve) for parameter in command.params
            if isinstance(parameter, click.Option) and isinstance(parameter.type, click.types._NumberRangeBase)]


NUMERIC_FLAGS = _numeric_flags()


def test_every_numeric_flag_is_bounded_on_both_sides() -> None:
    assert len(NUMERIC_FLAGS) >= 15
    unbounded = [p.name for _, p in NUMERIC_FLAGS if p.type.min is None or p.type.max is None]  # type: ignore
    assert not unbounded


@settings(max_examples=150, deadline=None)
@given(target=st.sampled_from(NUMERIC_FLAGS), value=st.one_of(HOSTILE.map(str), st.sampled_from(
    ["nan", "inf", "-inf", "1e400", "9223372036854775807", "-9223372036854775808", "0x10", "1_000"])))
def test_a_hostile_flag_is_refused_as_a_usage_error_or_converted_within_its_range(
        target: tuple[click.Command, click.Option], value: str) -> None:
    command, flag = target
    arguments = ["e.toml"] if command.name == "run" else []
    try:
        context = command.make_context(command.name or "", [*arguments, flag.opts[0], value])
    except click.UsageError as error:
        assert "\n" not in error.format_message()
        return
    converted = context.params[flag.name or ""]
    bounds = flag.type
    assert math.isfinite(converted) and bounds.min <= converted <= bounds.max  # type: ignore[attr-defined]
