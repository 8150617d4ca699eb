"""ftplug: compare fine-tuning with few-shot prompting on your own task.

Plugins implement hooks marked with :data:`hookimpl`; see :mod:`ftplug.hookspecs`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ftplug.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]


def __getattr__(name: str) -> Any:
    # ``hookimpl`` comes with pluggy, which listing the commands (``ftplug --help``) does without.
    if name == "hookimpl":
        from ftplug.hookspecs import hookimpl

        return hookimpl
    raise AttributeError(f"module 'ftplug' has no attribute {name!r}")
