"""How long a text ftplug reads: one limit for loaders, fine-tuning files and token counting (imports nothing
heavy, so a loader can name it without loading the tokenizer)."""

from __future__ import annotations

from ftplug.errors import InputError

MAX_TEXT_CHARS = 8 * 2**20
"""The longest text ftplug counts the tokens of (8 MiB of characters): twice what the largest context window in
the catalogue (about a million tokens) holds at four characters a token. Tokenising the worst such text takes
seconds and half a gigabyte; a much longer one, minutes and many gigabytes, so it is refused instead."""


class TextTooLong(InputError):
    """A text longer than :data:`MAX_TEXT_CHARS`."""


def check_text_length(text: str) -> None:
    """Refuse ``text`` if it is longer than :data:`MAX_TEXT_CHARS` characters."""
    if len(text) > MAX_TEXT_CHARS:
        raise TextTooLong(f"a text of {len(text):,} characters, over the {MAX_TEXT_CHARS:,} ftplug counts tokens of "
                          "(twice what the largest context window holds): shorten it")
