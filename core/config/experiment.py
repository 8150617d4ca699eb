"""Loading an experiment file (TOML) and validating it against the registered components."""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftplug.capabilities import ScorerCapabilities, declared
from ftplug.catalogue.local_models import (
    LocalModelNotFound,
    LocalOptions,
    is_local_model,
    locate_local_model,
    read_local_options,
    remember_local_model,
)
from ftplug.components import Component, Kind, Option
from ftplug.config import limits
from ftplug.config.sweeps import DEFAULT_PROMPT, DEFAULT_TRAINER, ShotDraw, check_draws, expand_draws, expand_sweeps
from ftplug.dataset import split_size_problem
from ftplug.errors import ConfigError
from ftplug.pluginhost.registry import Registry

TOP_LEVEL_TABLES = {"experiment", "data", "split", "model", "variants", "scoring", "run", "report"}
SPLIT_METHODS = ("random", "chronological")


@dataclass(frozen=True)
class ComponentSpec:
    """A component chosen in the experiment file, with its validated options (defaults filled in)."""

    component: Component
    options: dict[str, Any]
    where: str
    path: str = "<experiment>"

    @property
    def name(self) -> str:
        """The component's registered name."""
        return self.component.name

    def create(self) -> Any:
        """A new instance of the component with these options."""
        with self.locate_errors():
            return self.component.factory(**self.options)

    @contextmanager
    def locate_errors(self) -> Iterator[None]:
        """Give a :class:`ConfigError` raised without a location this component's file and table."""
        try:
            yield
        except ConfigError as error:
            if error.path is not None:
                raise
            raise ConfigError(error.message, path=self.path, where=self.where) from None


@dataclass(frozen=True)
class VariantSpec:
    """One way of answering the task: a trainer and a prompt builder."""

    name: str
    trainer: ComponentSpec
    prompt: ComponentSpec
    train_size: int | float | None = None  # training rows the trainer sees (None: the whole training split)
    model: str | None = None  # this variant's base model (None: the experiment's [model] base)
    endpoint: dict[str, str] | None = None  # this variant's own API: base_url and api_key_env
    draw: ShotDraw | None = None  # one of several selections of its few-shot examples (``draws = D``)


@dataclass(frozen=True)
class Experiment:
    """A validated experiment file."""

    name: str
    path: Path
    seed: int
    description: str
    data: ComponentSpec
    base_model: str
    variants: tuple[VariantSpec, ...]
    scorers: tuple[ComponentSpec, ...]
    test_split: float | int = 0.2
    validation_split: float | int = 0.1
    split_method: str = ""  # "random", "chronological", or "" for the loader's own (see planning.load_splits)
    run_options: dict[str, Any] = field(default_factory=dict)
    scorer_ids: tuple[str, ...] = ()
    samples: int = 1
    temperature: float = 0.0
    report_options: dict[str, Any] = field(default_factory=dict)
    local_options: LocalOptions = field(default_factory=LocalOptions)

    def model_for(self, variant: VariantSpec) -> str:
        """The base model ``variant`` prompts or trains: its own ``model``, else ``[model] base``."""
        return variant.model or self.base_model

    @property
    def base_dir(self) -> Path:
        """The folder relative data paths are resolved against."""
        return self.path.parent


