"""docs/hooks.md and docs/cli.md, generated from the hook specs' docstrings and the commands' ``--help``.

    python -m ftplug.cli.reference_docs DOCS_DIR     # rewrite both files

A test checks that the committed files are what this module generates, so they never drift from the code.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import click

HOOKS_HEADER = """# Hooks

Generated from `core/hookspecs.py` by `python -m ftplug.cli.reference_docs docs`; do not edit by hand.

A plugin implements any of these as functions (or methods) marked `@ftplug.hookimpl`, named exactly as
below. An implementation may take only some of the arguments. See [writing-plugins.md](writing-plugins.md).
"""

CLI_HEADER = """# Command line

Generated from the commands' `--help` by `python -m ftplug.cli.reference_docs docs`; do not edit by hand.
Plugins may add commands of their own (`ftplug_register_commands`); `ftplug --help` lists them.
"""


def hooks_markdown() -> str:
    """Every hook spec: its signature, whether the first result wins, and its docstring."""
    from ftplug import hookspecs

    parts = [HOOKS_HEADER]
    for name in hookspecs.hook_names():
        function = getattr(hookspecs, name)
        options = getattr(function, f"{hookspecs.PROJECT}_spec", {}) or {}
        signature = str(inspect.signature(function)).replace("'", "")
        parts.append(f"## `{name}`\n\n```python\ndef {name}{signature}\n```\n")
        if options.get("firstresult"):
            parts.append("*First result wins: the first implementation returning something other than None "
                         "answers.*\n")
        parts.append(inspect.cleandoc(function.__doc__ or "") + "\n")
    return "\n".join(parts)


def cli_markdown() -> str:
    """``--help`` of every built-in command and subcommand, in order."""
    from ftplug.cli import cli

    parts = [CLI_HEADER]
    context = click.Context(cli, info_name="ftplug", terminal_width=100, max_content_width=100)
    parts.append(f"## `ftplug`\n\n```text\n{cli.get_help(context)}\n```\n")
    for name, command in _commands(cli, context):
        with click.Context(command, info_name=name, parent=context, terminal_width=100,
                           max_content_width=100) as sub:
            parts.append(f"## `ftplug {name}`\n\n```text\n{command.get_help(sub)}\n```\n")
    return "\n".join(parts)


def _commands(group: click.Group, context: click.Context, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name in sorted(group.list_commands(context)):
        command = group.get_command(context, name)
        if command is None or command.hidden:
            continue
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, context, f"{prefix}{name} "))
    return found


def main(argv: list[str]) -> None:
    """Write hooks.md and cli.md into the folder given."""
    folder = Path(argv[0] if argv else "docs")
    (folder / "hooks.md").write_text(hooks_markdown(), encoding="utf-8")
    (folder / "cli.md").write_text(cli_markdown(), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
