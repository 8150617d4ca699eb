"""A component's options read from its factory's signature, where each is declared once.

Every keyword parameter of the factory (a class's ``__init__``, or a function) is an option: its name is
the key in the experiment file, its annotation says which TOML values it accepts, its default makes it
optional and an ``Annotated[…, Help("…")]`` gives its help line (and, optionally, its choices)::

    def __init__(self, k: Annotated[int, Help("values averaged")] = 5,
                 select: Annotated[str, Help("how", choices=("random", "bm25"))] = "random") -> None:

Readable types: ``bool``, ``int``, ``float``, ``str``, a sequence (``Sequence[str]``, ``list[str]``: a
TOML array), a mapping (``Mapping[str, Any]``, ``dict``: a TOML table), unions of them (``int | str``),
``X | None`` (``None`` as the default only) and ``Literal[…]`` (choices). Defaults are given in the form
TOML reads (a tuple default is an array, a read-only mapping a table).
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, Union

from ftplug.components import MISSING, Help, Option

_SCALARS = (bool, int, float, str)


class OptionTypeError(TypeError):
    """A factory parameter whose annotation says nothing TOML can give."""


def options_of(factory: Callable[..., Any]) -> tuple[Option, ...]:
    """The options ``factory`` declares in its signature (none for ``**kwargs`` or positional-only ones)."""
    target = factory.__init__ if inspect.isclass(factory) else factory  # type: ignore[misc]
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return ()
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception as error:  # an annotation naming what its module does not import at run time
        raise OptionTypeError(f"cannot read the annotations of {_name(factory)}: {error}") from None
    options = []
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD, parameter.POSITIONAL_ONLY):
            continue
        options.append(_option(parameter, hints.get(parameter.name, inspect.Parameter.empty), factory))
    return tuple(options)


def _option(parameter: inspect.Parameter, annotation: Any, factory: Callable[..., Any]) -> Option:
    help_ = Help("")
    if typing.get_origin(annotation) is Annotated:
        help_ = next((m for m in annotation.__metadata__ if isinstance(m, Help)), help_)
        annotation = annotation.__origin__
    default = MISSING if parameter.default is inspect.Parameter.empty else parameter.default
    if annotation is inspect.Parameter.empty:
        if default is MISSING or default is None:
            raise OptionTypeError(f"{_name(factory)}: option {parameter.name!r} needs a type annotation")
        annotation = type(default)
    accepted, choices = _accepted(annotation, parameter.name, factory)
    if default is None and None not in _members(annotation):
        raise OptionTypeError(f"{_name(factory)}: option {parameter.name!r} defaults to None; annotate it "
                              "as `X | None`")
    return Option(parameter.name, accepted[0] if len(accepted) == 1 else accepted, _as_toml(default), help_.text,
                  help_.choices or choices, within=help_.within, items=_items(annotation), check=help_.check)


def _accepted(annotation: Any, name: str,
              factory: Callable[..., Any]) -> tuple[tuple[type, ...], tuple[Any, ...] | None]:
    """The Python types of the TOML values ``annotation`` accepts, and its choices if it is a ``Literal``."""
    found: list[type] = []
    choices: tuple[Any, ...] | None = None
    for member in _members(annotation):
        if member is None:
            continue
        origin = typing.get_origin(member)
        if origin is Literal:
            choices = member.__args__
            kinds = [type(value) for value in choices]
        elif member in _SCALARS:
            kinds = [member]
        elif (origin or member) in (list, tuple, Sequence):
            kinds = [list]
        elif (origin or member) in (dict, Mapping):
            kinds = [dict]
        elif member is Any:
            kinds = [*_SCALARS, list, dict]
        else:
            raise OptionTypeError(f"{_name(factory)}: option {name!r} is typed {member!r}, which no TOML value is")
        found.extend(kind for kind in kinds if kind not in found)
    return tuple(found), choices


def _items(annotation: Any) -> type | None:
    """The scalar type of a list option's elements (``Sequence[str]``: ``str``), if it declares one."""
    for member in _members(annotation):
        if typing.get_origin(member) in (list, tuple, Sequence) and len(typing.get_args(member)) >= 1:
            item = typing.get_args(member)[0]
            return item if item in _SCALARS else None
    return None


def _members(annotation: Any) -> tuple[Any, ...]:
    """The members of a union (``None`` for ``NoneType``), or the annotation alone."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return tuple(None if member is type(None) else member for member in annotation.__args__)
    return (annotation,)


def _as_toml(default: Any) -> Any:
    """A default as TOML would give it: sequences as lists, mappings as dicts (and copies of them)."""
    if isinstance(default, tuple):
        return [_as_toml(value) for value in default]
    if isinstance(default, Mapping):
        return {key: _as_toml(value) for key, value in default.items()}
    return default


def _name(factory: Callable[..., Any]) -> str:
    return getattr(factory, "__qualname__", repr(factory))
