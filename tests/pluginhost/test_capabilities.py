"""Optional capabilities: read once with their defaults, and a wrong declaration named, not guessed at."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftplug.capabilities import (
    CapabilityError,
    PromptCapabilities,
    ScorerCapabilities,
    TrainerCapabilities,
    declared,
)
from tests.helpers import run_in_process
from tests.pluginhost.test_plugin_loading import _experiment_with


class Bare:
    def score(self, output: str, example: object) -> float:
        return 1.0


def test_a_component_declaring_nothing_gets_every_default() -> None:
    assert declared(ScorerCapabilities, Bare()) == ScorerCapabilities()
    assert declared(TrainerCapabilities, Bare) == TrainerCapabilities(trains=True, local=False, estimate=None)
    assert declared(PromptCapabilities, object()).build_many is None


def test_declarations_are_read_from_the_instance_or_its_class() -> None:
    class Regression(Bare):
        aggregate = "rmse"
        higher_is_better = False

    class Builder:
        max_output_tokens = 12

        def build_many(self, examples: list[object]) -> list[object]:
            return []

    assert declared(ScorerCapabilities, Regression) == ScorerCapabilities(aggregate="rmse", higher_is_better=False)
    builder = Builder()
    capabilities = declared(PromptCapabilities, builder)
    assert capabilities.max_output_tokens == 12 and capabilities.build_many == builder.build_many


@pytest.mark.parametrize(("attribute", "value", "expected"), [
    ("aggregate", "median", "aggregate = 'median' is not one of 'mean', 'rmse', 'macro_f1'"),
    ("higher_is_better", "yes", "higher_is_better = 'yes' is not True or False"),
    ("needs_samples", 1, "needs_samples = 1 is not True or False"),
])
def test_a_wrong_declaration_is_refused_with_the_attribute_and_its_value(attribute: str, value: object,
                                                                         expected: str) -> None:
    scorer = type("Odd", (Bare,), {attribute: value})()
    with pytest.raises(CapabilityError) as raised:
        declared(ScorerCapabilities, scorer, "scorer 'odd' of plugin 'odd'")
    assert str(raised.value) == f"scorer 'odd' of plugin 'odd': {expected}"


def test_a_limit_that_is_not_a_positive_integer_or_a_method_that_is_not_callable_is_refused() -> None:
    with pytest.raises(CapabilityError, match="max_output_tokens = 0 is not a positive integer or None"):
        declared(PromptCapabilities, type("B", (), {"max_output_tokens": 0})())
    with pytest.raises(CapabilityError, match="estimate = 'soon' is not a function or None"):
        declared(TrainerCapabilities, type("T", (), {"estimate": "soon"})())


MISDECLARED_TRAINER = '''
from ftplug import hookimpl
from ftplug.components import TrainedModel


class Confused:
    local = "yes"

    def train(self, context):
        return TrainedModel(model=context.base_model)


@hookimpl
def ftplug_register_trainers(register):
    register("confused", Confused)
'''


def test_a_trainer_declaring_a_capability_wrongly_fails_only_its_variant(tmp_path: Path) -> None:
    (tmp_path / "confused.py").write_text(MISDECLARED_TRAINER)
    experiment = _experiment_with(tmp_path, '''
[[variants]]
name = "confused"
trainer = { name = "confused" }
prompt = { builder = "few-shot", shots = 0 }
''')
    done = run_in_process("run", str(experiment), "--limit", "3", "--db", "r.duckdb",
                   env={"FTPLUG_PLUGINS": str(tmp_path / "confused.py")}, cwd=tmp_path)
    assert done.exit_code == 1 and "Traceback" not in done.stderr
    assert ("confused: failed: trainer 'confused' of plugin 'confused': local = 'yes' is not True or False"
            in done.stderr)
    assert "zero-shot: 3/3 predictions" in done.stderr


UNKNOWN_AGGREGATE = '''
from ftplug import hookimpl


class Median:
    aggregate = "median"

    def score(self, output, example):
        return 1.0


@hookimpl
def ftplug_register_scorers(register):
    register("median", Median)
'''


def test_a_scorer_with_an_unknown_aggregate_is_refused_before_anything_runs(tmp_path: Path) -> None:
    (tmp_path / "median.py").write_text(UNKNOWN_AGGREGATE)
    experiment = _experiment_with(tmp_path, "")
    experiment.write_text(experiment.read_text().replace('scorers = ["exact"]', 'scorers = ["exact", "median"]'))
    done = run_in_process("run", str(experiment), "--limit", "2", "--db", "r.duckdb",
                   env={"FTPLUG_PLUGINS": str(tmp_path / "median.py")}, cwd=tmp_path)
    assert done.exit_code == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("ftplug: error: scorer 'median' of plugin 'median': aggregate = 'median' is not "
                                   "one of 'mean', 'rmse', 'macro_f1'")
    assert not (tmp_path / "r.duckdb").exists()
