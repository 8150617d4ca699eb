"""The optional capabilities a component may declare, each with its default, read in one place.

A component is duck-typed: it needs only its kind's required method (``load``, ``build``, ``train``,
``score``). Anything more it can do or wants said about it is an optional attribute listed here, as a field
of its kind's capabilities with the default that applies when the attribute is absent. :func:`declared` reads
them once, checks their types and names the attribute a plugin got wrong; nothing else in ftplug probes a
component for an attribute.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from ftplug.errors import FtplugError

Aggregate = Literal["mean", "rmse", "macro_f1"]


@dataclass(frozen=True)
class LoaderCapabilities:
    """What a data loader may declare.

    :param chronological: its examples are ordered in time, so the default split is chronological (no
        random split that would let future rows leak into training and shots).
    """

    chronological: bool = False


@dataclass(frozen=True)
class PromptCapabilities:
    """What a prompt builder may declare.

    :param max_output_tokens: the longest answer its prompts ask for (``max_tokens`` of each request).
    :param build_many: ``examples -> [messages]``, building many prompts in one pass (faster than
        ``build`` one at a time).
    :param describe: ``() -> str``, one line for ``ftplug run --explain``.
    :param report: ``() -> Mapping``, what the builder did (stored with the run's details).
    :param counter: a token counter for local models whose tokenizer the builder owns.
    """

    max_output_tokens: int | None = None
    build_many: Callable[[Sequence[Any]], list[list[dict[str, Any]]]] | None = None
    describe: Callable[[], str] | None = None
    report: Callable[[], Mapping[str, Any]] | None = None
    counter: object | None = None


@dataclass(frozen=True)
class TrainerCapabilities:
    """What a trainer may declare.

    :param trains: it learns from the training split (false for a trainer handing back the base model, as
        the built-in ``none`` does: its variants are prompted ones, with no training rows or cost).
    :param trains_ahead: ``ftplug train`` may train it ahead of a run (its models are reused by runs).
    :param local: the model it returns answers in ftplug's process, so its answers are never simulated (known
        before training: the run's header and ``--dry-run`` say so; a trainer returning a local predictor is
        labelled real either way).
    :param baseline: it is a naive baseline: the report measures every variant's margin over the best one.
    :param estimate: ``context -> TrainingEstimate | None``, what training would cost, computed without any
        request; used by ``ftplug run --dry-run``.
    """

    trains: bool = True
    trains_ahead: bool = False
    local: bool = False
    baseline: bool = False
    estimate: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class ScorerCapabilities:
    """What a scorer may declare.

    :param aggregate: how a run's values become its metric: ``"mean"``, ``"rmse"`` (root of the mean) or
        ``"macro_f1"`` (from the recorded labels).
    :param higher_is_better: whether a larger metric is better.
    :param needs_samples: ``score_samples(outputs, example)`` is called with every sample of a prompt
        (``[scoring] samples``) instead of ``score``.
    :param reads_labels: the ``label`` of each :class:`ftplug.components.Score` is a class label, so the
        report shows the confusion matrix.
    """

    aggregate: Aggregate = "mean"
    higher_is_better: bool = True
    needs_samples: bool = False
    reads_labels: bool = False


class CapabilityError(FtplugError):
    """A component declares an optional attribute with a value of the wrong kind."""


Capabilities = TypeVar("Capabilities", LoaderCapabilities, PromptCapabilities, TrainerCapabilities,
                       ScorerCapabilities)


def declared(kind: type[Capabilities], component: Any, name: str = "") -> Capabilities:
    """The capabilities ``component`` (an instance or its class) declares, defaults filled in.

    :param name: how to name the component in an error (its registered name and plugin).
    :raises CapabilityError: an attribute is present with a value its field does not accept.
    """
    hints = get_type_hints(kind)
    values: dict[str, Any] = {}
    for field in fields(kind):
        value = getattr(component, field.name, field.default)
        if not _accepts(hints[field.name], value):
            who = name or type(component).__name__
            raise CapabilityError(f"{who}: {field.name} = {value!r} is not {_describe(hints[field.name])}")
        values[field.name] = value
    return kind(**values)


def _accepts(hint: Any, value: Any) -> bool:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_accepts(arg, value) for arg in get_args(hint))
    if origin is Literal:
        return value in get_args(hint)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool) and value > 0
    if hint is object:
        return True
    return callable(value)  # a Callable[...] field


def _describe(hint: Any) -> str:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in get_args(hint))
    if origin is Literal:
        return "one of " + ", ".join(repr(arg) for arg in get_args(hint))
    return {type(None): "None", bool: "True or False", int: "a positive integer"}.get(hint, "a function")
