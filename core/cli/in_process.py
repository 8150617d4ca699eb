"""Commands run one after another in one process, each as if it had the process to itself.

What a command leaves behind for the rest of its process — the plugins loaded, ``--plugin`` files, catalogue
files in use, where local models were found, API keys to mask, servers known to be the simulator — is reset
before and after each, so tests and tools can call the command line in-process (fast) and still see what a
fresh ``ftplug`` process would do.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CommandResult:
    """How a command ended: its exit code and what it wrote."""

    exit_code: int
    stdout: str
    stderr: str


def reset_process_state() -> None:
    """Forget everything a command remembers for the rest of its process."""
    from ftplug.catalogue.local_models import forget_local_models
    from ftplug.catalogue.models import forget_catalogue_files
    from ftplug.config.secrets import forget_keys
    from ftplug.engine.endpoint import forget_servers
    from ftplug.pluginhost.manager import reset_plugins
    from ftplug.pluginhost.sources import forget_plugin_files

    reset_plugins()
    forget_plugin_files()
    forget_catalogue_files()
    forget_local_models()
    forget_keys()
    forget_servers()


def run_command(args: Sequence[str], *, cwd: str | Path | None = None, env: Mapping[str, str | None] | None = None,
                hide_api_keys: bool = False, stdin: str = "") -> CommandResult:
    """``ftplug ARGS`` in this process, as the console entry point runs it (one line on stderr for every
    failure, the same exit codes), from ``cwd``, with ``env`` changing the environment (``None`` removes a
    variable) for the command's duration only.

    :param hide_api_keys: unset every ``OPENAI_*`` variable ``env`` does not set, so the command uses the
        embedded simulator whatever the caller's environment holds.
    :param stdin: what the command reads from standard input.
    """
    from ftplug.cli import exit_code

    if hide_api_keys:
        env = {**{name: None for name in os.environ if name.startswith("OPENAI_")}, **(env or {})}
    stdout, stderr = io.StringIO(), io.StringIO()
    reset_process_state()
    saved_stdin, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        with _environment(env or {}), contextlib.chdir(cwd or os.getcwd()), \
                contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = exit_code(list(args))
    finally:
        sys.stdin = saved_stdin
        reset_process_state()
    return CommandResult(code, stdout.getvalue(), stderr.getvalue())


@contextlib.contextmanager
def _environment(changes: Mapping[str, str | None]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in changes}
    try:
        for name, value in changes.items():
            _set(name, value)
        yield
    finally:
        for name, value in saved.items():
            _set(name, value)


def _set(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
