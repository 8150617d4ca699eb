"""Finds, loads and isolates plugins, and builds the component registry from their hooks.

Built-in plugins are the modules in :data:`BUILTIN_PLUGINS`; third-party plugins come from the
``ftplug`` entry-point group. Both go through the same :func:`_load_one` path. A plugin that fails to
import, to register, or to contribute its components is reported with its name and skipped; set
``FTPLUG_STRICT_PLUGINS=1`` to make that fatal instead.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy

from ftplug import __version__, hookspecs
from ftplug.components import Kind
from ftplug.registry import Registry

ENTRY_POINT_GROUP = "ftplug"

BUILTIN_PLUGINS: tuple[str, ...] = (
    "ftplug.plugins.loaders",
    "ftplug.plugins.few_shot",
    "ftplug.plugins.base_model",
    "ftplug.plugins.openai_finetune",
    "ftplug.plugins.scorers",
    "ftplug.plugins.scorers_numeric",
    "ftplug.plugins.scorers_text",
    "ftplug.plugins.duckdb_store",
    "ftplug.plugins.simulator_command",
    "ftplug.plugins.token_command",
    "ftplug.plugins.catalogue_command",
    "ftplug.plugins.data_command",
    "ftplug.plugins.finetune_command",
    "ftplug.plugins.merge_command",
)

REGISTRATION_HOOKS: dict[Kind, str] = {
    Kind.LOADER: "ftplug_register_loaders",
    Kind.PROMPT_BUILDER: "ftplug_register_prompt_builders",
    Kind.TRAINER: "ftplug_register_trainers",
    Kind.SCORER: "ftplug_register_scorers",
}


@dataclass
class PluginInfo:
    """What ``ftplug plugins list`` shows about one plugin."""

    name: str
    version: str
    source: str  # "built-in" | "entry point"
    status: str = "active"  # "active" | "failed"
    error: str | None = None
    hooks: list[str] = field(default_factory=list)


class Plugins:
    """The loaded plugins: a pluggy manager, their infos, and the component registry they filled."""

    def __init__(self, *, strict: bool | None = None, warn: Callable[[str], None] | None = None) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.infos: dict[str, PluginInfo] = {}
        self.strict = os.environ.get("FTPLUG_STRICT_PLUGINS", "") not in ("", "0") if strict is None else strict
        self._warn = warn or (lambda message: print(f"ftplug: warning: {message}", file=sys.stderr))

    @property
    def hook(self) -> Any:
        """The pluggy hook relay, e.g. ``plugins.hook.ftplug_run_started(run=...)``."""
        return self.pm.hook

    def load_builtins(self) -> None:
        """Register every built-in plugin module."""
        for module_name in BUILTIN_PLUGINS:
            short = module_name.rsplit(".", 1)[-1]
            self._load_one(short, lambda m=module_name: importlib.import_module(m), __version__, "built-in")

    def load_entry_points(self) -> None:
        """Register every plugin published under the ``ftplug`` entry-point group."""
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            version = ep.dist.version if ep.dist is not None else "?"
            self._load_one(ep.name, ep.load, version, "entry point")

    def register_object(self, name: str, plugin: object, source: str = "object", version: str = "?") -> None:
        """Register an already-imported plugin object (used by tests and embedding applications)."""
        self._load_one(name, lambda: plugin, version, source)

    def _load_one(self, name: str, load: Callable[[], object], version: str, source: str) -> None:
        info = PluginInfo(name=name, version=version, source=source)
        self.infos[name] = info
        try:
            plugin = load()
            if self.pm.is_registered(plugin):
                raise ValueError("already registered under another name")
            self.pm.register(plugin, name=name)
            self._check_hook_names(name, plugin)
            info.hooks = sorted(impl.name for impl in self.pm.get_hookcallers(plugin) or [])
        except Exception as error:  # a plugin's failure must not take the host down
            self._fail(info, error, stage="load")

    def _check_hook_names(self, name: str, plugin: object) -> None:
        """Refuse ``ftplug_*`` functions that match no hook spec (a typo would silently do nothing)."""
        known = set(hookspecs.hook_names())
        for attr in dir(plugin):
            if attr.startswith("ftplug_") and attr not in known and callable(getattr(plugin, attr)):
                self.pm.unregister(name=name)
                raise ValueError(f"{attr} is not an ftplug hook (known: {', '.join(sorted(known))})")

    def collect_components(self) -> None:
        """Call each plugin's registration hooks, one plugin at a time, so a failure stays with its plugin."""
        for kind, hook_name in REGISTRATION_HOOKS.items():
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                info = self.infos.get(impl.plugin_name)
                if info is None or info.status != "active":
                    continue
                try:
                    impl.function(register=self.registry.registrar(kind, impl.plugin_name))
                except Exception as error:
                    self.registry.remove_plugin(impl.plugin_name)
                    self.pm.unregister(name=impl.plugin_name)
                    self._fail(info, error, stage="register")

    def _fail(self, info: PluginInfo, error: Exception, stage: str) -> None:
        info.status = "failed"
        info.error = f"{type(error).__name__}: {error}"
        if self.strict:
            raise error
        self._warn(f"plugin {info.name!r} failed to {stage} and was skipped: {info.error}")

    def hook_callers(self, hook_name: str) -> list[str]:
        """Names of the active plugins implementing ``hook_name``."""
        return [impl.plugin_name for impl in getattr(self.pm.hook, hook_name).get_hookimpls()]


_lock = threading.Lock()
_plugins: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugins, loaded on first use (never at import time)."""
    global _plugins
    with _lock:
        if _plugins is None:
            plugins = Plugins()
            plugins.load_builtins()
            plugins.load_entry_points()
            plugins.collect_components()
            _plugins = plugins
        return _plugins


def reset_plugins() -> None:
    """Forget the loaded plugins so the next :func:`get_plugins` loads them again (for tests)."""
    global _plugins
    with _lock:
        _plugins = None
