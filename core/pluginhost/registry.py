"""The component registry: name → component, per kind, with the plugin that contributed it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ftplug.components import Component, Kind, Option
from ftplug.errors import ConfigError, FtplugError
from ftplug.pluginhost.declared_options import options_of


class DuplicateComponentError(FtplugError):
    """Two plugins contributed components of the same kind under the same name."""


class Registry:
    """Components by kind and name."""

    def __init__(self) -> None:
        self._components: dict[Kind, dict[str, Component]] = {kind: {} for kind in Kind}

    def registrar(self, kind: Kind, plugin: str) -> Callable[..., None]:
        """A ``register`` callable for a registration hook, recording ``plugin`` as the contributor. A
        component's options are read from its factory's signature
        (:func:`ftplug.pluginhost.declared_options.options_of`) unless given as ``options``."""

        def register(name: str, factory: Callable[..., Any], *, options: Sequence[Option] | None = None,
                     description: str = "") -> None:
            declared = options_of(factory) if options is None else tuple(options)
            self.add(Component(name=name, kind=kind, factory=factory, options=declared,
                               description=description or (factory.__doc__ or "").strip().split("\n")[0],
                               plugin=plugin))

        return register

    def add(self, component: Component) -> None:
        """Add a component; refuse a name already taken for that kind."""
        existing = self._components[component.kind].get(component.name)
        if existing is not None:
            raise DuplicateComponentError(
                f"{component.kind.value} {component.name!r} from plugin {component.plugin!r} clashes with "
                f"the one from plugin {existing.plugin!r}")
        self._components[component.kind][component.name] = component

    def get(self, kind: Kind, name: str, *, path: str = "<experiment>", where: str = "") -> Component:
        """The component called ``name``; an unknown name is a :class:`ConfigError` listing the known ones."""
        try:
            return self._components[kind][name]
        except KeyError:
            known = ", ".join(sorted(self._components[kind])) or "none"
            raise ConfigError(f"unknown {kind.value} {name!r} (known: {known})", path=path,
                              where=where or None) from None

    def by_kind(self, kind: Kind) -> list[Component]:
        """Every component of ``kind``, sorted by name."""
        return sorted(self._components[kind].values(), key=lambda c: c.name)

    def by_plugin(self, plugin: str) -> dict[Kind, list[str]]:
        """The names each kind received from ``plugin``."""
        return {kind: sorted(c.name for c in comps.values() if c.plugin == plugin)
                for kind, comps in self._components.items()}

    def remove_plugin(self, plugin: str) -> None:
        """Forget everything ``plugin`` contributed (used when its registration fails half-way)."""
        for comps in self._components.values():
            for name in [n for n, c in comps.items() if c.plugin == plugin]:
                del comps[name]
