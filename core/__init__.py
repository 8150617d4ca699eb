"""ftplug: compare fine-tuning with few-shot prompting on your own task.

Plugins implement hooks marked with :data:`hookimpl`; see :mod:`ftplug.hookspecs`.
"""

from ftplug.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]
