"""Helpers shared by tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ftplug.plugin_manager import Plugins

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "data" / "examples" / "fortunes.toml"


def fresh_plugins(**options: object) -> Plugins:
    """Built-in plugins loaded into a new manager (no entry points)."""
    plugins = Plugins(**options)  # type: ignore[arg-type]
    plugins.load_builtins()
    plugins.collect_components()
    return plugins


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``ftplug ARGS`` in a subprocess with no API key in its environment."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "ftplug.cli", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=timeout, check=False)
