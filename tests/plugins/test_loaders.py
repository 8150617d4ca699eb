"""The built-in csv and jsonl loaders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftplug.components import LoadContext
from ftplug.errors import DataError
from ftplug.plugins.loaders.files import CsvLoader, JsonlLoader
from tests.helpers import ROOT


def _context(tmp_path: Path) -> LoadContext:
    return LoadContext(base_dir=tmp_path, config_path=str(tmp_path / "exp.toml"))


def test_example_dataset_is_the_documented_one() -> None:
    context = LoadContext(base_dir=ROOT / "data" / "examples", config_path="fortunes.toml")
    examples = list(CsvLoader("fortunes.csv", input="text", expected="topic", id="id").load(context))
    assert len(examples) == 300
    topics = sorted({e.expected for e in examples})
    assert topics == ["computers", "food", "law", "politics", "science"]
    assert all(sum(e.expected == t for e in examples) == 60 for t in topics)
    assert len({e.id for e in examples}) == 300


def test_csv_with_bom_quotes_and_content_ids(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_bytes('\ufeffinput,expected\n"a, b",x\nc,y\n'.encode())
    examples = list(CsvLoader("d.csv").load(_context(tmp_path)))
    assert [(e.input, e.expected) for e in examples] == [("a, b", "x"), ("c", "y")]
    assert examples[0].metadata["line"] == 2 and examples[1].metadata["line"] == 3
    assert examples[0].id != examples[1].id


@pytest.mark.parametrize(("text", "message"), [
    ("", "d.csv:1: empty file: a header row is required"),
    ("question,answer\nq,a\n", "d.csv:1: no column 'input' in the header (columns: question, answer)"),
    ("input,expected\na,b\nc,d,e\n", "d.csv:3: row has 3 fields, the header has 2"),
    ("input,expected\na,b\n\nc, \n", "d.csv:4: empty 'expected' value"),
])
def test_csv_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "d.csv").write_text(text)
    with pytest.raises(DataError) as raised:
        list(CsvLoader("d.csv").load(_context(tmp_path)))
    assert str(raised.value).endswith(message)


def test_csv_non_utf8_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_bytes(b"input,expected\n\xff\xfe,b\n")
    with pytest.raises(DataError, match="not UTF-8"):
        list(CsvLoader("d.csv").load(_context(tmp_path)))
    with pytest.raises(DataError, match="no such data file"):
        list(CsvLoader("missing.csv").load(_context(tmp_path)))


def test_jsonl_chat_and_plain_lines(tmp_path: Path) -> None:
    chat = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"},
                         {"role": "assistant", "content": " greeting "}]}
    lines = [json.dumps(chat), "", json.dumps({"id": 7, "input": "2+2", "expected": 4})]
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n")
    first, second = JsonlLoader("d.jsonl").load(_context(tmp_path))
    assert first.expected == "greeting" and first.input_text == "hi" and len(first.input) == 2
    assert (second.id, second.input, second.expected, second.metadata["line"]) == ("7", "2+2", "4", 3)


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "d.jsonl:2: invalid JSON"),
    ("[1, 2]", "d.jsonl:2: each line must be a JSON object"),
    ('{"input": "x"}', "d.jsonl:2: missing key 'expected'"),
    ('{"messages": [{"role": "user", "content": "x"}]}', "d.jsonl:2: the last message must be the assistant's"),
])
def test_jsonl_errors_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "d.jsonl").write_text('{"input": "a", "expected": "b"}\n' + line + "\n")
    with pytest.raises(DataError) as raised:
        list(JsonlLoader("d.jsonl").load(_context(tmp_path)))
    assert message in str(raised.value)


def test_a_repeated_short_label_is_one_shared_string_and_a_long_one_is_not(tmp_path: Path) -> None:
    long = "a full sentence of expected output " * 3
    rows = [{"id": i, "input": f"text {i}", "expected": label}
            for i, label in enumerate(["spam", "ham", "spam", long, long])]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (tmp_path / "d.csv").write_text("id,input,expected\n" + "".join(f"{r['id']},{r['input']},{r['expected']}\n"
                                                                   for r in rows))
    for loader in (JsonlLoader("d.jsonl"), CsvLoader("d.csv")):
        examples = list(loader.load(_context(tmp_path)))
        assert examples[0].expected == examples[2].expected == "spam"
        assert examples[0].expected is examples[2].expected  # a million-example split holds one copy
        assert examples[3].expected == examples[4].expected == long.strip()
        assert examples[3].expected is not examples[4].expected
        assert examples[0].metadata["source"] is examples[1].metadata["source"]
