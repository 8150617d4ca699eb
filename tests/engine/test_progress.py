"""Progress lines: counts, rate, ETA, cost and errors; in place on a terminal; --quiet."""

from __future__ import annotations

import io

from ftplug.engine.progress import Progress
from tests.helpers import EXAMPLE, run_cli


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_periodic_lines_when_not_a_terminal() -> None:
    clock, lines = Clock(), []
    progress = Progress("few-shot-5", 100, stream=io.StringIO(), interval=5.0, log=lines.append, clock=clock)
    for i in range(40):
        clock.now += 0.25  # 4 per second
        progress.add(error=i == 3, cost=0.001)
    assert lines == ["few-shot-5: 20/100 (20%), 4.0/s, ETA 20 s, $0.0200, 1 errors",
                     "few-shot-5: 40/100 (40%), 4.0/s, ETA 15 s, $0.0400, 1 errors"]


def test_one_line_redrawn_on_a_terminal() -> None:
    clock, terminal = Clock(), Terminal()
    progress = Progress("zero-shot", 10, stream=terminal, clock=clock)
    for _ in range(10):
        clock.now += 0.5
        progress.add(error=False, cost=None)
    progress.finish()
    text = terminal.getvalue()
    assert text.count("\r") == 11 and text.endswith("zero-shot: 10/10 (100%), 2.0/s, ETA 0 s, $0.0000, 0 errors\n")


def test_quiet_keeps_only_the_simulated_notice_warnings_and_the_report(tmp_path) -> None:
    result = run_cli("run", str(EXAMPLE), "--db", str(tmp_path / "r.duckdb"), "--limit", "5", "--quiet")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "ftplug: using the offline simulator: results are SIMULATED, not a real model's."
    assert all(": warning: " in line for line in lines[1:])  # warnings (fine-tuning dates) still show
    assert "Experiment fortunes-topic [SIMULATED]" in result.stdout