class _Reader:
    """Typed access to the parsed TOML with errors that name file, table and key."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def fail(self, where: str, message: str) -> ConfigError:
        return ConfigError(message, path=self.path, where=where)

    def table(self, doc: dict[str, Any], key: str, *, required: bool = True) -> dict[str, Any]:
        value = doc.get(key)
        if value is None:
            if required:
                raise self.fail(f"[{key}]", "missing table")
            return {}
        if not isinstance(value, dict):
            raise self.fail(f"[{key}]", f"must be a table, got {type(value).__name__}")
        return value

    def value(self, table: dict[str, Any], where: str, key: str, types: type | tuple[type, ...],
              default: Any = ..., *, within: tuple[float, float] | None = None) -> Any:
        """``table[key]`` checked to be of ``types`` (a number finite, and within ``(lowest, highest)`` if given),
        or ``default`` when absent (``...``: the key is required)."""
        if key not in table:
            if default is ...:
                raise self.fail(f"{where} {key}", "missing key")
            return default
        value = table[key]
        allowed = types if isinstance(types, tuple) else (types,)
        problem = Option(key, allowed, within=within).problem(value)
        if problem is not None:
            raise self.fail(f"{where} {key}", problem)
        return value

    def only_keys(self, table: dict[str, Any], where: str, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(f"{where} {key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _parse_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("no such file", path=path) from None
    except OSError as error:
        raise ConfigError(f"cannot read: {error.strerror}", path=path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"not UTF-8 text ({error.reason}): save the file as UTF-8", path=path,
                          where=raw[:error.start].count(b"\n") + 1) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"\(at line (\d+), column \d+\)", str(error))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        line = int(match.group(1)) if match else None
        raise ConfigError(f"invalid TOML: {message}", path=path, where=line) from None


def _component(reader: _Reader, registry: Registry, kind: Kind, name: str, options: dict[str, Any],
               where: str) -> ComponentSpec:
    component = registry.get(kind, name, path=reader.path, where=where)
    values: dict[str, Any] = {}
    for key, value in options.items():
        option = component.option(key)
        if option is None:
            known = ", ".join(o.name for o in component.options) or "none"
            raise reader.fail(f"{where} {key}", f"unknown option for {kind.value} {name!r} (known: {known})")
        problem = option.problem(value)
        if problem is not None:
            raise reader.fail(f"{where} {key}", problem)
        values[key] = value
    for option in component.options:
        if option.name not in values:
            if option.required:
                raise reader.fail(f"{where} {option.name}", f"missing option of {kind.value} {name!r}")
            values[option.name] = copy.deepcopy(option.default)  # the factory may keep and change it
    return ComponentSpec(component=component, options=values, where=where, path=reader.path)


def _named(reader: _Reader, value: Any, where: str, name_key: str) -> tuple[str, dict[str, Any]]:
    """Accept ``"name"`` or ``{name_key = "name", option = …}``."""
    if isinstance(value, str):
        return value, {}
    if isinstance(value, dict):
        options = dict(value)
        name = options.pop(name_key, None)
        if not isinstance(name, str):
            raise reader.fail(f"{where} {name_key}", "missing or not a string")
        return name, options
    raise reader.fail(where, f"must be a name or a table, got {value!r}")


def _endpoint(reader: _Reader, raw: dict[str, Any], where: str) -> dict[str, str] | None:
    """A variant's own OpenAI-compatible API: ``{ base_url = "https://…/v1", api_key_env = "VAR" }``."""
    if "endpoint" not in raw:
        return None
    table = raw["endpoint"]
    if not isinstance(table, dict):
        raise reader.fail(f"{where} endpoint", 'must be a table such as { base_url = "https://host/v1", '
                                               'api_key_env = "HOST_API_KEY" }')
    reader.only_keys(table, f"{where} endpoint", {"base_url", "api_key_env"})
    base_url = reader.value(table, f"{where} endpoint", "base_url", str)
    if not base_url.startswith(("http://", "https://")):
        raise reader.fail(f"{where} endpoint base_url", f"must be an http(s) URL, got {base_url!r}")
    api_key_env = reader.value(table, f"{where} endpoint", "api_key_env", str, "OPENAI_API_KEY")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", api_key_env):
        raise reader.fail(f"{where} endpoint api_key_env", f"must name an environment variable, got {api_key_env!r}")
    return {"base_url": base_url.rstrip("/"), "api_key_env": api_key_env}


def _train_size(reader: _Reader, raw: dict[str, Any], where: str) -> int | float | None:
    """A variant's ``train_size``: a count of training rows, a fraction (≤ 1), or ``"all"`` (``None``)."""
    value = raw.get("train_size", "all")
    if value == "all":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= limits.TRAIN_ROWS or (
            isinstance(value, float) and value > 1):
        raise reader.fail(f"{where} train_size",
                          f'must be a count of rows, a fraction up to 1, or "all"; got {value!r}')
    return value


