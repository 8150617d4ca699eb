"""Where ftplug keeps what it can make again: ``$XDG_CACHE_HOME/ftplug``, else ``~/.cache/ftplug``."""

from __future__ import annotations

import os
from pathlib import Path


def cache_home() -> Path:
    """ftplug's folder in the user's cache: ``$XDG_CACHE_HOME/ftplug``, else ``~/.cache/ftplug``."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base).expanduser() if base else Path.home() / ".cache") / "ftplug"
