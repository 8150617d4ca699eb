"""ftplug: compare fine-tuning with few-shot prompting on your own task.

What a plugin needs is here, by name: ``from ftplug import hookimpl, Help, Example, Score`` — no internal
path. Plugins implement hooks marked with :data:`hookimpl`; see :mod:`ftplug.hookspecs` and
docs/writing-plugins.md.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ftplug.components import (
        Component,
        Generated,
        Help,
        Kind,
        LoadContext,
        Loader,
        Option,
        PromptBuilder,
        Register,
        Score,
        Scorer,
        TrainedModel,
        Trainer,
        TrainingContext,
    )
    from ftplug.dataset import Example, Splits
    from ftplug.errors import ConfigError, DataError, FtplugError, InputError
    from ftplug.hookspecs import hookimpl
    from ftplug.store import Store

__version__ = "0.1.0"

# Each public name and the module defining it, imported when first used: listing the commands
# (``ftplug --help``) must not pay for pluggy, NumPy or the components.
_PUBLIC = {
    "hookimpl": "ftplug.hookspecs",
    **dict.fromkeys(("Component", "Generated", "Help", "Kind", "LoadContext", "Loader", "Option", "PromptBuilder",
                     "Register", "Score", "Scorer", "TrainedModel", "Trainer", "TrainingContext"),
                    "ftplug.components"),
    **dict.fromkeys(("Example", "Splits"), "ftplug.dataset"),
    **dict.fromkeys(("ConfigError", "DataError", "FtplugError", "InputError"), "ftplug.errors"),
    "Store": "ftplug.store",
}

__all__ = [
    "Component", "ConfigError", "DataError", "Example", "FtplugError", "Generated", "Help", "InputError", "Kind",
    "LoadContext", "Loader", "Option", "PromptBuilder", "Register", "Score", "Scorer", "Splits", "Store",
    "TrainedModel", "Trainer", "TrainingContext", "__version__", "hookimpl",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'ftplug' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
