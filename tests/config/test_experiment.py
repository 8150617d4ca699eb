"""Experiment files: validation errors name the file, the table and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftplug.config.experiment import load_experiment
from ftplug.errors import ConfigError
from tests.helpers import EXAMPLE, fresh_plugins

VALID = """
[experiment]
name = "t"
[data]
loader = "csv"
path = "d.csv"
[model]
base = "gpt-4o-mini"
[[variants]]
name = "zero"
"""


@pytest.fixture(scope="module")
def registry():
    return fresh_plugins().registry


def _load(tmp_path: Path, text: str, registry):
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return load_experiment(path, registry)


def test_example_experiment_loads(registry) -> None:
    experiment = load_experiment(EXAMPLE, registry)
    assert experiment.name == "fortunes-topic"
    assert [v.name for v in experiment.variants] == ["zero-shot", "few-shot-5", "few-shot-40", "fine-tuned"]
    assert experiment.variants[3].trainer.name == "openai"
    assert experiment.variants[3].trainer.options["n_epochs"] == 3
    assert experiment.variants[1].prompt.options["shots"] == 5


def test_defaults_are_filled_in(tmp_path: Path, registry) -> None:
    experiment = _load(tmp_path, VALID, registry)
    variant = experiment.variants[0]
    assert variant.trainer.name == "none"
    assert variant.prompt.name == "few-shot" and variant.prompt.options["shots"] == 0
    assert [s.name for s in experiment.scorers] == ["exact"]
    assert experiment.data.options == {"path": "d.csv", "input": "input", "expected": "expected", "id": "",
                                       "delimiter": ","}


@pytest.mark.parametrize(("change", "message"), [
    (("[model]", "[modle]"), "exp.toml: [modle]: unknown table"),
    (('loader = "csv"', 'loader = "xls"'), "exp.toml: [data]: unknown loader 'xls' (known: csv, jsonl, timeseries)"),
    (('path = "d.csv"', 'path = "d.csv"\ncolumns = 3'), "exp.toml: [data] columns: unknown option for loader 'csv'"),
    (('path = "d.csv"', "path = 3"), "exp.toml: [data] path: must be str, got 3"),
    (('name = "zero"', 'name = "zero"\nprompt = { builder = "few-shot", shots = 2.5 }'),
     "exp.toml: [[variants]] 'zero' prompt shots: must be int or str, got 2.5"),
    (('name = "zero"', 'name = "zero"\nprompt = { builder = "few-shot", select = "best" }'),
     "exp.toml: [[variants]] 'zero' prompt select: must be one of ['first', 'random', 'balanced', 'similar', "
     "'diverse'], got 'best'"),
    (('name = "zero"', 'name = "zero"\ntrainer = "magic"'), "[[variants]] 'zero' trainer: unknown trainer 'magic'"),
    (('name = "t"', "name = 5"), "exp.toml: [experiment] name: must be str, got 5"),
    (('base = "gpt-4o-mini"', ""), "exp.toml: [model] base: missing key"),
])
def test_errors_name_file_table_and_key(tmp_path: Path, registry, change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, VALID.replace(*change), registry)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_toml_syntax_error_names_the_line(tmp_path: Path, registry) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, VALID.replace('name = "zero"', 'name = "zero'), registry)
    assert str(raised.value).startswith(f"{tmp_path / 'exp.toml'}:10: invalid TOML")


def test_missing_file(tmp_path: Path, registry) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_experiment(tmp_path / "nope.toml", registry)


def test_duplicate_variant_names_are_refused(tmp_path: Path, registry) -> None:
    with pytest.raises(ConfigError, match="duplicate variant name"):
        _load(tmp_path, VALID + '[[variants]]\nname = "zero"\n', registry)


def test_a_sweep_expands_into_one_named_variant_per_value(tmp_path: Path, registry) -> None:
    text = VALID + ('[[variants]]\nname = "persona"\nprompt = { builder = "few-shot", shots = 2 }\n'
                    'sweep = { "prompt.system" = ["You are a mathematician.", "You are a trader."] }\n')
    experiment = _load(tmp_path, text, registry)
    assert [v.name for v in experiment.variants] == ["zero", "persona-system#1", "persona-system#2"]
    assert experiment.variants[2].prompt.options["system"] == "You are a trader."
    assert experiment.variants[2].prompt.options["shots"] == 2
    with pytest.raises(ConfigError, match=r"keys are prompt\.OPTION, trainer\.OPTION, train_size"):
        _load(tmp_path, VALID + '[[variants]]\nname = "p"\nsweep = { "data.path" = ["a"] }\n', registry)


def test_a_grid_sweep_gives_every_combination_named_by_its_values(tmp_path: Path, registry) -> None:
    text = VALID + ('[[variants]]\nname = "fs"\nprompt = { builder = "few-shot", system = "Answer." }\n'
                    'sweep = { shots = [0, 5, 20, "max"], "prompt.select" = ["random", "similar"] }\n'
                    '[[variants]]\nname = "ft"\ntrainer = "majority"\nsweep = { train_size = [50, 0.5, "all"] }\n')
    experiment = _load(tmp_path, text, registry)
    names = [v.name for v in experiment.variants]
    assert len(names) == 1 + 8 + 3
    assert names[1:3] == ["fs-shots=0-select=random", "fs-shots=0-select=similar"]
    assert names[-4:] == ["fs-shots=max-select=similar", "ft-train_size=50", "ft-train_size=0.5", "ft-train_size=all"]
    options = {v.name: v.prompt.options for v in experiment.variants}
    assert (options["fs-shots=20-select=similar"]["shots"], options["fs-shots=20-select=similar"]["select"],
            options["fs-shots=20-select=similar"]["system"]) == (20, "similar", "Answer.")
    sizes = {v.name: v.train_size for v in experiment.variants}
    assert [sizes[f"ft-train_size={s}"] for s in ("50", "0.5", "all")] == [50, 0.5, None]
    with pytest.raises(ConfigError, match="train_size: must be a count of rows"):
        _load(tmp_path, VALID + '[[variants]]\nname = "t"\ntrain_size = 1.5\n', registry)


def test_a_scorer_that_declares_needs_samples_asks_for_samples_whatever_its_name(tmp_path: Path) -> None:
    from ftplug.components import Kind

    class Agreement:  # a third-party scorer comparing the samples of a prompt
        needs_samples = True

        def score_samples(self, outputs: list[str], example: object) -> float:
            return float(len(set(outputs)) == 1)

    plugins = fresh_plugins()
    plugins.registry.registrar(Kind.SCORER, "acme")("agreement", Agreement)
    with pytest.raises(ConfigError, match=r"\[scoring\] samples: the agreement scorer needs samples ≥ 2"):
        _load(tmp_path, VALID + '[scoring]\nscorers = ["exact", "agreement"]\n', plugins.registry)
    assert _load(tmp_path, VALID + '[scoring]\nscorers = ["agreement"]\nsamples = 3\n', plugins.registry).samples == 3


def test_only_the_none_trainer_declares_that_it_learns_nothing(registry) -> None:
    from ftplug.capabilities import TrainerCapabilities, declared
    from ftplug.components import Kind
    from ftplug.plugins.trainers.baselines import BASELINES

    def trains(name: str) -> bool:
        return declared(TrainerCapabilities, registry.get(Kind.TRAINER, name).factory).trains

    assert not trains("none")
    assert all(trains(name) for name in (*BASELINES, "openai", "local-lora"))
