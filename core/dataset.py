"""Examples, datasets and the seeded, disjoint train / validation / test split."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ftplug.errors import ConfigError, DataError

SPLIT_NAMES = ("train", "validation", "test")


@dataclass(frozen=True)
class Example:
    """One input with its expected output.

    :param id: stable identifier; derived from the content when the source has none.
    :param input: the text (or chat messages) the model receives.
    :param expected: the output the model should produce.
    :param metadata: anything else the loader knows (source line, raw record, …).
    """

    id: str
    input: str | tuple[dict[str, Any], ...]
    expected: str
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def input_text(self) -> str:
        """The input as one string: the text itself, or the last user message of a conversation."""
        if isinstance(self.input, str):
            return self.input
        users = [m.get("content", "") for m in self.input if m.get("role") == "user"]
        return str(users[-1]) if users else ""


def content_id(input_value: object, expected: str) -> str:
    """A short id derived from an example's content, stable across runs and machines."""
    payload = json.dumps([input_value, expected], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Splits:
    """The three disjoint parts of a dataset. ``train`` is also the few-shot pool."""

    train: tuple[Example, ...]
    validation: tuple[Example, ...]
    test: tuple[Example, ...]

    def as_dict(self) -> dict[str, tuple[Example, ...]]:
        """The splits by name."""
        return {"train": self.train, "validation": self.validation, "test": self.test}


def check_unique_ids(examples: Sequence[Example], source: str) -> None:
    """Refuse a dataset in which two examples share an id (results would be ambiguous)."""
    seen: dict[str, Example] = {}
    for example in examples:
        if example.id in seen:
            line = example.metadata.get("line")
            raise DataError(f"duplicate example id {example.id!r}", path=source, where=line)
        seen[example.id] = example


def _split_size(value: float | int, total: int, name: str, config_path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"must be a fraction below 1 or a count, got {value!r}", path=config_path,
                          where=f"[split] {name}")
    if isinstance(value, float) and value < 1:
        return round(total * value)
    if isinstance(value, float) and not value.is_integer():
        raise ConfigError(f"must be a fraction below 1 or a whole count, got {value!r}", path=config_path,
                          where=f"[split] {name}")
    return int(value)


def split_dataset(examples: Iterable[Example], *, seed: int, test: float | int, validation: float | int,
                  config_path: str = "<experiment>") -> Splits:
    """Split examples into disjoint train, validation and test parts, fixed by ``seed``.

    Each example's place in the order is a hash of (seed, example id), so the split does not depend on
    the order of the file and adding examples moves no existing one between test and train.

    :param test: a fraction (< 1) or a count of examples for the test split.
    :param validation: the same for the validation split; the rest is the training split.
    """
    ordered = sorted(examples, key=lambda e: hashlib.sha256(f"{seed}:{e.id}".encode()).digest())
    total = len(ordered)
    n_test = _split_size(test, total, "test", config_path)
    n_validation = _split_size(validation, total, "validation", config_path)
    if n_test < 1:
        raise ConfigError(f"the test split would be empty ({total} examples)", path=config_path,
                          where="[split] test")
    if n_test + n_validation >= total:
        raise ConfigError(
            f"test ({n_test}) + validation ({n_validation}) leave no training examples out of {total}",
            path=config_path, where="[split]")
    return Splits(
        test=tuple(ordered[:n_test]),
        validation=tuple(ordered[n_test:n_test + n_validation]),
        train=tuple(ordered[n_test + n_validation:]),
    )