def load_experiment(path: str | Path, registry: Registry) -> Experiment:
    """Read and validate an experiment file.

    :raises ConfigError: naming the file, table and key of the first problem found.
    """
    path = Path(path)
    return experiment_from_dict(_parse_toml(path), registry, path)


def experiment_from_dict(doc: dict[str, Any], registry: Registry, path: str | Path) -> Experiment:
    """Validate an experiment given as the dict its TOML file would parse to; ``path`` names it in errors
    and is what relative data paths are resolved against (its folder).

    :raises ConfigError: naming ``path``, the table and the key of the first problem found.
    """
    path = Path(path)
    reader = _Reader(path)
    for key in doc:
        if key not in TOP_LEVEL_TABLES:
            raise reader.fail(f"[{key}]", f"unknown table (allowed: {', '.join(sorted(TOP_LEVEL_TABLES))})")
    name, seed, description = _read_identity(reader, reader.table(doc, "experiment"))
    data = dict(reader.table(doc, "data"))
    loader_name = reader.value(data, "[data]", "loader", str)
    data.pop("loader")
    data_spec = _component(reader, registry, Kind.LOADER, loader_name, data, "[data]")
    test_split, validation_split, split_method = _read_split(reader, reader.table(doc, "split", required=False))
    base_model, local_options = _read_model(reader, reader.table(doc, "model"), path.parent)
    variants = _read_variants(reader, registry, doc.get("variants"), path.parent)
    scoring = _read_scoring(reader, registry, reader.table(doc, "scoring", required=False))
    report_options = _read_report(reader, reader.table(doc, "report", required=False), variants, scoring.ids)
    return Experiment(name=name, path=path, seed=seed, description=description, data=data_spec,
                      base_model=base_model, variants=tuple(variants), scorers=tuple(scoring.scorers),
                      test_split=test_split, validation_split=validation_split, split_method=split_method,
                      run_options=_run_options(reader, reader.table(doc, "run", required=False)),
                      scorer_ids=tuple(scoring.ids), samples=scoring.samples, temperature=scoring.temperature,
                      report_options=report_options, local_options=local_options)


def _read_identity(reader: _Reader, meta: dict[str, Any]) -> tuple[str, int, str]:
    """``[experiment]``: its name, seed and description."""
    reader.only_keys(meta, "[experiment]", {"name", "seed", "description"})
    name = reader.value(meta, "[experiment]", "name", str)
    if not name.strip():
        raise reader.fail("[experiment] name", "must not be empty")
    seed = reader.value(meta, "[experiment]", "seed", int, 0, within=limits.SEED)
    return name, seed, reader.value(meta, "[experiment]", "description", str, "")


def _read_split(reader: _Reader, split: dict[str, Any]) -> tuple[int | float, int | float, str]:
    """``[split]``: the test and validation sizes and the method (``""``: the loader's own)."""
    reader.only_keys(split, "[split]", {"test", "validation", "method"})
    test_split = reader.value(split, "[split]", "test", (int, float), 0.2)
    validation_split = reader.value(split, "[split]", "validation", (int, float), 0.1)
    for key, size in (("test", test_split), ("validation", validation_split)):
        problem = split_size_problem(size)
        if problem is not None:
            raise reader.fail(f"[split] {key}", problem)
    split_method = reader.value(split, "[split]", "method", str, "")
    if split_method not in ("", *SPLIT_METHODS):
        raise reader.fail("[split] method", f"must be one of {', '.join(SPLIT_METHODS)}, got {split_method!r}")
    return test_split, validation_split, split_method


