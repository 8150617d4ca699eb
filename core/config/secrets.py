"""API keys never leave the process in the clear: every key ftplug uses is remembered, and text bound for the
terminal, the result store or a report has them masked the way the API masks them in its own errors
(``sk-abc…wxyz``). Anything shaped like an OpenAI key (``sk-`` and 16 or more key characters) is masked too,
so a server that echoes a key back in an error message cannot leak it through ftplug."""

from __future__ import annotations

import re

_KNOWN: set[str] = set()
_KEY_SHAPE = re.compile(r"sk-[A-Za-z0-9_\-]{16,}")


def remember(key: str | None) -> None:
    """Mask ``key`` wherever :func:`redact` sees it from now on (keys under 8 characters are not secrets worth
    the false matches)."""
    if key and len(key) >= 8:
        _KNOWN.add(key)


def forget_keys() -> None:
    """Forget every remembered key (a new command in the same process starts with none)."""
    _KNOWN.clear()


def mask(key: str) -> str:
    """``key`` as the API shows it: the first six and last four characters."""
    return f"{key[:6]}…{key[-4:]}" if len(key) > 12 else "…"


def redact(text: str) -> str:
    """``text`` with every remembered key, and every key-shaped string, masked."""
    for key in sorted(_KNOWN, key=len, reverse=True):
        if key in text:
            text = text.replace(key, mask(key))
    return _KEY_SHAPE.sub(lambda found: mask(found.group(0)), text)
