"""The model catalogue: context windows, output limits, encodings, prices and fine-tuning dates.

Read from ``data/models.toml``; a user file in the same format adds models or overrides fields.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import tomllib
from dataclasses import dataclass, fields, replace
from importlib.resources import files
from pathlib import Path
from typing import Any

from ftplug.errors import InputError

PRICE_FIELDS = ("input_price", "cached_input_price", "output_price", "training_price", "ft_input_price",
                "ft_cached_input_price", "ft_output_price")


class UnknownModelError(KeyError):
    """A model the catalogue does not know."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown model"


@dataclass(frozen=True)
class ModelInfo:
    """What ftplug knows about one model snapshot. Prices are USD per 1M tokens (``None`` = not offered)."""

    id: str
    aliases: tuple[str, ...]
    context_window: int
    max_output_tokens: int
    encoding: str
    training_limit: int | None = None
    input_price: float | None = None
    cached_input_price: float | None = None
    output_price: float | None = None
    training_price: float | None = None
    ft_input_price: float | None = None
    ft_cached_input_price: float | None = None
    ft_output_price: float | None = None
    fine_tuning_shutdown: dt.date | None = None
    fine_tuning_closes: dt.date | None = None


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "aliases": (list,), "context_window": (int,), "max_output_tokens": (int,), "encoding": (str,),
    "training_limit": (int,), "fine_tuning_shutdown": (dt.date,),
    "fine_tuning_closes": (dt.date,),
    **{name: (int, float) for name in PRICE_FIELDS},
}
_REQUIRED = ("context_window", "max_output_tokens", "encoding")


def base_model(model_id: str) -> str:
    """The snapshot a fine-tuned id is built on (``ft:gpt-4o-mini-2024-07-18:org:sfx:id`` → ``gpt-4o-mini-2024-07-18``);
    other ids unchanged."""
    if model_id.startswith("ft:"):
        return model_id.split(":")[1]
    return model_id


class Catalogue:
    """Models by snapshot id and alias."""

    def __init__(self, models: dict[str, ModelInfo], as_of: dt.date, source: str = "",
                 user_models: frozenset[str] = frozenset()) -> None:
        self._models = models
        self.as_of = as_of
        self.source = source
        self.user_models = user_models  # ids added or overridden by the user's catalogue files
        self._aliases = {alias: info.id for info in models.values() for alias in info.aliases}

    def is_users(self, model: str) -> bool:
        """Whether ``model``'s entry comes from (or was changed by) one of the user's catalogue files: a price
        the user stated, which holds at whatever endpoint serves the model."""
        info = self.find(model)
        return info is not None and info.id in self.user_models

    def find(self, model: str) -> ModelInfo | None:
        """The entry for a snapshot id, alias or fine-tuned id; ``None`` if unknown."""
        base = base_model(model)
        return self._models.get(base) or self._models.get(self._aliases.get(base, ""))

    def get(self, model: str) -> ModelInfo:
        """Like :meth:`find`, but an unknown model raises :class:`UnknownModelError`."""
        info = self.find(model)
        if info is None:
            raise UnknownModelError(f"model {model!r} is not in the catalogue (as of {self.as_of}); "
                                    "add it with a catalogue file")
        return info

    def resolve(self, model: str) -> str:
        """The snapshot id for an alias (``gpt-4o-mini`` → ``gpt-4o-mini-2024-07-18``)."""
        return self.get(model).id

    def models(self) -> list[ModelInfo]:
        """Every model, sorted by id."""
        return sorted(self._models.values(), key=lambda info: info.id)

    def with_overrides(self, path: Path) -> Catalogue:
        """A copy with the models of the TOML file at ``path`` added or their fields overridden."""
        document = _read(path)
        models = dict(self._models)
        for model_id, table in _model_tables(document, str(path)).items():
            current = self.find(model_id)
            models[model_id] = _model_info(model_id, table, str(path), current if current and current.id == model_id
                                           else None)
        as_of = document.get("as_of", self.as_of)
        return Catalogue(models, as_of if isinstance(as_of, dt.date) else self.as_of, self.source,
                         self.user_models | frozenset(_model_tables(document, str(path))))


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such catalogue file", path=path) from None
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"invalid TOML: {error}", path=path) from None


def _model_tables(document: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    models = document.get("models", {})
    if not isinstance(models, dict):
        raise InputError("must be a table of models", path=path, where="[models]")
    for model_id, table in models.items():
        if not isinstance(table, dict):
            raise InputError("must be a table", path=path, where=f"[models.{model_id!r}]")
    return models


def _converted(key: str, value: Any) -> Any:
    """A checked value of a model's table as :class:`ModelInfo` holds it: aliases a tuple, prices floats."""
    if key == "aliases":
        return tuple(value)
    return float(value) if key in PRICE_FIELDS else value


def _model_info(model_id: str, table: dict[str, Any], path: str, base: ModelInfo | None) -> ModelInfo:
    where = f'[models."{model_id}"]'
    known = {f.name for f in fields(ModelInfo)} - {"id"}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise InputError(f"unknown key (known: {', '.join(sorted(known))})", path=path, where=f"{where} {key}")
        types = _FIELD_TYPES[key]
        if isinstance(value, bool) or not isinstance(value, types) or isinstance(value, dt.datetime):
            names = " or ".join(t.__name__ for t in types)
            raise InputError(f"must be {names}, got {value!r}", path=path, where=f"{where} {key}")
        values[key] = _converted(key, value)
    if base is not None:
        return replace(base, **values)
    for key in _REQUIRED:
        if key not in values:
            raise InputError("missing key", path=path, where=f"{where} {key}")
    values.setdefault("aliases", ())
    return ModelInfo(id=model_id, **values)


_user_files: list[Path] = []


def use_catalogue_file(path: str | Path) -> None:
    """Add or override models from the TOML file at ``path`` (same format as the shipped catalogue) for the
    rest of the process; checked now, so a bad file fails before anything runs."""
    resolved = Path(path).resolve()
    shipped_catalogue().with_overrides(resolved)
    if resolved not in _user_files:
        _user_files.append(resolved)


def forget_catalogue_files() -> None:
    """Stop using the files given with :func:`use_catalogue_file` (a new command starts from the shipped
    catalogue and ``FTPLUG_MODELS``)."""
    _user_files.clear()


def default_catalogue() -> Catalogue:
    """The catalogue in use: the shipped one, then the files named in ``FTPLUG_MODELS`` (separated by
    ``os.pathsep``), then those given with :func:`use_catalogue_file` (``--models``, ``[model] catalogue``)."""
    from_environment = [Path(p).resolve() for p in os.environ.get("FTPLUG_MODELS", "").split(os.pathsep) if p]
    return _combined(tuple(dict.fromkeys([*from_environment, *_user_files])))


@functools.cache
def _combined(paths: tuple[Path, ...]) -> Catalogue:
    catalogue = shipped_catalogue()
    for path in paths:
        catalogue = catalogue.with_overrides(path)
    return catalogue


@functools.cache
def shipped_catalogue() -> Catalogue:
    """The catalogue shipped in ``ftplug.data/models.toml``."""
    resource = files("ftplug.data").joinpath("models.toml")
    document = tomllib.loads(resource.read_text(encoding="utf-8"))
    path = "ftplug/data/models.toml"
    models = {model_id: _model_info(model_id, table, path, None)
              for model_id, table in _model_tables(document, path).items()}
    return Catalogue(models, document["as_of"], document.get("source", ""))
