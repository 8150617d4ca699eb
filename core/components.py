"""Component kinds, their declared options, and the interfaces their instances implement."""

from __future__ import annotations

import builtins
import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from ftplug.capabilities import PromptCapabilities, declared
from ftplug.catalogue.local_models import LocalOptions
from ftplug.dataset import Example

MISSING: Any = object()


class Kind(StrEnum):
    """The four kinds of component a plugin can contribute."""

    LOADER = "loader"
    PROMPT_BUILDER = "prompt-builder"
    TRAINER = "trainer"
    SCORER = "scorer"


@dataclass(frozen=True)
class Option:
    """An option a component accepts in the experiment file.

    :param name: the key in the experiment file.
    :param type: accepted Python type(s) of the TOML value (``int`` also accepts nothing but ints;
        ``float`` accepts ints too).
    :param default: the value when the key is absent; :data:`MISSING` makes the option required.
    :param help: one line for ``ftplug plugins info``.
    :param choices: if given, the only values allowed.
    :param within: ``(lowest, highest)``, both allowed: the range of a number (of the numbers of a union
        such as ``int | str``).
    :param items: the type of each element of a list option (``None``: any).
    :param check: a further check of a value the type accepts: ``value -> problem`` (``None``: fine).
    """

    name: str
    type: type | tuple[type, ...]
    default: Any = MISSING
    help: str = ""
    choices: tuple[Any, ...] | None = None
    within: tuple[float, float] | None = None
    items: builtins.type | None = None
    check: Callable[[Any], str | None] | None = None

    @property
    def required(self) -> bool:
        """Whether the experiment file must give this option."""
        return self.default is MISSING

    @property
    def type_name(self) -> str:
        """The accepted types as the user reads them, e.g. ``int | str``."""
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        return " | ".join(t.__name__ for t in types)

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` (as parsed from TOML) is acceptable: see :meth:`problem`."""
        return self.problem(value) is None

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` (as parsed from TOML), said as ``must be …, got …``; ``None`` if it is of
        an accepted type, among the choices, a finite number within the range and passes the check."""
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        if not _of_type(value, types):
            return f"must be {' or '.join(t.__name__ for t in types)}, got {value!r}"
        if self.choices is not None and value not in self.choices:
            return f"must be one of {list(self.choices)}, got {value!r}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        if self.within is not None and _is_number(value) and not self.within[0] <= value <= self.within[1]:
            return f"must be between {_bound(self.within[0])} and {_bound(self.within[1])}, got {value!r}"
        if self.items is not None and isinstance(value, list):
            wrong = next((item for item in value if not _of_type(item, (self.items,))), None)
            if wrong is not None:
                return f"must be a list of {self.items.__name__}, got {wrong!r} in it"
        return self.check(value) if self.check is not None else None


def _of_type(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in types
    if float in types and isinstance(value, int):
        return True
    return isinstance(value, types)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bound(value: float) -> str:
    """A range's bound as the user reads it: ``1``, ``1,024``, ``0.5``."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,}"


@dataclass(frozen=True)
class Help:
    """What a component's factory says of one of its parameters, declaring it an option once, in its signature:
    ``shots: Annotated[int | str, Help("how many examples to show")] = 0`` — the name, the accepted types
    (from the annotation), the default and this help line; ``choices``: the only values allowed (or write
    the type as a ``Literal``); ``within``: ``(lowest, highest)`` of a number; ``check``: ``value -> problem
    or None``, a further check. See :func:`ftplug.pluginhost.declared_options.options_of`."""

    text: str
    choices: tuple[Any, ...] | None = None
    within: tuple[float, float] | None = None
    check: Callable[[Any], str | None] | None = None


@dataclass(frozen=True)
class Component:
    """A named component contributed by a plugin.

    :param factory: called with the validated options as keyword arguments; returns the instance.
    """

    name: str
    kind: Kind
    factory: Callable[..., Any]
    options: tuple[Option, ...] = ()
    description: str = ""
    plugin: str = ""

    @property
    def named(self) -> str:
        """The component as messages name it: its kind, name and plugin."""
        return f"{self.kind.value} {self.name!r} of plugin {self.plugin!r}"

    def option(self, name: str) -> Option | None:
        """The declared option called ``name``, if any."""
        return next((o for o in self.options if o.name == name), None)


class Register(Protocol):
    """The callable a registration hook receives."""

    def __call__(self, name: str, factory: Callable[..., Any], *, options: Sequence[Option] | None = None,
                 description: str = "") -> None:
        """Register ``factory`` as component ``name``; its options are read from the factory's signature
        (:class:`Help`), unless ``options`` declares them (for a factory taking ``**options``)."""


# ---- What component instances implement -------------------------------------------------------

@dataclass(frozen=True)
class LoadContext:
    """What a loader knows about where it runs.

    :param base_dir: the experiment file's folder; relative data paths are resolved against it.
    :param config_path: the experiment file, for error messages.
    """

    base_dir: Path
    config_path: str


class Loader(Protocol):
    """Reads a dataset."""

    def load(self, context: LoadContext) -> Iterable[Example]:
        """Yield the dataset's examples; raise :class:`ftplug.errors.DataError` naming file and line."""
        ...


class PromptBuilder(Protocol):
    """Turns an example into chat messages."""

    def prepare(self, pool: Sequence[Example], model: str, seed: int) -> None:
        """Receive the few-shot pool (the training split) and the target model once, before ``build``."""
        ...

    def build(self, example: Example) -> list[dict[str, Any]]:
        """The chat messages that ask the model for ``example``'s output."""
        ...

    def training_messages(self, example: Example) -> list[dict[str, Any]]:
        """The chat messages of ``example`` as a fine-tuning example (ending with the expected answer)."""
        ...


