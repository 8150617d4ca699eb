"""Exceptions that the CLI turns into one clear line on stderr and an exit code."""

from __future__ import annotations

from pathlib import Path


class FtplugError(Exception):
    """A failure the user can act on; the CLI prints it without a traceback (exit 1)."""

    exit_code = 1


class InputError(FtplugError):
    """Bad input: a file, a key or a value the user supplied is wrong (exit 2).

    :param message: what is wrong and, where possible, what to do about it.
    :param path: the file the problem is in, if any.
    :param where: a line number (``int``) or a location such as ``"[data] path"``.
    """

    exit_code = 2

    def __init__(self, message: str, *, path: str | Path | None = None, where: int | str | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.where = where
        super().__init__(self.format())

    def format(self) -> str:
        """The one-line form ``FILE:LINE: message`` or ``FILE: [table] key: message``."""
        if self.path is None:
            return self.message if self.where is None else f"{self.where}: {self.message}"
        if self.where is None:
            return f"{self.path}: {self.message}"
        if isinstance(self.where, int):
            return f"{self.path}:{self.where}: {self.message}"
        return f"{self.path}: {self.where}: {self.message}"


class ConfigError(InputError):
    """An experiment file is invalid."""


class DataError(InputError):
    """A dataset file is invalid."""
