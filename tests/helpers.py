"""Helpers shared by tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ftplug.cli.in_process import CommandResult, run_command
from ftplug.pluginhost.manager import Plugins

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


def run_in_process(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CommandResult:
    """``ftplug ARGS`` in this process (:func:`ftplug.cli.in_process.run_command`) with no API key in its
    environment: what :func:`run_cli` sees, without a new interpreter's start."""
    return run_command(args, cwd=cwd, env=env, hide_api_keys=True)


def fortunes_experiment(name: str, *, seed: int, test: int, validation: int | None = None,
                        base: str = "gpt-4o-mini-2024-07-18") -> str:
    """The head of an experiment file on the quotations of ``fortunes.csv`` (experiment, data, split and
    model tables); tests append their variants and settings."""
    split = f"test = {test}\n" + (f"validation = {validation}\n" if validation is not None else "")
    return (f'[experiment]\nname = "{name}"\nseed = {seed}\n'
            f'[data]\nloader = "csv"\npath = "{EXAMPLE.with_name("fortunes.csv")}"\ninput = "text"\n'
            f'expected = "topic"\nid = "id"\n[split]\n{split}[model]\nbase = "{base}"\n')
