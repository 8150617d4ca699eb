"""Deterministic object ids in the API's formats."""

from __future__ import annotations

import hashlib
import string

_ALPHABET = string.ascii_letters + string.digits


class IdMaker:
    """Ids like ``file-…``, ``ftjob-…``: a counter hashed with the seed, so runs with one seed repeat."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.counter = 0

    def make(self, prefix: str, length: int = 24) -> str:
        """A new id ``prefix`` + ``length`` letters and digits."""
        self.counter += 1
        return prefix + token(f"{self.seed}:{prefix}:{self.counter}", length)


def token(text: str, length: int) -> str:
    """``length`` letters and digits derived from ``text``."""
    number = int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[index])
    return "".join(chars)
