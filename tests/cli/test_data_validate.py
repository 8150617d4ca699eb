"""``ftplug data validate``: every cookbook rule caught with its line number; statistics and cost on a good file."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest

from ftplug.catalogue.models import default_catalogue
from ftplug.catalogue.tokens import count_message_tokens
from ftplug.catalogue.training_cost import auto_epochs
from ftplug.catalogue.training_file import validate_training_file
from tests.helpers import EXAMPLE, run_in_process

SYSTEM = "Classify the quotation by topic."


def _good_records(n: int = 12) -> list[dict]:
    with EXAMPLE.with_name("fortunes.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:n]
    return [{"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": r["text"]},
                          {"role": "assistant", "content": r["topic"]}]} for r in rows]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


BAD_LINES = {
    "data_type": '["not", "a", "dict"]',
    "missing_messages_list": '{"messages": []}',
    "message_missing_key": '{"messages": [{"role": "user"}, {"role": "assistant", "content": "law"}]}',
    "message_unrecognized_key": '{"messages": [{"role": "user", "content": "q", "mood": "x"}, '
                                '{"role": "assistant", "content": "law"}]}',
    "unrecognized_role": '{"messages": [{"role": "judge", "content": "q"}, {"role": "assistant", "content": "law"}]}',
    "missing_content": '{"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "law"}]}',
    "example_missing_assistant_message": '{"messages": [{"role": "user", "content": "q"}]}',
    "invalid_weight": '{"messages": [{"role": "user", "content": "q"}, '
                      '{"role": "assistant", "content": "law", "weight": 2}]}',
    "invalid_json": '{"messages": [',
}


@pytest.mark.parametrize("code", sorted(BAD_LINES))
def test_each_rule_is_reported_with_its_line(tmp_path: Path, code: str) -> None:
    lines = [json.dumps(r) for r in _good_records(10)]
    lines.insert(6, BAD_LINES[code])  # line 7
    report = validate_training_file(_write(tmp_path / "t.jsonl", lines), "gpt-4o-mini")
    assert report.rejected
    assert {p.line for p in report.problems} == {7}  # ten good lines remain: only line 7 is at fault
    assert code in {p.code for p in report.problems}


def test_too_few_examples_and_not_utf8(tmp_path: Path) -> None:
    report = validate_training_file(_write(tmp_path / "few.jsonl", [json.dumps(r) for r in _good_records(9)]),
                                    "gpt-4o-mini")
    assert [(p.line, p.code) for p in report.problems] == [(0, "too_few_examples")]
    binary = tmp_path / "latin1.jsonl"
    binary.write_bytes(json.dumps(_good_records(1)[0]).encode() + b"\n" + "caf\u00e9".encode("latin-1") + b"\n")
    assert [(p.line, p.code) for p in validate_training_file(binary, "gpt-4o-mini").problems] == [(2, "encoding")]


def test_every_problem_of_a_bad_file_is_listed_and_the_exit_code_is_2(tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in _good_records(10)] + [BAD_LINES["data_type"], BAD_LINES["invalid_weight"]]
    path = _write(tmp_path / "bad.jsonl", lines)
    result = run_in_process("data", "validate", str(path))
    assert result.exit_code == 2
    assert "line 11: example is not a JSON object (data_type)" in result.stdout
    assert "line 12: example message 2 has weight 2; only 0 or 1 (invalid_weight)" in result.stdout
    assert result.stderr.count("\n") == 1 and str(path) in result.stderr and "Traceback" not in result.stderr


def test_a_good_file_gets_tokens_epochs_and_cost(tmp_path: Path) -> None:
    records = _good_records(12)
    records[3]["messages"].pop(0)  # no system message: a warning, not a rejection
    path = _write(tmp_path / "good.jsonl", [json.dumps(r) for r in records])
    result = run_in_process("data", "validate", str(path), "--model", "gpt-4o-mini", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    tokens = [count_message_tokens(r["messages"], "gpt-4o-mini") for r in records]
    epochs = auto_epochs(12)
    assert epochs == 8  # 100 // 12: tiny files get more epochs
    price = default_catalogue().get("gpt-4o-mini").training_price
    assert report["tokens"] == {
        "model": "gpt-4o-mini-2024-07-18", "examples": 12, "min_tokens": min(tokens),
        "median_tokens": statistics.median(tokens), "max_tokens": max(tokens), "total_tokens": sum(tokens),
        "training_limit": 65536, "truncated": 0, "epochs": epochs, "epochs_auto": True,
        "billed_tokens": sum(tokens) * epochs, "training_price_per_1m": price,
        "estimated_cost_usd": pytest.approx(sum(tokens) * epochs * price / 1e6)}
    assert report["warnings"] == [{"line": 4, "code": "missing_system_message",
                                   "description": "example has no system message"}]
    text = run_in_process("data", "validate", str(path), "--model", "gpt-4o-mini", "--n-epochs", "2").stdout
    assert f"epochs: 2 (as given); billed training tokens: {sum(tokens) * 2:,}" in text


def test_examples_over_the_training_limit_are_counted_and_named(tmp_path: Path) -> None:
    records = _good_records(10)
    records[8]["messages"][1]["content"] = " ".join(["token"] * 17000)  # gpt-3.5-turbo's limit is 16,385
    report = validate_training_file(_write(tmp_path / "long.jsonl", [json.dumps(r) for r in records]),
                                    "gpt-3.5-turbo")
    assert not report.rejected and report.estimate is not None and report.estimate.truncated == 1
    assert [(w.line, w.code) for w in report.warnings] == [(9, "example_too_long")]
    assert report.estimate.billed_tokens == (sum(min(t, 16385) for t in report.estimate.tokens)
                                             * report.estimate.epochs)


@pytest.mark.parametrize(("n", "epochs"), [(1, 25), (10, 10), (34, 3), (33, 3), (8333, 3), (8334, 2),
                                           (30000, 1)])
def test_auto_epochs_follow_the_cookbook(n: int, epochs: int) -> None:
    assert auto_epochs(n) == epochs
