"""Token counts of a local model, with its own tokenizer and chat template.

The few-shot builder packs prompts by adding up what each message costs; for an OpenAI model that is the
API's rule (3 per message, the role and the content). A local model reads its chat template instead, so
here a message costs what the template adds around the content (measured once per role, by rendering
the template with and without the message) plus the content's tokens. Packing sums are then an upper
bound within a few tokens; the whole prompt's count (:meth:`LocalTokenCounter.messages`) is exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ftplug.catalogue.tokens import CachedCounts
from ftplug.errors import FtplugError

_PROBE = "probe"
_ROLES = ("system", "user", "assistant")


def chat_prompt(tokenizer: Any, messages: Sequence[Mapping[str, Any]]) -> str:
    """The text the model reads before answering ``messages``: its chat template with the generation prompt."""
    if not getattr(tokenizer, "chat_template", None):
        raise FtplugError("the model's tokenizer has no chat template: local models must be chat (instruct) models")
    return str(tokenizer.apply_chat_template([dict(m) for m in messages], add_generation_prompt=True, tokenize=False))


class LocalTokenCounter(CachedCounts):
    """Counts a chat prompt's tokens for one local model; the methods of
    :class:`ftplug.catalogue.tokens.TokenCounter`.

    :param tokenizer: the model's Hugging Face tokenizer, with a chat template.
    :param model: the model's name, for messages.
    """

    def __init__(self, tokenizer: Any, model: str) -> None:
        super().__init__()
        self.tokenizer, self.model = tokenizer, model
        self._overheads: dict[str, int] = {}
        probe = self.text(_PROBE)
        system_only = self._rendered([{"role": "system", "content": _PROBE}])
        for role in _ROLES:
            with_role = self._rendered([{"role": "system", "content": _PROBE}, {"role": role, "content": _PROBE}])
            self._overheads[role] = max(0, with_role - system_only - probe)
        # What the template adds besides the messages: the generation prompt, and any default system message
        # it inserts when the prompt has none (counted always, so sums stay an upper bound).
        without_system = self._rendered([{"role": "user", "content": _PROBE}]) - self._overheads["user"] - probe
        with_system = system_only - self._overheads["system"] - probe
        self.priming = max(0, without_system, with_system)

    def _rendered(self, messages: list[dict[str, str]]) -> int:
        return len(self.encode(chat_prompt(self.tokenizer, messages)))

    def encode(self, text: str) -> list[int]:
        """The token ids of ``text`` (no special tokens added)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def text(self, text: str) -> int:
        """Tokens of ``text``."""
        return len(self.encode(text))

    def texts(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each of ``texts``, encoded as one batch."""
        if not texts:
            return []
        return [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def overhead(self, role: str) -> int:
        """What the chat template adds around one message of ``role`` (the most of any role for others)."""
        return self._overheads.get(role, max(self._overheads.values()))

    def message(self, role: str, content: str, name: str | None = None) -> int:
        """Tokens one message adds to a prompt (a ``name`` is counted as content: templates differ)."""
        return self.overhead(role) + self.text(content) + (self.cached(name) if name is not None else 0)

    def messages(self, messages: Sequence[Mapping[str, Any]]) -> int:
        """Tokens of a whole prompt as the model reads it: exact."""
        return self.text(chat_prompt(self.tokenizer, messages))

    def keep_last(self, text: str, count: int) -> str:
        """The end of ``text``: its last ``count`` tokens."""
        ids = self.encode(text)
        return text if len(ids) <= count else str(self.tokenizer.decode(ids[-count:]))

    def upper_bound(self, messages: Sequence[Mapping[str, Any]]) -> int:
        """A bound on the prompt's tokens without tokenising the content: a token is at least one byte of
        UTF-8 (one more per message for tokenizers that add a word-start marker)."""
        return self.priming + sum(self.overhead(str(m.get("role"))) + 1 + len(str(m.get("content") or "").encode())
                                  for m in messages)
