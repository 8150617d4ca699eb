"""Token counting: checked against OpenAI's published figures, not against our own simulator."""

from __future__ import annotations

import ast
import hashlib
import inspect
from importlib.resources import files

import pytest
import responses

from ftplug.catalogue.tokens import count_message_tokens, count_text_tokens, encoding_name_for_model, get_encoding

# The example conversation of OpenAI's cookbook "How to count tokens with tiktoken", whose prompt-token
# counts the notebook verified against the API: 129 on gpt-3.5-turbo and gpt-4, 124 on gpt-4o(-mini).
COOKBOOK_MESSAGES = [
    {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate "
                                  "jargon into plain English."},
    {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
    {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch "
                                                          "base on opportunities for increased leverage."},
    {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to "
                                                               "do better."},
    {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client "
                                "deliverable."},
]


@pytest.mark.parametrize(("model", "expected"), [
    ("gpt-3.5-turbo", 129), ("gpt-3.5-turbo-0125", 129), ("gpt-4", 129), ("gpt-4-0613", 129),
    ("gpt-4o", 124), ("gpt-4o-mini", 124), ("gpt-4o-2024-08-06", 124), ("gpt-4o-mini-2024-07-18", 124),
])
def test_cookbook_prompt_token_counts(model: str, expected: int) -> None:
    assert count_message_tokens(COOKBOOK_MESSAGES, model) == expected


def _tiktoken_expected_hashes() -> dict[str, str]:
    """The sha256 literals tiktoken's own constructors pass for each encoding."""
    from tiktoken_ext import openai_public

    hashes = {}
    for node in ast.walk(ast.parse(inspect.getsource(openai_public))):
        if isinstance(node, ast.FunctionDef) and node.name in ("cl100k_base", "o200k_base"):
            for call in ast.walk(node):
                if isinstance(call, ast.keyword) and call.arg == "expected_hash":
                    hashes[node.name] = call.value.value
    return hashes


def test_shipped_files_match_tiktokens_hashes() -> None:
    expected = _tiktoken_expected_hashes()
    assert set(expected) == {"cl100k_base", "o200k_base"}
    for name, digest in expected.items():
        data = files("ftplug.data").joinpath(f"{name}.tiktoken").read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest


def test_encoding_comes_from_the_base_model() -> None:
    # tiktoken's own prefix rule maps "ft:gpt-4…" to cl100k_base; gpt-4.1 is o200k_base.
    assert encoding_name_for_model("ft:gpt-4.1-mini-2025-04-14:org::abc12345") == "o200k_base"
    assert encoding_name_for_model("ft:gpt-3.5-turbo-0125:org:sfx:abc12345") == "cl100k_base"
    assert encoding_name_for_model("gpt-4") == "cl100k_base"
    assert encoding_name_for_model("gpt-4.1-nano") == "o200k_base"
    assert encoding_name_for_model("gpt-4-turbo-unlisted") == "cl100k_base"
    assert encoding_name_for_model("some-local-model") == "o200k_base"


def test_encodings_load_once_offline_and_match_known_tokens(no_network: responses.RequestsMock) -> None:
    import ftplug.catalogue.tokens as tokens

    tokens._encodings.clear()  # force a fresh load under the network guard
    first = get_encoding("o200k_base")
    assert get_encoding("o200k_base") is first
    assert first.encode("hello world") == [24912, 2375]
    assert get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
    assert len(no_network.calls) == 0
    with pytest.raises(ValueError, match="supported: cl100k_base, o200k_base"):
        get_encoding("r50k_base")


def test_special_token_text_counts_as_text() -> None:
    assert count_text_tokens("<|endoftext|>", "gpt-4o") > 1
    assert count_text_tokens("", "gpt-4o") == 0


def test_content_parts_and_names() -> None:
    plain = [{"role": "user", "content": "hello there"}]
    parts = [{"role": "user", "content": [{"type": "text", "text": "hello there"}]}]
    named = [{"role": "user", "content": "hello there", "name": "bob"}]
    assert count_message_tokens(plain, "gpt-4o") == count_message_tokens(parts, "gpt-4o")
    assert count_message_tokens(named, "gpt-4o") == count_message_tokens(plain, "gpt-4o") + 1 + 1  # "bob" + name
