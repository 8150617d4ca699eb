"""``ftplug tokens`` and ``ftplug run --explain``: the counts they print are tiktoken's, not estimates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftplug.catalogue.tokens import count_message_tokens, count_text_tokens
from tests.catalogue.test_tokens import COOKBOOK_MESSAGES
from tests.helpers import EXAMPLE, run_in_process


def test_tokens_of_a_text_file_match_tiktoken(tmp_path: Path) -> None:
    text = EXAMPLE.with_name("fortunes.csv").read_text(encoding="utf-8")
    result = run_in_process("tokens", str(EXAMPLE.with_name("fortunes.csv")), "--model", "gpt-4", "--json")
    assert result.exit_code == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["tokens"] == count_text_tokens(text, "gpt-4")
    assert stats["encoding"] == "cl100k_base" and stats["context_window"] == 8192
    assert stats["fits"] is (stats["prompt_tokens"] <= 8192)
    assert stats["units"] == len(text.splitlines())


def test_tokens_of_chat_jsonl_counts_each_conversation(tmp_path: Path) -> None:
    conversations = [[{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": f"Q{i}"},
                      {"role": "assistant", "content": "A" * (i + 1)}] for i in range(3)]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({"messages": m}) + "\n" for m in conversations), encoding="utf-8")
    result = run_in_process("tokens", str(path), "--model", "gpt-4o-mini", "--json")
    stats = json.loads(result.stdout)
    per = [count_message_tokens(m, "gpt-4o-mini") for m in conversations]
    assert (stats["kind"], stats["tokens"], stats["largest_unit"]) == ("chat JSONL", sum(per), max(per))


@pytest.mark.parametrize(("model", "expected"), [("gpt-4o-mini", 124), ("gpt-3.5-turbo", 129)])
def test_tokens_counts_a_prompt_without_an_assistant_reply_as_a_conversation(
        tmp_path: Path, model: str, expected: int) -> None:
    path = tmp_path / "prompt.jsonl"
    path.write_text(json.dumps({"messages": COOKBOOK_MESSAGES}) + "\n", encoding="utf-8")
    result = run_in_process("tokens", str(path), "--model", model)
    assert result.exit_code == 0, result.stderr
    assert f": {expected:,} tokens (" in result.stdout and "chat JSONL, 1 conversation," in result.stdout
    assert f"the largest conversation is {expected:,} prompt tokens" in result.stdout


def test_tokens_names_the_line_of_a_chat_file_that_is_not_a_conversation(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps({"messages": COOKBOOK_MESSAGES}) + "\n\n" + json.dumps({"prompt": "hi"}) + "\n",
                    encoding="utf-8")
    result = run_in_process("tokens", str(path))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert f"{path}:3: no \"messages\" list" in result.stderr


def test_tokens_refuses_an_unknown_model_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("hello", encoding="utf-8")
    result = run_in_process("tokens", str(path), "--model", "no-such-model")
    assert result.exit_code == 2
    assert "no-such-model" in result.stderr and "Traceback" not in result.stderr


def test_explain_prints_the_messages_and_their_exact_count() -> None:
    result = run_in_process("run", str(EXAMPLE), "--explain", "few-shot-5")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.count("--- message ") == 1 + 2 * 5 + 1  # system, five shot pairs, the test input
    total = int(out.split("Prompt tokens (as the API counts them, with 3 priming the reply): ")[1].split()[0])
    per_message = [int(line.split("(")[1].split()[0]) for line in out.splitlines() if line.startswith("--- message")]
    assert total == sum(per_message) + 3
    assert "shots packed 5–5 (mean 5.0) of 5 offered" in out


def test_explain_names_the_variants_when_one_is_misspelt() -> None:
    result = run_in_process("run", str(EXAMPLE), "--explain", "few-shot-50")
    assert result.exit_code == 2
    assert "few-shot-5, few-shot-40" in result.stderr and "Traceback" not in result.stderr
