"""Options declared once, in the factory's signature, as the registry reads them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Annotated, Any, Literal

import pytest

from ftplug import Help, Option
from ftplug.components import MISSING, Kind
from ftplug.pluginhost.declared_options import OptionTypeError, options_of
from ftplug.pluginhost.registry import Registry


class Everything:
    def __init__(self, path: Annotated[str, Help("the file")],
                 shots: Annotated[int | str, Help("how many, or max")] = 0,
                 rate: float = 0.5,
                 select: Annotated[str, Help("how", choices=("random", "bm25"))] = "random",
                 mode: Literal["fast", "slow"] = "fast",
                 labels: Annotated[Sequence[str], Help("the labels")] = (),
                 style: Mapping[str, Any] = MappingProxyType({}),
                 patterns: Sequence[str] | None = None,
                 flag: bool = False,
                 **rest: Any) -> None:
        pass


def test_every_parameter_is_an_option_with_its_type_default_help_and_choices() -> None:
    options = {option.name: option for option in options_of(Everything)}
    assert list(options) == ["path", "shots", "rate", "select", "mode", "labels", "style", "patterns", "flag"]
    assert options["path"] == Option("path", str, MISSING, "the file") and options["path"].required
    assert (options["shots"].type, options["shots"].default) == ((int, str), 0)
    assert options["shots"].help == "how many, or max"
    assert options["rate"] == Option("rate", float, 0.5, "")
    assert options["select"].choices == ("random", "bm25")
    assert (options["mode"].type, options["mode"].choices) == (str, ("fast", "slow"))
    # defaults in the form TOML gives them, so a run keyed by them is the same run
    assert (options["labels"].type, options["labels"].default) == (list, [])
    assert (options["style"].type, options["style"].default) == (dict, {})
    assert (options["patterns"].type, options["patterns"].default) == (list, None)
    assert options["flag"].accepts(True) and not options["flag"].accepts(1)
    assert options["shots"].accepts("max") and not options["shots"].accepts(1.5)


def test_a_function_factory_and_a_lambda_declare_their_parameters_too() -> None:
    def make(k: Annotated[int, Help("values averaged")] = 5) -> object:
        return object()

    assert options_of(make) == (Option("k", int, 5, "values averaged"),)
    assert options_of(lambda: object()) == ()


@pytest.mark.parametrize(("factory", "message"), [
    (lambda x: None, "option 'x' needs a type annotation"),
    (lambda x=None: None, "option 'x' needs a type annotation"),
])
def test_an_unreadable_parameter_is_named(factory: Any, message: str) -> None:
    with pytest.raises(OptionTypeError, match=message):
        options_of(factory)


def test_a_type_no_toml_value_has_and_a_none_default_without_none_are_refused() -> None:
    class Typed:
        def __init__(self, when: Annotated[complex, Help("?")] = 1j) -> None: ...

    class NoneDefault:
        def __init__(self, name: str = None) -> None: ...  # type: ignore[assignment]  # noqa: RUF013

    with pytest.raises(OptionTypeError, match="option 'when' is typed <class 'complex'>"):
        options_of(Typed)
    with pytest.raises(OptionTypeError, match="option 'name' defaults to None"):
        options_of(NoneDefault)


def test_the_registry_reads_the_signature_unless_options_are_given() -> None:
    registry = Registry()
    register = registry.registrar(Kind.SCORER, "mine")
    register("everything", Everything)
    register("kwargs", lambda **options: None, options=[Option("n", int, 1, "n")])
    assert [o.name for o in registry.get(Kind.SCORER, "everything").options][:2] == ["path", "shots"]
    assert registry.get(Kind.SCORER, "kwargs").options == (Option("n", int, 1, "n"),)


def test_every_built_in_option_has_a_help_line() -> None:
    from tests.helpers import fresh_plugins

    registry = fresh_plugins().registry
    missing = [f"{kind.value} {c.name}: {o.name}" for kind in Kind for c in registry.by_kind(kind)
               for o in c.options if not o.help]
    assert missing == []
