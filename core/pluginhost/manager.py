"""Finds, loads and isolates plugins, and builds the component registry from their hooks.

Built-in plugins are the modules in :data:`BUILTIN_PLUGINS`; third-party plugins come from the
``ftplug`` entry-point group and from loose ``.py`` files (``--plugin PATH``, ``FTPLUG_PLUGINS``). All go
through the same :meth:`Plugins._load_one` path. A plugin that fails to import, to register, or to
contribute its components is reported with its name and skipped; set ``FTPLUG_STRICT_PLUGINS=1`` to make
that fatal instead.

The environment decides what loads: ``FTPLUG_LOAD_PLUGINS`` (comma-separated names) is an allow-list for
third-party plugins — set and empty, none loads; ``FTPLUG_DISABLE_PLUGINS`` is a block-list for any plugin,
built-ins included; ``FTPLUG_TRACE_PLUGINS=1`` logs every hook call to stderr (pluggy's tracing).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from types import EllipsisType
from typing import Any

import pluggy

from ftplug import __version__, hookspecs
from ftplug.components import Kind
from ftplug.pluginhost.lifecycle import LifecycleHooks
from ftplug.pluginhost.registry import Registry
from ftplug.pluginhost.sources import ENTRY_POINT_GROUP, allowed, blocked, flag, plugin_files

# Each built-in plugin's name (what `ftplug plugins list` shows and FTPLUG_DISABLE_PLUGINS takes) and module.
BUILTIN_PLUGINS: dict[str, str] = {
    "loaders": "ftplug.plugins.loaders.files",
    "timeseries": "ftplug.plugins.loaders.timeseries",
    "few_shot": "ftplug.plugins.few_shot.builder",
    "base_model": "ftplug.plugins.trainers.base_model",
    "baselines": "ftplug.plugins.trainers.baselines",
    "openai_finetune": "ftplug.plugins.trainers.openai.trainer",
    "local_lora": "ftplug.plugins.trainers.local_lora.trainer",
    "scorers": "ftplug.plugins.scorers.basic",
    "scorers_numeric": "ftplug.plugins.scorers.numeric",
    "scorers_text": "ftplug.plugins.scorers.text",
    "duckdb_store": "ftplug.plugins.duckdb_store.store",
    "commands": "ftplug.plugins.commands.hooks",
}

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
    source: str  # "built-in" | "entry point" | "file" | "object"
    status: str = "active"  # "active" | "failed" | "disabled"
    error: str | None = None  # why it failed, or why it is disabled
    hooks: list[str] = field(default_factory=list)
    location: str | None = None  # the module, file or entry point it came from


class Plugins:
    """The loaded plugins: a pluggy manager, their infos, and the component registry they filled."""

    def __init__(self, *, strict: bool | None = None, warn: Callable[[str], None] | None = None,
                 allow: set[str] | EllipsisType | None = ..., block: set[str] | None = None,
                 trace: bool | None = None) -> None:
        """:param allow: third-party plugins allowed (``None``: all); default from ``FTPLUG_LOAD_PLUGINS``.
        :param block: plugins never loaded; default from ``FTPLUG_DISABLE_PLUGINS``.
        :param trace: log each hook call; default from ``FTPLUG_TRACE_PLUGINS``."""
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.infos: dict[str, PluginInfo] = {}
        self.strict = flag("FTPLUG_STRICT_PLUGINS") if strict is None else strict
        self.allow = allowed() if allow is ... else allow
        self.block = blocked() if block is None else block
        self._warn = warn or (lambda message: print(f"ftplug: warning: {message}", file=sys.stderr))
        self.tracing = flag("FTPLUG_TRACE_PLUGINS") if trace is None else trace
        if self.tracing:
            self.pm.trace.root.setwriter(lambda text: sys.stderr.write(f"ftplug: trace: {text}"))
            self.pm.enable_tracing()

    @property
    def hook(self) -> Any:
        """The pluggy hook relay, e.g. ``plugins.hook.ftplug_run_started(run=...)``."""
        return self.pm.hook

    def load_builtins(self, only: Iterable[str] | None = None) -> None:
        """Register the built-in plugin modules not registered yet (of ``only``, if given; none in the
        block-list). Built-ins registered after third-party plugins are moved ahead of them, so that pluggy
        still calls a third-party plugin's hooks before the built-ins' (it calls the last registered first)."""
        wanted = set(only) if only is not None else None
        later = [info.name for info in self.infos.values() if info.source != "built-in"]
        added = False
        for short, module_name in BUILTIN_PLUGINS.items():
            if short in self.infos or (wanted is not None and module_name not in wanted):
                continue
            self._load_one(short, functools.partial(importlib.import_module, module_name), __version__, "built-in",
                           module_name)
            added = True
        if added and later:
            self.infos = {**{n: i for n, i in self.infos.items() if i.source == "built-in"},
                          **{n: self.infos[n] for n in later}}
            for name in later:
                plugin = self.pm.get_plugin(name)
                if plugin is not None:
                    self.pm.unregister(name=name)
                    self.pm.register(plugin, name=name)

    def load_entry_points(self) -> None:
        """Register every plugin published under the ``ftplug`` entry-point group that may load."""
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            version = ep.dist.version if ep.dist is not None else "?"
            self._load_one(ep.name, ep.load, version, "entry point", ep.value)

    def load_files(self, paths: Iterable[str | Path]) -> None:
        """Register loose ``.py`` files as plugins, each named after its file (``my_scorer.py`` → ``my_scorer``)."""
        for path in paths:
            file = Path(path).expanduser()
            self._load_one(file.stem, functools.partial(_import_file, file), "file", "file", str(file))

    def register_object(self, name: str, plugin: object, source: str = "object", version: str = "?") -> None:
        """Register an already-imported plugin object (used by tests and embedding applications)."""
        self._load_one(name, lambda: plugin, version, source)

    def unregister(self, name: str) -> None:
        """Remove a plugin and every component it contributed."""
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)
        self.registry.remove_plugin(name)
        self.infos.pop(name, None)

    def disable(self, name: str, reason: str) -> None:
        """Take a misbehaving plugin out for the rest of the process, saying why in one warning line."""
        info = self.infos.get(name)
        if info is None or info.status != "active":
            return
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)
        info.status, info.error = "failed", reason
        if self.strict:
            raise RuntimeError(f"plugin {name!r}: {reason}")
        self._warn(f"plugin {name!r} was disabled: {reason}")

    def _load_one(self, name: str, load: Callable[[], object], version: str, source: str,
                  location: str | None = None) -> None:
        info = PluginInfo(name=name, version=version, source=source, location=location)
        self.infos[name] = info
        if name in self.block:
            info.status, info.error = "disabled", "listed in FTPLUG_DISABLE_PLUGINS"
            return
        if source in ("entry point", "file") and self.allow is not None and name not in self.allow:
            info.status, info.error = "disabled", "not listed in FTPLUG_LOAD_PLUGINS"
            return
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

    def collect_components(self, only: set[str] | None = None) -> None:
        """Call each plugin's registration hooks (of the plugins ``only``, if given), one plugin at a time,
        so a failure stays with its plugin."""
        for kind, hook_name in REGISTRATION_HOOKS.items():
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                info = self.infos.get(impl.plugin_name)
                if info is None or info.status != "active" or (only is not None and impl.plugin_name not in only):
                    continue
                try:
                    self._call(impl, hook_name, {"register": self.registry.registrar(kind, impl.plugin_name)})
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

    def call_each(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call every implementation of ``hook_name`` on its own (last registered first, as pluggy does):
        one that raises is named in a warning and its plugin disabled, and the others still run. Each
        implementation receives only the arguments it asks for, so a spec can gain arguments without
        breaking older plugins."""
        results = []
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            try:
                result = self._call(impl, hook_name, kwargs)
            except Exception as error:
                self.disable(impl.plugin_name, f"{hook_name} raised {type(error).__name__}: {error}")
                continue
            if result is not None:
                results.append(result)
        return results

    def _call(self, impl: Any, hook_name: str, kwargs: dict[str, Any]) -> Any:
        """One implementation, with the arguments it asks for (traced with ``FTPLUG_TRACE_PLUGINS``)."""
        arguments = {name: kwargs[name] for name in impl.argnames}
        if self.tracing:
            sys.stderr.write(f"ftplug: trace: {hook_name} [{impl.plugin_name}] {sorted(arguments)}\n")
        return impl.function(**arguments)

    def isolated_hooks(self) -> LifecycleHooks:
        """The lifecycle hooks a run calls, typed, each implementation isolated (see :meth:`call_each`)."""
        return LifecycleHooks(self)


