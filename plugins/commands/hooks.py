"""The built-in plugin that adds the built-in commands (``ftplug.plugins.commands.table``), declared lazily:
``ftplug --help`` lists them without importing their modules, and each is imported when it runs."""

from __future__ import annotations

from typing import Any

from ftplug import hookimpl
from ftplug.plugins.commands.table import declare_commands


@hookimpl
def ftplug_register_commands(cli: Any) -> None:
    """Declare the built-in commands."""
    declare_commands(cli)
