"""The bad-input corpus (tests/cli/bad_inputs/cases.toml): each input gives exit 2 and one line on stderr naming
its file and line or key and the problem — never a traceback — and leaves the result file untouched."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE, run_cli

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = tomllib.loads((CORPUS / "cases.toml").read_text(encoding="utf-8"))["case"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(case: dict, db: Path) -> tuple[dict, subprocess.CompletedProcess[str]]:
    args = list(case["args"]) + (["--db", str(db), "--quiet"] if case["args"][0] == "run" else [])
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    done = subprocess.run([sys.executable, "-m", "ftplug.cli", *args], cwd=CORPUS, env=environment,
                          capture_output=True, text=True, timeout=120, check=False)
    return case, done


def _problems(case: dict, done: subprocess.CompletedProcess[str]) -> list[str]:
    problems = []
    lines = done.stderr.strip().splitlines()
    if done.returncode != 2:
        problems.append(f"exit {done.returncode}")
    if "Traceback" in done.stderr + done.stdout:
        problems.append("a traceback")
    if len(lines) != 1 or not lines[0].startswith("ftplug: error: "):
        problems.append(f"stderr is not one 'ftplug: error:' line: {done.stderr!r}")
    problems += [f"no {text!r} in {done.stderr.strip()!r}" for text in case["expect"] if text not in done.stderr]
    return problems


@pytest.mark.slow
def test_the_corpus_is_large_and_every_input_is_refused_clearly(tmp_path: Path) -> None:
    assert len(CASES) >= 40 and len({c["name"] for c in CASES}) == len(CASES)
    db = tmp_path / "results.duckdb"
    stored = run_cli("run", str(EXAMPLE), "--db", str(db), "--limit", "3", "--quiet")  # results that must survive
    assert stored.returncode == 0, stored.stderr
    before = _digest(db)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda case: _run(case, db), CASES))
    failures = [f"{case['name']}: {'; '.join(problems)}" for case, done in results
                if (problems := _problems(case, done))]
    assert not failures, "\n".join(failures)
    assert _digest(db) == before  # nothing stored was touched


def test_a_byte_order_mark_is_not_an_error(tmp_path: Path) -> None:
    rows = (CORPUS / "quotes.csv").read_text(encoding="utf-8")
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + rows.encode())
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + b'{"id": "a", "input": "x", "expected": "y"}\n' * 1)
    from ftplug.components import LoadContext
    from ftplug.plugins.loaders.files import CsvLoader, JsonlLoader

    context = LoadContext(base_dir=tmp_path, config_path="e.toml")
    assert len(list(CsvLoader("bom.csv", input="text", expected="topic", id="id").load(context))) == 20
    assert [e.id for e in JsonlLoader("bom.jsonl").load(context)] == ["a"]