_lock = threading.Lock()
_plugins: Plugins | None = None
_complete = False  # whether every built-in is loaded and the components collected

COMMAND_PLUGINS = ("ftplug.plugins.commands.hooks",)  # the built-ins that add commands


def get_plugins(*, commands_only: bool = False) -> Plugins:
    """The process-wide plugins, loaded on first use (never at import time): built-ins, entry points, and
    the files of ``--plugin`` and ``FTPLUG_PLUGINS`` (paths separated by the system's path separator).

    :param commands_only: enough to list the commands: of the built-ins only those that add commands, and no
        components collected; a later call without it loads the rest.
    """
    global _plugins, _complete
    with _lock:
        if _plugins is None:
            plugins = Plugins()
            plugins.load_builtins(only=COMMAND_PLUGINS if commands_only else None)
            plugins.load_entry_points()
            plugins.load_files(plugin_files())
            _plugins = plugins
        if not commands_only and not _complete:
            _plugins.load_builtins()
            _plugins.collect_components()
            _complete = True
        return _plugins


def reset_plugins() -> None:
    """Drop the process-wide plugins: the next :func:`get_plugins` loads them afresh (a new command in the same
    process, with its own ``--plugin`` files and environment)."""
    global _plugins, _complete
    with _lock:
        _plugins, _complete = None, False


def _import_file(path: Path) -> object:
    """Import a loose plugin file as a module of its own."""
    if not path.is_file():
        raise FileNotFoundError(f"no such plugin file: {path}")
    spec = importlib.util.spec_from_file_location(f"ftplug_file_plugin_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path} (is it a .py file?)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module
