"""A plugin's component that raises is named with its plugin, and only its variant fails.

Exceptions that are ftplug's own (:class:`ftplug.errors.FtplugError`: bad input, a refused job) pass as they
are; anything else a component raises becomes a :class:`ComponentError` naming the component, its kind and
the plugin that contributed it, so the runner can mark that variant failed and go on with the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

from ftplug.components import Component
from ftplug.errors import FtplugError


class ComponentError(FtplugError):
    """A plugin's component raised an exception of its own.

    :param plugin: the plugin that contributed the component (disabled for the rest of the run).
    """

    def __init__(self, message: str, plugin: str) -> None:
        super().__init__(message)
        self.plugin = plugin


@contextmanager
def blame(component: Component, doing: str) -> Iterator[None]:
    """Turn an exception escaping ``component`` while ``doing`` something into a :class:`ComponentError`."""
    try:
        yield
    except FtplugError:
        raise
    except Exception as error:
        raise ComponentError(f"{component.named} raised "
                             f"{type(error).__name__} in {doing}: {error}", component.plugin) from error


class Guarded:
    """A component instance whose every method call is under :func:`blame` (attributes pass through)."""

    def __init__(self, target: Any, component: Component) -> None:
        self._target, self._component = target, component

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        @wraps(attribute)
        def call(*args: Any, **kwargs: Any) -> Any:
            with blame(self._component, f"{name}()"):
                return attribute(*args, **kwargs)

        return call


def guarded(target: Any, component: Component) -> Any:
    """``target`` with its methods under :func:`blame` — left as it is for built-in components, whose errors
    are ftplug's own to report."""
    return target if component.plugin in _builtin_names() else Guarded(target, component)


def _builtin_names() -> set[str]:
    from ftplug.pluginhost.manager import BUILTIN_PLUGINS

    return set(BUILTIN_PLUGINS)