class Generated(NamedTuple):
    """One answer of a local model, with the tokens it read and wrote when the model counts them."""

    output: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class TrainedModel:
    """What a trainer produced: where to send requests, or a local predictor.

    :param model: the model id to request (the base model when nothing was trained).
    :param predict: for local baselines, a function ``example -> output``; ``None`` means use the API.
    :param details: anything worth storing about the training (job id, trained tokens, …).
    :param base_url: send the variant's requests to this OpenAI-compatible endpoint instead of the run's
        (a model fine-tuned elsewhere is served there); ``api_key_env`` names the variable holding its key.
    :param predict_many: for local models that answer in batches: ``examples -> [Generated]``, called with
        up to ``batch_size`` examples (used instead of ``predict``).
    :param cost_per_hour: the price in USD of an hour of the local predictor's time (its predictions cost
        their share of it).
    :param report: for local predictors, called once the run's predictions are made: what the predictor did
        (a JSON-able dict, stored in the run's details under ``local``).
    :param warm_up: for local predictors, called once before the first prediction (loading weights, say), so
        that no prediction's latency and cost include it.
    """

    model: str
    predict: Callable[[Example], str] | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    base_url: str | None = None
    api_key_env: str | None = None
    predict_many: Callable[[Sequence[Example]], list[Generated]] | None = None
    batch_size: int = 8
    cost_per_hour: float = 0.0
    report: Callable[[], Mapping[str, Any]] | None = None
    warm_up: Callable[[], None] | None = None

    @property
    def answers_here(self) -> bool:
        """Whether this model answers in ftplug's process (``predict`` or ``predict_many``): its answers are
        real, never simulated, whatever endpoint the run has."""
        return self.predict is not None or self.predict_many is not None


@dataclass
class TrainingContext:
    """What a trainer receives.

    :param base_model: the experiment's base model.
    :param train: the training split. ``validation``: the validation split.
    :param prompt: the variant's prompt builder (formats training examples the way it prompts).
    :param client: a synchronous ``openai.OpenAI`` client for the variant's endpoint.
    :param simulated: whether the endpoint is the simulator.
    :param log: prints one progress line for the user.
    :param endpoint_url: the run's endpoint (``None``: the API's default).
    :param ledger: where jobs are remembered across runs (the result store), so an interrupted job is
        resumed and an identical one reused; ``None`` for no memory.
    :param approve_cost: call with the estimated training cost in USD (``None`` if unknown) and a
        description before spending money; raises :class:`ftplug.errors.FtplugError` if the user or a
        limit refuses.
    :param resume_hint: the command that re-runs this experiment, for messages after an interruption.
    :param local_options: how local models run (``[model] local``): device, dtype, batch size, price per hour.
    :param temperature: the experiment's sampling temperature (``[scoring] temperature``), for trainers
        whose models answer in-process.
    """

    experiment: str
    variant: str
    base_model: str
    train: Sequence[Example]
    validation: Sequence[Example]
    prompt: PromptBuilder
    client: Any
    simulated: bool
    seed: int
    log: Callable[[str], None] = print
    endpoint_url: str | None = None
    ledger: Any = None
    approve_cost: Callable[[float | None, str], None] = lambda cost, what: None
    resume_hint: str = "ftplug run EXPERIMENT.toml"
    local_options: LocalOptions = field(default_factory=LocalOptions)
    temperature: float = 0.0


class Trainer(Protocol):
    """Produces the model a variant is evaluated with.

    Optional attributes: ``trains`` (default ``True``) — false for a trainer that learns nothing and hands
    back the base model (the built-in ``none``): the variant is then a prompted one, with no training rows
    and no training cost; ``local`` (default ``False``) — true when the model it returns answers in
    ftplug's process, so its answers are never labelled simulated.
    """

    def train(self, context: TrainingContext) -> TrainedModel:
        """Train (or not) and say which model answers; raise :class:`ftplug.errors.FtplugError` on failure."""
        ...

    # Optional: ``estimate(context) -> TrainingEstimate | None`` — what training would cost, computed
    # without any request (``context.client`` is ``None``); used by ``ftplug run --dry-run``.


@dataclass(frozen=True)
class Score:
    """A scorer's verdict on one output: its value and, for classification scorers, the label it read."""

    value: float | None
    label: str | None = None


class Scorer(Protocol):
    """Scores one output against its example.

    Optional attributes: ``aggregate`` — how a run's values become its metric: ``"mean"`` (default),
    ``"rmse"`` (root of the mean) or ``"macro_f1"`` (from the recorded labels); ``higher_is_better``
    (default ``True``); ``needs_samples`` — if true, ``score_samples(outputs, example)`` is called with
    every sample of the prompt (``[scoring] samples``) instead of ``score``; ``reads_labels`` — if true, the
    ``label`` of each :class:`Score` is a class label, so the report shows the confusion matrix.
    """

    def score(self, output: str, example: Example) -> float | Score | None:
        """A value (1.0 = correct for match scorers), or ``None`` when the scorer does not apply. An
        exception is recorded as an error for this output only."""
        ...


PROMPT_CHUNK = 256  # test prompts built together (their queries tokenised in one pass)


def prompts_for(builder: Any, test: Iterable[Example],
                declares: PromptCapabilities | None = None) -> Iterator[tuple[Example, list[dict[str, Any]]]]:
    """Each test example with its messages, built a chunk at a time when the builder can (``build_many``).

    :param declares: the builder's capabilities, if already read.
    """
    build_many = (declares or declared(PromptCapabilities, builder)).build_many
    if build_many is None:
        for example in test:
            yield example, builder.build(example)
        return
    examples = iter(test)
    while chunk := list(itertools.islice(examples, PROMPT_CHUNK)):
        yield from zip(chunk, build_many(chunk), strict=True)
