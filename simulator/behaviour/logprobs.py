"""Token log-probabilities for simulated answers, consistent with the answer's share of the vote."""

from __future__ import annotations

import math
from typing import Any

import tiktoken


def _entry(encoding: tiktoken.Encoding, token_id: int, logprob: float) -> dict[str, Any]:
    raw = encoding.decode_single_token_bytes(token_id)
    return {"token": raw.decode("utf-8", errors="replace"), "logprob": round(logprob, 6), "bytes": list(raw)}


def token_logprobs(encoding: tiktoken.Encoding, text: str, confidence: float, alternatives: list[str],
                   top: int) -> dict[str, Any]:
    """The ``logprobs`` object of a choice: the first token carries the answer's ``confidence`` (0–1]; later
    tokens are near-certain; ``top`` alternatives come from the other candidate answers' first tokens."""
    tokens = encoding.encode(text, disallowed_special=())
    content = []
    first_logprob = math.log(max(min(confidence, 1.0), 1e-6))
    rest = (1 - confidence) / max(1, len(alternatives))
    for index, token_id in enumerate(tokens):
        logprob = first_logprob if index == 0 else -0.0001
        entry = _entry(encoding, token_id, logprob)
        top_entries = [_entry(encoding, token_id, logprob)]
        if index == 0:
            for alternative in alternatives:
                alternative_tokens = encoding.encode(alternative, disallowed_special=())
                if alternative_tokens and alternative_tokens[0] != token_id:
                    top_entries.append(_entry(encoding, alternative_tokens[0], math.log(max(rest, 1e-6))))
        entry["top_logprobs"] = top_entries[:top]
        content.append(entry)
    return {"content": content, "refusal": None}
