"""Every text flag and argument of the commands that read or write results, given hostile strings (empty,
blank, the current folder, the root, a NUL byte, a control sequence, a very long name, an apostrophe): each
ends in exit 0, 1 or 2 with at most one error line, never an internal error or a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import EXAMPLE, run_in_process

HOSTILE = ["", " ", ".", "/", "a\x00b", "\x1b]0;title\x07", "x" * 5000, "it's", "../../etc/passwd", "-"]

COMMANDS = [  # {} is where the hostile string goes; DB is the result file holding a run, TOML the experiment
    ["run", "TOML", "--dry-run", "--db", "{}"],
    ["run", "TOML", "--explain", "{}"],
    ["run", "TOML", "--dry-run", "--shard", "{}"],
    ["run", "{}", "--dry-run"],
    ["report", "--db", "{}"],
    ["report", "--db", "DB", "--experiment", "{}"],
    ["report", "--db", "DB", "--reference", "{}"],
    ["report", "--db", "DB", "--format", "csv", "--output", "{}"],
    ["sql", "{}", "--db", "DB"],
    ["export", "{}", "--db", "DB", "--format", "csv"],
    ["tokens", "{}"],
    ["data", "validate", "{}"],
    ["plugins", "info", "{}"],
]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("hostile-strings")
    toml = folder / "e.toml"
    toml.write_text(EXAMPLE.read_text().replace('path = "fortunes.csv"', f'path = "{EXAMPLE.parent / "fortunes.csv"}"'))
    done = run_in_process("run", str(toml), "--db", str(folder / "r.duckdb"), "--limit", "3", "--quiet", cwd=folder)
    assert done.exit_code == 0, done.stderr
    return folder, toml


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_a_hostile_string_ends_in_an_answer_or_one_error_line(command: list[str], stored: tuple[Path, Path]) -> None:
    folder, toml = stored
    for value in HOSTILE:
        args = [value if part == "{}" else str(toml) if part == "TOML" else str(folder / "r.duckdb")
                if part == "DB" else part for part in command]
        done = run_in_process(*args, cwd=folder)
        said = f"{args!r}: exit {done.exit_code}, {done.stderr[-300:]!r}"
        errors = [line for line in done.stderr.splitlines() if line.startswith("ftplug: error")]
        assert done.exit_code in (0, 1, 2) and "internal error" not in done.stderr, said
        assert "Traceback" not in done.stderr + done.stdout and len(errors) <= 1, said
