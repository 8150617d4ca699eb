"""The bad-input corpus (tests/cli/bad_inputs/cases.toml): each input gives exit 2 and one line on stderr naming
its file and line or key and the problem — never a traceback — and leaves the result file untouched."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE, run_cli, run_in_process

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = tomllib.loads((CORPUS / "cases.toml").read_text(encoding="utf-8"))["case"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _args(case: dict, db: Path) -> list[str]:
    return list(case["args"]) + (["--db", str(db), "--quiet"] if case["args"][0] == "run" else [])


def _problems(case: dict, exit_code: int, stdout: str, stderr: str) -> list[str]:
    problems = []
    lines = stderr.strip().splitlines()
    if exit_code != 2:
        problems.append(f"exit {exit_code}")
    if "Traceback" in stderr + stdout:
        problems.append("a traceback")
    if len(lines) != 1 or not lines[0].startswith("ftplug: error: "):
        problems.append(f"stderr is not one 'ftplug: error:' line: {stderr!r}")
    problems += [f"no {text!r} in {stderr.strip()!r}" for text in case["expect"] if text not in stderr]
    return problems


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A result file holding a run, that no bad input may touch, and its digest."""
    db = tmp_path_factory.mktemp("stored") / "results.duckdb"
    done = run_in_process("run", str(EXAMPLE), "--db", str(db), "--limit", "3", "--quiet")
    assert done.exit_code == 0, done.stderr
    return db, _digest(db)


def test_the_corpus_is_large_and_its_names_distinct() -> None:
    assert len(CASES) >= 40 and len({c["name"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_every_input_is_refused_clearly_and_touches_nothing(case: dict, stored: tuple[Path, str]) -> None:
    db, before = stored
    done = run_in_process(*_args(case, db), cwd=CORPUS)
    assert not _problems(case, done.exit_code, done.stdout, done.stderr)
    assert _digest(db) == before


@pytest.mark.slow
def test_the_whole_corpus_is_refused_the_same_way_by_the_console_command(tmp_path: Path) -> None:
    # the in-process runs above, checked against real processes: the exit code, stderr, no traceback
    db = tmp_path / "results.duckdb"
    assert run_cli("run", str(EXAMPLE), "--db", str(db), "--limit", "3", "--quiet").returncode == 0
    before = _digest(db)

    def run(case: dict) -> tuple[dict, subprocess.CompletedProcess[str]]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
        return case, subprocess.run([sys.executable, "-m", "ftplug.cli", *_args(case, db)], cwd=CORPUS,
                                    env=environment, capture_output=True, text=True, timeout=120, check=False)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, CASES))
    failures = [f"{case['name']}: {'; '.join(problems)}" for case, done in results
                if (problems := _problems(case, done.returncode, done.stdout, done.stderr))]
    assert not failures, "\n".join(failures)
    assert _digest(db) == before


def test_a_byte_order_mark_is_not_an_error(tmp_path: Path) -> None:
    rows = (CORPUS / "quotes.csv").read_text(encoding="utf-8")
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + rows.encode())
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + b'{"id": "a", "input": "x", "expected": "y"}\n' * 1)
    from ftplug.components import LoadContext
    from ftplug.plugins.loaders.files import CsvLoader, JsonlLoader

    context = LoadContext(base_dir=tmp_path, config_path="e.toml")
    assert len(list(CsvLoader("bom.csv", input="text", expected="topic", id="id").load(context))) == 20
    assert [e.id for e in JsonlLoader("bom.jsonl").load(context)] == ["a"]


def _jsonl_experiment(folder: Path, data: str) -> Path:
    text = (CORPUS / "data_bad_line_middle_jsonl.toml").read_text(encoding="utf-8")
    path = folder / "e.toml"
    path.write_text(text.replace('path = "bad_line_middle.jsonl"', f'path = "{data}"'), encoding="utf-8")
    return path


def _rows(count: int) -> str:
    return "".join(json.dumps({"id": f"q{i}", "input": f"question {i}", "expected": "yes" if i % 2 else "no"}) + "\n"
                   for i in range(count))


def test_a_line_too_long_to_read_is_refused_before_it_is_read_whole(tmp_path: Path) -> None:
    from ftplug.plugins.loaders.files import MAX_LINE_CHARS

    with (tmp_path / "huge.jsonl").open("w", encoding="utf-8") as out:
        out.write(_rows(12))
        out.write('{"id": "huge", "input": "' + "x" * (MAX_LINE_CHARS + 10) + '", "expected": "yes"}\n')
    experiment = _jsonl_experiment(tmp_path, "huge.jsonl")
    done = run_in_process("run", str(experiment), "--db", str(tmp_path / "r.duckdb"), cwd=tmp_path)
    assert done.exit_code == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"ftplug: error: {tmp_path / 'huge.jsonl'}:13: the line is longer than {MAX_LINE_CHARS:,} characters "
        "(ftplug reads examples of at most 8,388,608): shorten it or leave it out"]
    assert not (tmp_path / "r.duckdb").exists()


def test_an_example_longer_than_any_context_window_is_refused_with_its_line(tmp_path: Path) -> None:
    from ftplug.catalogue.text_limits import MAX_TEXT_CHARS

    (tmp_path / "long.jsonl").write_text(_rows(5) + json.dumps({"id": "long", "input": "y" * MAX_TEXT_CHARS,
                                                                "expected": "no"}) + "\n" + _rows(3),
                                         encoding="utf-8")
    experiment = _jsonl_experiment(tmp_path, "long.jsonl")
    done = run_in_process("run", str(experiment), "--db", str(tmp_path / "r.duckdb"), cwd=tmp_path)
    assert done.exit_code == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"long.jsonl:6: example 'long' is {MAX_TEXT_CHARS + 2:,} characters long" in done.stderr
    assert not (tmp_path / "r.duckdb").exists()


def test_a_fine_tuning_file_or_a_text_too_long_to_count_is_named_not_tokenised(tmp_path: Path) -> None:
    from ftplug.catalogue.text_limits import MAX_TEXT_CHARS

    conversation = {"messages": [{"role": "user", "content": "z" * MAX_TEXT_CHARS},
                                 {"role": "assistant", "content": "ok"}]}
    (tmp_path / "train.jsonl").write_text(json.dumps(conversation) + "\n", encoding="utf-8")
    validated = run_in_process("data", "validate", str(tmp_path / "train.jsonl"), "--json")
    assert validated.exit_code == 2
    problems = json.loads(validated.stdout)["problems"]
    assert problems[0]["line"] == 1 and problems[0]["code"] == "too_long"
    (tmp_path / "book.txt").write_text("w" * (MAX_TEXT_CHARS + 1), encoding="utf-8")
    counted = run_in_process("tokens", str(tmp_path / "book.txt"))
    assert counted.exit_code == 2 and counted.stderr.startswith(f"ftplug: error: {tmp_path / 'book.txt'}: a text of ")
