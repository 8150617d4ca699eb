"""Each built-in scorer on hand-checked cases; a failing scorer fails for its output only."""

from __future__ import annotations

import pytest

from ftplug.components import Score
from ftplug.dataset import Example
from ftplug.engine.scoring import active_scorers, score_prediction
from ftplug.errors import ConfigError
from ftplug.plugins.scorers.basic import Accuracy, ExactMatch, MacroF1
from ftplug.plugins.scorers.numeric import (
    AbsoluteError,
    Directional,
    SquaredError,
    SymmetricPercentageError,
    Unparsed,
    parse_number,
)
from ftplug.plugins.scorers.text import Consistency, Disclaimers, FormatCompliance, Refusals


def ex(expected: str, text: str = "q") -> Example:
    return Example("e", text, expected)


def test_exact_and_normalized() -> None:
    assert ExactMatch().score('  "Law."  ', ex("law")) == 1.0
    assert ExactMatch(normalize=False).score("Law", ex("law")) == 0.0
    assert ExactMatch().score("law and order", ex("law")) == 0.0


def test_accuracy_reads_the_first_declared_label_as_a_word() -> None:
    scorer = Accuracy(labels=["up", "down", "unchanged"])
    assert scorer.score("I think it will go DOWN tomorrow.", ex("down")) == Score(1.0, "down")
    assert scorer.score("Upward? No: down.", ex("down")) == Score(1.0, "down")  # "upward" is not "up"
    assert scorer.score("It is impossible to say.", ex("up")) == Score(0.0, "")
    assert Accuracy().score("Science", ex("science")) == Score(1.0, "science")
    with pytest.raises(ConfigError):
        Accuracy(labels="up")  # type: ignore[arg-type]
    assert MacroF1.aggregate == "macro_f1"


def test_parse_number() -> None:
    assert parse_number("about 1,234.5 points") == 1234.5
    assert parse_number("−0.25") == -0.25
    assert parse_number("rate: .5") == 0.5
    assert parse_number("1e-3") == 0.001
    assert parse_number("no idea") is None


def test_numeric_errors() -> None:
    assert AbsoluteError().score("The value will be 1.30", ex("1.25")) == pytest.approx(0.05)
    assert SquaredError().score("3", ex("1")) == 4.0 and SquaredError.aggregate == "rmse"
    assert SymmetricPercentageError().score("110", ex("90")) == pytest.approx(0.2)
    assert SymmetricPercentageError().score("0", ex("0")) == 0.0
    assert AbsoluteError().score("I cannot predict that", ex("1.0")) is None
    assert Unparsed().score("I cannot predict that", ex("1.0")) == Score(1.0)
    assert Unparsed().score("0.9", ex("1.0")) == Score(0.0)
    with pytest.raises(ValueError, match="not a number"):
        AbsoluteError().score("1", ex("up"))


def test_directional_measures_from_the_inputs_last_value() -> None:
    series = "date,rate\n1980-01-02,0.5861\n1980-01-03,0.5837"  # last value 0.5837
    scorer = Directional()
    assert scorer.score("0.5900", ex("0.5850", series)) == 1.0  # both up
    assert scorer.score("0.5800", ex("0.5850", series)) == 0.0  # predicted down, went up
    assert scorer.score("0.5837", ex("0.5837", series)) == 1.0  # both flat
    assert Directional(reference_key="last").score("2", Example("e", "x", "3", metadata={"last": 1.0})) == 1.0


def test_format_regex_and_json_schema(tmp_path) -> None:
    assert FormatCompliance(regex=r"(up|down)").score(" up\n", ex("")) == 1.0
    assert FormatCompliance(regex=r"(up|down)").score("up!", ex("")) == 0.0
    schema = {"type": "object", "required": ["direction"],
              "properties": {"direction": {"enum": ["up", "down"]}}}
    scorer = FormatCompliance(json_schema=schema)
    assert scorer.score('{"direction": "up"}', ex("")) == 1.0
    assert scorer.score('{"direction": "sideways"}', ex("")) == 0.0
    assert scorer.score("up", ex("")) == 0.0
    (tmp_path / "s.json").write_text('{"type": "integer"}')
    assert FormatCompliance(json_schema=str(tmp_path / "s.json")).score("3", ex("")) == 1.0
    with pytest.raises(ConfigError, match="exactly one of regex or json_schema"):
        FormatCompliance()
    with pytest.raises(ConfigError, match="not a valid JSON Schema"):
        FormatCompliance(json_schema={"type": 12})


def test_disclaimers_and_refusals() -> None:
    assert Disclaimers().score("As an AI language model, I cannot predict markets.", ex("")) == 1.0
    assert Disclaimers().score("This is not financial advice, but: up.", ex("")) == 1.0
    assert Disclaimers().score("down", ex("")) == 0.0
    assert Disclaimers(extra_patterns=[r"\bdyor\b"]).score("DYOR", ex("")) == 1.0
    assert Refusals().score("I'm sorry, but I can't help with that.", ex("")) == 1.0
    assert Refusals().score("up", ex("")) == 0.0
    with pytest.raises(ConfigError):
        Refusals(patterns=["("])


def test_consistency_is_the_share_of_the_modal_answer() -> None:
    assert Consistency().score_samples(["up", "Up.", "down", "up"], ex("up")) == 0.75
    assert Consistency().score_samples(["up"], ex("up")) is None


def test_a_failing_scorer_records_an_error_for_that_output_only() -> None:
    scored = score_prediction(active_scorers([("exact", ExactMatch()), ("mae", AbsoluteError()),
                                              ("acc", Accuracy(labels=["up"]))]), "up 3", None, ex("up"))
    assert scored.values == {"exact": 0.0, "mae": None, "acc": 1.0}
    assert scored.errors == {"mae": "ValueError: expected value 'up' is not a number"}
    assert scored.labels == {"acc": "up"}


class _Blunt:
    """A scorer that answers what it is told to."""

    def __init__(self, value: object) -> None:
        self.value = value

    def score(self, output: str, example: Example) -> object:
        return self.value


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), Score(float("inf")), "many"])
def test_a_score_that_is_not_a_finite_number_is_stored_as_missing_with_the_reason(value: object) -> None:
    scored = score_prediction(active_scorers([("odd", _Blunt(value)), ("exact", ExactMatch())]), "up", None, ex("up"))
    assert scored.values == {"odd": None, "exact": 1.0}
    assert ("not a finite number" in scored.errors["odd"] if value != "many"
            else scored.errors["odd"].startswith("ValueError: could not convert"))