def _read_model(reader: _Reader, model: dict[str, Any], base_dir: Path) -> tuple[str, LocalOptions]:
    """``[model]``: the base model and how local models run; a ``catalogue`` file is put in use."""
    reader.only_keys(model, "[model]", {"base", "catalogue", "local"})
    base_model = reader.value(model, "[model]", "base", str)
    _check_local_model(reader, base_model, base_dir, "[model] base")
    local_options = read_local_options(reader, model)
    catalogue_file = reader.value(model, "[model]", "catalogue", str, "")
    if catalogue_file:
        from ftplug.catalogue.models import use_catalogue_file

        use_catalogue_file(base_dir / catalogue_file)
    return base_model, local_options


def _read_variants(reader: _Reader, registry: Registry, raw_variants: Any, base_dir: Path) -> list[VariantSpec]:
    """``[[variants]]``, sweeps and draws expanded: at least one, with distinct names."""
    if not isinstance(raw_variants, list) or not raw_variants:
        raise reader.fail("[[variants]]", "at least one variant is required")
    variants: list[VariantSpec] = []
    for index, raw in enumerate(expand_draws(reader, expand_sweeps(reader, raw_variants)), start=1):
        if not isinstance(raw, dict):
            raise reader.fail(f"[[variants]] #{index}", "must be a table")
        variants.append(_read_variant(reader, registry, raw, f"[[variants]] #{index}", base_dir,
                                      {v.name for v in variants}))
    return variants


def _read_variant(reader: _Reader, registry: Registry, raw: dict[str, Any], table: str, base_dir: Path,
                  taken: set[str]) -> VariantSpec:
    """One variant (its name not one of ``taken``): its trainer and prompt builder with their options, and its
    own training size, model and API."""
    reader.only_keys(raw, table, {"name", "trainer", "prompt", "train_size", "model", "endpoint", "draws"})
    variant_name = reader.value(raw, table, "name", str)
    table = f"[[variants]] {variant_name!r}"
    if variant_name in taken:
        raise reader.fail(f"{table} name", "duplicate variant name")
    trainer_name, trainer_options = _named(reader, raw.get("trainer", DEFAULT_TRAINER), f"{table} trainer", "name")
    builder_name, builder_options = _named(reader, raw.get("prompt", DEFAULT_PROMPT), f"{table} prompt",
                                           "builder")
    variant_model = reader.value(raw, table, "model", str, None)
    if variant_model is not None:
        _check_local_model(reader, variant_model, base_dir, f"{table} model")
    prompt_spec = _component(reader, registry, Kind.PROMPT_BUILDER, builder_name, builder_options, f"{table} prompt")
    draw = raw.get("draws")  # a ShotDraw: expand_draws replaced the count
    if draw is not None:
        check_draws(reader, draw, prompt_spec.options)
    return VariantSpec(
        name=variant_name,
        trainer=_component(reader, registry, Kind.TRAINER, trainer_name, trainer_options, f"{table} trainer"),
        prompt=prompt_spec, train_size=_train_size(reader, raw, table), model=variant_model,
        endpoint=_endpoint(reader, raw, table), draw=draw)


@dataclass(frozen=True)
class _Scoring:
    scorers: list[ComponentSpec]
    ids: list[str]
    samples: int
    temperature: float


