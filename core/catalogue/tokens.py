"""Token counting with tiktoken, using the BPE files shipped in ``ftplug.data`` (no download, ever).

The encodings are built by tiktoken's own constructors (``tiktoken_ext.openai_public``), so the split
pattern and special tokens are tiktoken's; only the BPE ranks come from our copy of the official file,
read by ``tiktoken.load.load_tiktoken_bpe``, which checks it against tiktoken's sha256.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from importlib.resources import as_file, files
from typing import Any

import tiktoken

from ftplug.catalogue.text_limits import check_text_length
from ftplug.catalogue.token_rules import REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE, TOKENS_PER_NAME

SUPPORTED_ENCODINGS = ("cl100k_base", "o200k_base")

_lock = threading.Lock()
_encodings: dict[str, tiktoken.Encoding] = {}


def _shipped_bpe(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
    """Stand-in for tiktoken's loader: the same file name, read from ``ftplug.data`` instead of the URL."""
    from tiktoken.load import load_tiktoken_bpe

    name = url.rsplit("/", 1)[-1]
    with as_file(files("ftplug.data").joinpath(name)) as path:
        if not path.is_file():
            raise FileNotFoundError(f"ftplug's copy of {name} is missing from the package data")
        return load_tiktoken_bpe(str(path), expected_hash=expected_hash)


def get_encoding(name: str) -> tiktoken.Encoding:
    """The tiktoken encoding ``name`` (``cl100k_base`` or ``o200k_base``), loaded once per process."""
    if name not in SUPPORTED_ENCODINGS:
        raise ValueError(f"unsupported encoding {name!r} (supported: {', '.join(SUPPORTED_ENCODINGS)})")
    encoding = _encodings.get(name)
    if encoding is not None:
        return encoding
    with _lock:
        if name not in _encodings:
            from tiktoken_ext import openai_public

            # tiktoken's constructor looks its loader up as a module global; pointing it at our copy for the
            # duration of the call (under the lock) keeps tiktoken in charge of everything else.
            original = openai_public.load_tiktoken_bpe
            openai_public.load_tiktoken_bpe = _shipped_bpe
            try:
                arguments = getattr(openai_public, name)()
            finally:
                openai_public.load_tiktoken_bpe = original
            _encodings[name] = tiktoken.Encoding(**arguments)
        return _encodings[name]


_PREFIX_ENCODINGS = (
    (("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o"), "o200k_base"),
    (("gpt-4", "gpt-3.5", "gpt-35"), "cl100k_base"),
)


def encoding_name_for_model(model: str) -> str:
    """The encoding of ``model``'s *base* model: ``ft:`` ids are reduced to their base snapshot first."""
    from ftplug.catalogue.models import base_model, default_catalogue

    base = base_model(model)
    info = default_catalogue().find(base)
    if info is not None:
        return info.encoding
    for prefixes, encoding in _PREFIX_ENCODINGS:
        if base.startswith(prefixes):
            return encoding
    return "o200k_base"


def count_text_tokens(text: str, model: str) -> int:
    """Tokens in ``text`` for ``model`` (special-token text such as ``<|endoftext|>`` counts as plain text)."""
    check_text_length(text)
    return len(get_encoding(encoding_name_for_model(model)).encode_ordinary(text))


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):  # content parts: count the text ones
        return "".join(part.get("text", "") for part in value if isinstance(part, Mapping))
    return str(value) if value is not None else ""


def count_message_tokens(messages: Sequence[Mapping[str, Any]], model: str) -> int:
    """Prompt tokens of a chat request as the API counts them (OpenAI's token-counting cookbook):
    3 per message, the tokens of each value, 1 more per ``name``, and 3 priming the reply."""
    encoding = get_encoding(encoding_name_for_model(model))
    total = REPLY_PRIMING_TOKENS
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            text = _value_text(value)
            check_text_length(text)
            total += len(encoding.encode_ordinary(text))
            if key == "name":
                total += TOKENS_PER_NAME
    return total


class CachedCounts:
    """What every token counter has: ``text`` (defined by each) and ``cached``, which remembers the counts of
    strings that recur (roles, system messages, templates)."""

    def __init__(self) -> None:
        self._cache: dict[str, int] = {}

    def text(self, text: str) -> int:  # pragma: no cover - defined by each counter
        """Tokens of ``text``."""
        raise NotImplementedError

    def cached(self, text: str) -> int:
        """Tokens of ``text``, remembered."""
        count = self._cache.get(text)
        if count is None:
            count = self._cache[text] = self.text(text)
        return count


class TokenCounter(CachedCounts):
    """Counts chat tokens for one model, caching short strings (roles, repeated system messages).

    ``message(role, content)`` is what one message adds to a prompt: 3 + the tokens of its values
    (+ 1 and the name's tokens for a ``name``); a whole prompt is the sum of its messages plus 3.
    """

    priming = REPLY_PRIMING_TOKENS  # what every prompt costs besides its messages

    def __init__(self, model: str) -> None:
        super().__init__()
        self.model = model
        self.encoding = get_encoding(encoding_name_for_model(model))

    def text(self, text: str) -> int:
        """Tokens of ``text`` (refused past :data:`MAX_TEXT_CHARS`)."""
        check_text_length(text)
        return len(self.encoding.encode_ordinary(text))

    def texts(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each of ``texts``. (A plain loop: for short texts tiktoken's threaded batch call is slower.)"""
        encode = self.encoding.encode_ordinary
        counts = []
        for text in texts:
            check_text_length(text)
            counts.append(len(encode(text)))
        return counts

    def overhead(self, role: str) -> int:
        """What one message of ``role`` costs besides its content."""
        return TOKENS_PER_MESSAGE + self.cached(role)

    def message(self, role: str, content: str, name: str | None = None) -> int:
        """Tokens one message adds to a prompt."""
        total = self.overhead(role) + self.text(content)
        if name is not None:
            total += TOKENS_PER_NAME + self.cached(name)
        return total

    def messages(self, messages: Sequence[Mapping[str, Any]]) -> int:
        """Tokens of a whole prompt (equal to :func:`count_message_tokens`)."""
        return count_message_tokens(messages, self.model)

    def keep_last(self, text: str, count: int) -> str:
        """The end of ``text``: its last ``count`` tokens."""
        check_text_length(text)
        tokens = self.encoding.encode_ordinary(text)
        return text if len(tokens) <= count else self.encoding.decode(tokens[-count:])


def prompt_counter(model: str, own: Any = None) -> Any:
    """The counter of ``model``'s prompts: for a local model (``local:…``) the prompt builder's own, which counts
    with the model's tokenizer and chat template (and budgeted the prompts with it); else tiktoken's, as the API
    counts."""
    from ftplug.catalogue.local_models import is_local_model

    return own if own is not None and is_local_model(model) else TokenCounter(model)
