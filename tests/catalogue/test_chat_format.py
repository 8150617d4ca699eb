"""The cookbook's format rules for chat fine-tuning examples."""

from __future__ import annotations

import pytest

from ftplug.catalogue.chat_format import check_example

GOOD = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                     {"role": "assistant", "content": "a", "weight": 1}]}


def test_a_valid_example_has_no_problem() -> None:
    assert check_example(GOOD) == []
    assert check_example({"messages": [{"role": "user", "content": "u"},
                                       {"role": "assistant", "content": None, "function_call": {"name": "f"}}]}) == []


@pytest.mark.parametrize(("record", "code", "description"), [
    ([1, 2], "data_type", "is not a JSON object"),
    ({"messages": []}, "missing_messages_list", "has no non-empty 'messages' list"),
    ({"prompt": "x"}, "missing_messages_list", "has no non-empty 'messages' list"),
    ({"messages": [{"content": "u"}, {"role": "assistant", "content": "a"}]}, "message_missing_key",
     "message 1 has no 'role'"),
    ({"messages": [{"role": "user", "content": "u", "mood": "x"}, {"role": "assistant", "content": "a"}]},
     "message_unrecognized_key", "message 1 has an unrecognised key 'mood'"),
    ({"messages": [{"role": "robot", "content": "u"}, {"role": "assistant", "content": "a"}]}, "unrecognized_role",
     "message 1 has an unrecognised role 'robot'"),
    ({"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "a"}]}, "missing_content",
     "message 1 has no text content"),
    ({"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a", "weight": 2}]},
     "invalid_weight", "message 2 has weight 2; only 0 or 1"),
    ({"messages": [{"role": "user", "content": "u"}]}, "example_missing_assistant_message", "has no assistant message"),
])
def test_each_rule(record: object, code: str, description: str) -> None:
    problems = check_example(record)
    assert (problems[0].code, problems[0].description) == (code, description)