def _read_scoring(reader: _Reader, registry: Registry, scoring: dict[str, Any]) -> _Scoring:
    """``[scoring]``: the scorers (each under a distinct id), the samples per prompt and their temperature."""
    reader.only_keys(scoring, "[scoring]", {"scorers", "samples", "temperature"})
    raw_scorers = scoring.get("scorers", ["exact"])
    if not isinstance(raw_scorers, list) or not raw_scorers:
        raise reader.fail("[scoring] scorers", "must be a non-empty list of scorer names or tables")
    scorers, scorer_ids = [], []
    for raw in raw_scorers:
        scorer_name, scorer_options = _named(reader, raw, "[scoring] scorers", "name")
        scorer_id = scorer_options.pop("id", scorer_name)
        if not isinstance(scorer_id, str) or not scorer_id:
            raise reader.fail(f"[scoring] scorers {scorer_name!r} id", "must be a non-empty string")
        if scorer_id in scorer_ids:
            raise reader.fail(f"[scoring] scorers {scorer_id!r}", "appears twice: give one of them another "
                                                                  'id, e.g. { name = "format", id = "json-ok" }')
        scorer_ids.append(scorer_id)
        scorers.append(_component(reader, registry, Kind.SCORER, scorer_name, scorer_options,
                                  f"[scoring] scorers {scorer_name!r}"))
    samples = reader.value(scoring, "[scoring]", "samples", int, 1)
    if samples < 1 or samples > 128:
        raise reader.fail("[scoring] samples", "must be between 1 and 128")
    temperature = float(reader.value(scoring, "[scoring]", "temperature", (int, float), 0.0 if samples == 1 else 1.0))
    if not 0 <= temperature <= 2:
        raise reader.fail("[scoring] temperature", "must be between 0 and 2")
    sampling = [spec.name for spec in scorers
                if declared(ScorerCapabilities, spec.component.factory, spec.component.named).needs_samples]
    if samples < 2 and sampling:
        raise reader.fail("[scoring] samples", f"the {sampling[0]} scorer needs samples ≥ 2 (repeated answers to "
                                               "compare), e.g. samples = 5")
    return _Scoring(scorers, scorer_ids, samples, temperature)


def _read_report(reader: _Reader, report: dict[str, Any], variants: list[VariantSpec],
                 scorer_ids: list[str]) -> dict[str, Any]:
    """``[report]``: the volume of the break-even, the reference variant, the primary scorer, the cluster."""
    reader.only_keys(report, "[report]", {"volume", "reference", "primary", "cluster"})
    volume = reader.value(report, "[report]", "volume", int, 0, within=limits.VOLUME)
    reference = reader.value(report, "[report]", "reference", str, "")
    if reference and reference not in [v.name for v in variants]:
        raise reader.fail("[report] reference", f"no variant {reference!r} (variants: "
                                                f"{', '.join(v.name for v in variants)})")
    primary = reader.value(report, "[report]", "primary", str, scorer_ids[0])
    if primary not in scorer_ids:
        raise reader.fail("[report] primary", f"no scorer {primary!r} (scorers: {', '.join(scorer_ids)})")
    # None: the split's default (see ftplug.dataset.clusters)
    cluster = reader.value(report, "[report]", "cluster", str, None)
    if cluster is not None and cluster != cluster.strip():
        raise reader.fail("[report] cluster", f"a field name without surrounding spaces, got {cluster!r}")
    return {"volume": volume, "reference": reference or variants[0].name, "primary": primary, "cluster": cluster}


def _check_local_model(reader: _Reader, model: str, base_dir: Path, where: str) -> None:
    """A ``local:`` model must exist now; it is remembered with where it was found (relative paths are the
    experiment file's)."""
    if not is_local_model(model):
        return
    try:
        remember_local_model(model, locate_local_model(model, base_dir))
    except LocalModelNotFound as error:
        raise reader.fail(where, str(error)) from None


RUN_DEFAULTS: dict[str, Any] = {"concurrency": 32, "rpm": None, "tpm": None, "max_attempts": 5, "backoff": 0.5}


def _run_options(reader: Any, run: dict[str, Any]) -> dict[str, Any]:
    """``[run]``: requests in flight, per-minute limits, attempts per request and the first backoff (s)."""
    reader.only_keys(run, "[run]", set(RUN_DEFAULTS))
    options = dict(RUN_DEFAULTS)
    options["concurrency"] = reader.value(run, "[run]", "concurrency", int, 32, within=limits.CONCURRENCY)
    options["max_attempts"] = reader.value(run, "[run]", "max_attempts", int, 5, within=limits.MAX_ATTEMPTS)
    for key, within in (("rpm", limits.RPM), ("tpm", limits.TPM)):
        if key in run:
            options[key] = reader.value(run, "[run]", key, (int, float), None, within=within)
    options["backoff"] = float(reader.value(run, "[run]", "backoff", (int, float), 0.5, within=limits.BACKOFF))
    return options
