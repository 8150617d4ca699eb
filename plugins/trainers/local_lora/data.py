"""What a local LoRA fine-tuning learns from, and the content address of its result.

Training examples are the prompt builder's fine-tuning conversations, rendered with the model's own chat
template: the prompt (every turn before the answer, with the template's generation prompt) is context
only; the loss is on the answer's tokens and the end-of-sequence token that stops generation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftplug.errors import FtplugError
from ftplug.plugins.local.tokens import chat_prompt

IGNORED = -100  # the label PyTorch's cross-entropy skips
_SAMPLED_BYTES = 1 << 20  # of each weight file, the first and last MiB are hashed (with its size)


@dataclass(frozen=True)
class Encoded:
    """One training conversation as token ids, with labels only on the answer."""

    input_ids: list[int]
    labels: list[int]


def encode_conversation(tokenizer: Any, messages: Sequence[Mapping[str, Any]], max_length: int) -> Encoded:
    """Token ids of a conversation ending with the assistant's answer; the prompt is cut from the left when
    the whole would exceed ``max_length`` (the answer is always kept whole, if it fits at all)."""
    if not messages or messages[-1].get("role") != "assistant":
        raise FtplugError("a training conversation must end with the assistant's answer")
    prompt = tokenizer(chat_prompt(tokenizer, messages[:-1]), add_special_tokens=False)["input_ids"]
    answer = tokenizer(str(messages[-1].get("content") or ""), add_special_tokens=False)["input_ids"]
    answer = [*answer, tokenizer.eos_token_id][:max_length]
    room = max_length - len(answer)
    prompt = prompt[-room:] if room > 0 else []
    return Encoded(input_ids=prompt + answer, labels=[IGNORED] * len(prompt) + answer)


def model_fingerprint(model: str, revision: str = "") -> str:
    """What identifies the base model for reuse: for a local folder its configuration, tokenizer files and
    the size, start and end of each weight file; for a hub name the name and revision."""
    folder = Path(model).expanduser()
    digest = hashlib.sha256()
    if not folder.is_dir():
        digest.update(f"hub:{model}@{revision}".encode())
        return digest.hexdigest()
    # ftplug's own record of a GGUF conversion (where and when) is not the model
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "ftplug-gguf.json"):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        size = path.stat().st_size
        digest.update(str(size).encode())
        with path.open("rb") as handle:
            if path.suffix in (".safetensors", ".bin", ".pt", ".gguf") and size > 2 * _SAMPLED_BYTES:
                digest.update(handle.read(_SAMPLED_BYTES))
                handle.seek(size - _SAMPLED_BYTES)
                digest.update(handle.read())
            else:
                digest.update(handle.read())
    return digest.hexdigest()


def adapter_key(fingerprint: str, conversations: Sequence[Sequence[Mapping[str, Any]]],
                validation: Sequence[Sequence[Mapping[str, Any]]], options: Mapping[str, Any]) -> str:
    """The content address of an adapter: same base model, data and options give the same key."""
    payload = json.dumps({"model": fingerprint, "options": dict(sorted(options.items())),
                          "train": hashlib.sha256(json.dumps(conversations, sort_keys=True).encode()).hexdigest(),
                          "validation": hashlib.sha256(json.dumps(validation, sort_keys=True).encode()).hexdigest()},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]
