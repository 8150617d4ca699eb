"""Where third-party plugins come from and which may load: the ``ftplug`` entry-point group, loose ``.py`` files
(``--plugin PATH``, ``FTPLUG_PLUGINS``), and the allow- and block-lists of the environment. Light to import:
``ftplug --help`` asks it whether any plugin besides the built-ins is there, before loading any."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable

from ftplug.catalogue.user_cache import cache_home

ENTRY_POINT_GROUP = "ftplug"

_plugin_files: list[str] = []


def add_plugin_files(paths: Iterable[str]) -> None:
    """Loose plugin files to load with the others (``--plugin PATH``); call before plugins are loaded."""
    _plugin_files.extend(paths)


def forget_plugin_files() -> None:
    """Forget the files of ``--plugin`` (a new command in the same process names its own)."""
    _plugin_files.clear()


def plugin_files() -> list[str]:
    """The loose plugin files: ``FTPLUG_PLUGINS`` (paths separated by the system's separator), then ``--plugin``."""
    listed = [p for p in os.environ.get("FTPLUG_PLUGINS", "").split(os.pathsep) if p.strip()]
    return [*listed, *_plugin_files]


def names(text: str | None) -> set[str] | None:
    """A comma-separated list of plugin names; ``None`` when the variable is unset."""
    return None if text is None else {name.strip() for name in text.split(",") if name.strip()}


def flag(variable: str) -> bool:
    """Whether the environment variable is set to something other than empty or ``0``."""
    return os.environ.get(variable, "") not in ("", "0")


def allowed() -> set[str] | None:
    """The third-party plugins allowed to load (``FTPLUG_LOAD_PLUGINS``; ``None``: all)."""
    return names(os.environ.get("FTPLUG_LOAD_PLUGINS"))


def blocked() -> set[str]:
    """The plugins never loaded, built-ins included (``FTPLUG_DISABLE_PLUGINS``)."""
    return names(os.environ.get("FTPLUG_DISABLE_PLUGINS")) or set()


def third_party_plugins_to_load() -> bool:
    """Whether any plugin besides the built-ins would load: a loose file, or an entry point of the ``ftplug``
    group that the allow- and block-lists let through."""
    if plugin_files():
        return True
    allow, block = allowed(), blocked()
    return any(name not in block and (allow is None or name in allow) for name in entry_point_names())


def entry_point_names() -> list[str]:
    """The names of the ``ftplug`` group's entry points, as ``importlib.metadata`` finds them.

    Finding them means importing ``importlib.metadata`` and reading every installed distribution's metadata,
    which is a third of what ``ftplug --help`` would cost; so the answer is kept in
    ``$XDG_CACHE_HOME/ftplug/entry-points.json`` (else ``~/.cache/…``), keyed by this interpreter and the
    modification time of every folder on ``sys.path``: installing or removing a distribution changes its
    folder's, and the names are then looked up again.
    """
    key = [sys.executable, *([entry, _mtime(entry)] for entry in sys.path)]
    cache = cache_home() / "entry-points.json"
    try:
        kept = json.loads(cache.read_text(encoding="utf-8"))
        if kept.get("key") == key and isinstance(kept.get("names"), list):
            return [str(name) for name in kept["names"]]
    except (OSError, ValueError, AttributeError):
        pass
    from importlib.metadata import entry_points

    found = sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f"{cache.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps({"key": key, "names": found}), encoding="utf-8")
        os.replace(partial, cache)
    except OSError:  # a read-only home: look them up each time
        pass
    return found


def _mtime(entry: str) -> int | None:
    try:
        return os.stat(entry or ".").st_mtime_ns
    except OSError:
        return None

