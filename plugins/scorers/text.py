"""Built-in scorers of the form of an answer: ``format`` compliance, ``disclaimers``, ``refusals``, and
``consistency`` across repeated samples of the same prompt."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from ftplug import hookimpl
from ftplug.components import Help
from ftplug.dataset import Example
from ftplug.errors import ConfigError

DISCLAIMER_PATTERNS = (
    r"\bas an? (ai|artificial intelligence)( language)?( model)?\b",
    r"\bi(?:'m| am) (just |only )?an? (ai|language model)\b",
    r"\bi (cannot|can't|can not|am unable to|am not able to) (predict|forecast|guarantee|know)\b",
    r"\bimpossible to (predict|forecast|know)\b",
    r"\b(this|it) is not (financial|investment|legal|medical) advice\b",
    r"\bnot (financial|investment) advice\b",
    r"\bconsult (a|an|your) (qualified |licensed )?(financial|professional|advisor|adviser|expert)",
    r"\bpast performance (is|does) not\b",
    r"\bi (do not|don't) have (access to )?(real-time|current|live)\b",
    r"\bplease note that\b",
)
REFUSAL_PATTERNS = (
    r"\bi(?:'m| am) (sorry|afraid)\b",
    r"\bi (cannot|can't|can not|won't|will not) (help|assist|comply|provide|do that|answer)\b",
    r"\b(unable|not able) to (help|assist|provide|answer|comply)\b",
    r"\bi must (decline|refuse)\b",
)


Patterns = Annotated[Sequence[str] | None, Help("regular expressions replacing the built-in list")]
ExtraPatterns = Annotated[Sequence[str], Help("regular expressions added to the built-in list")]


class PatternRate:
    """1.0 when the output matches any of the patterns (case-insensitive regular expressions)."""

    aggregate = "mean"
    higher_is_better = False

    def __init__(self, patterns: Sequence[str], extra_patterns: Sequence[str] = ()) -> None:
        try:
            self.pattern = re.compile("|".join(f"(?:{p})" for p in (*patterns, *extra_patterns)), re.IGNORECASE)
        except re.error as error:
            raise ConfigError(f"patterns: not a regular expression: {error}") from None

    def score(self, output: str, example: Example) -> float:
        """1.0 if any pattern occurs in ``output``."""
        return float(self.pattern.search(output) is not None)


class Disclaimers(PatternRate):
    """Hedging boilerplate: "As an AI language model…", "I cannot predict…", "not financial advice"."""

    def __init__(self, patterns: Patterns = None, extra_patterns: ExtraPatterns = ()) -> None:
        super().__init__(patterns or DISCLAIMER_PATTERNS, extra_patterns)


class Refusals(PatternRate):
    """Refusals: "I'm sorry, but I can't help with that"."""

    def __init__(self, patterns: Patterns = None, extra_patterns: ExtraPatterns = ()) -> None:
        super().__init__(patterns or REFUSAL_PATTERNS, extra_patterns)


class FormatCompliance:
    """1.0 when the output fully matches ``regex`` or is JSON valid against ``json_schema``."""

    aggregate = "mean"
    higher_is_better = True

    def __init__(self,
                 regex: Annotated[str, Help("the whole (stripped) output must match this regular expression")] = "",
                 json_schema: Annotated[dict[str, Any] | str, Help("a JSON Schema (inline table, or a path to a .json "
                                                                   "file)")] = "") -> None:
        if bool(regex) == bool(json_schema):
            raise ConfigError("format needs exactly one of regex or json_schema")
        self.regex = None
        self.validator = None
        if regex:
            try:
                self.regex = re.compile(regex, re.DOTALL)
            except re.error as error:
                raise ConfigError(f"regex: not a regular expression: {error}") from None
        else:
            self.validator = _schema_validator(json_schema)

    def score(self, output: str, example: Example) -> float:
        """1.0 for a compliant output."""
        text = output.strip()
        if self.regex is not None:
            return float(self.regex.fullmatch(text) is not None)
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            return 0.0
        assert self.validator is not None
        return float(self.validator.is_valid(document))


def _schema_validator(schema: dict[str, Any] | str) -> Any:
    import jsonschema

    if isinstance(schema, str):
        try:
            schema = json.loads(Path(schema).read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError(f"json_schema: cannot read {schema}: {error.strerror}") from None
        except json.JSONDecodeError as error:
            raise ConfigError(f"json_schema: {schema} is not JSON: {error.msg}") from None
    try:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
    except jsonschema.SchemaError as error:
        raise ConfigError(f"json_schema is not a valid JSON Schema: {error.message}") from None
    return cls(schema)


class Consistency:
    """Agreement across repeated samples of the same prompt: the share of samples equal (after
    normalisation) to the most common one. Needs ``[scoring] samples`` ≥ 2."""

    aggregate = "mean"
    higher_is_better = True
    needs_samples = True

    def score(self, output: str, example: Example) -> None:
        """Not used: :meth:`score_samples` scores this scorer."""
        return None

    def score_samples(self, outputs: Sequence[str], example: Example) -> float | None:
        """1.0 when every sample agrees; ``None`` with fewer than two samples."""
        from ftplug.dataset.labels import normalize

        if len(outputs) < 2:
            return None
        counts = Counter(normalize(output) for output in outputs)
        return counts.most_common(1)[0][1] / len(outputs)


@hookimpl
def ftplug_register_scorers(register: Any) -> None:
    """Contribute ``format``, ``disclaimers``, ``refusals`` and ``consistency``."""
    register("format", FormatCompliance, description="format compliance: a regex or a JSON Schema")
    register("disclaimers", Disclaimers, description="rate of hedging boilerplate")
    register("refusals", Refusals, description="rate of refusals")
    register("consistency", Consistency, description="agreement across [scoring] samples repeated samples")
