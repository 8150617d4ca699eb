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
        """The one-line form ``FILE:LINE: message`` or ``FILE: [table] key: message`` (line breaks that came
        from the input, such as a key with a newline in it, are shown escaped)."""
        if self.path is None:
            text = self.message if self.where is None else f"{self.where}: {self.message}"
        elif self.where is None:
            text = f"{self.path}: {self.message}"
        elif isinstance(self.where, int):
            text = f"{self.path}:{self.where}: {self.message}"
        else:
            text = f"{self.path}: {self.where}: {self.message}"
        return text.replace("\r", "\\r").replace("\n", "\\n")


class ConfigError(InputError):
    """An experiment file is invalid."""


class DataError(InputError):
    """A dataset file is invalid."""
