"""A click group whose commands may be declared by name, one-line help and import path, and imported only when
run: ``ftplug --help`` lists them without importing what implements them (click's lazy-group pattern, with the
help line declared beside the name so that listing imports nothing either)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import click


@dataclass(frozen=True)
class LazyCommand:
    """A command known by its name, its one-line help and where it is: ``target`` is ``"module:attribute"``."""

    name: str
    target: str
    summary: str


class LazyGroup(click.Group):
    """A group that takes :meth:`add_lazy_command` declarations besides ordinary commands."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy_commands: dict[str, LazyCommand] = {}

    def add_lazy_command(self, name: str, target: str, summary: str) -> None:
        """Declare the command ``name``, implemented by the click command at ``target`` (``"module:attribute"``),
        listed with the one-line ``summary`` until it is imported. A name already taken is left as it is."""
        if ":" not in target:
            raise ValueError(f"command {name!r}: target must be 'module:attribute', got {target!r}")
        if name not in self.commands and name not in self.lazy_commands:
            self.lazy_commands[name] = LazyCommand(name, target, summary)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in self.lazy_commands:
            command = import_command(cmd_name, self.lazy_commands.pop(cmd_name).target)
            self.add_command(command, cmd_name)
        return command

    def listed_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command as ``--help`` lists it: a lazy one not yet imported stands in as its name and summary."""
        declared = self.lazy_commands.get(cmd_name)
        if declared is not None and cmd_name not in self.commands:
            return click.Command(cmd_name, help=declared.summary)
        return self.get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's own listing, through :meth:`listed_command`, so that listing imports no lazy command."""
        rows = [(name, command) for name in self.list_commands(ctx)
                if (command := self.listed_command(ctx, name)) is not None and not command.hidden]
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in rows])


def import_command(name: str, target: str) -> click.Command:
    """The click command ``name`` at ``target`` (``"module:attribute"``), imported."""
    module_name, _, attribute = target.partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"command {name!r}: {target} is a {type(command).__name__}, not a click command")
    return command
