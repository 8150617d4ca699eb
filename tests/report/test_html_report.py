"""The HTML report: one self-contained file whose every chart renders in headless Chromium without a console
message."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE, run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("html")
    db = folder / "r.duckdb"
    assert run_cli("run", str(EXAMPLE), "--db", str(db), "--limit", "30").returncode == 0
    result = run_cli("report", "--db", str(db), "--format", "html", "-o", str(folder / "report.html"))
    assert result.returncode == 0, result.stderr
    assert "(SIMULATED results)" in result.stdout
    return folder / "report.html"


def test_the_file_is_self_contained_and_labelled(report_file: Path) -> None:
    text = report_file.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=\"?https?:", text)  # nothing fetched from anywhere
    assert "Experiment fortunes-topic [SIMULATED]" in text and 'class="simulated"' in text
    charts = re.findall(r'data-chart="([^"]+)"', text)
    assert charts == ["metric:exact", "cost-vs-exact", "break-even", "loss:fine-tuned", "shots"]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's chromium)")
def test_every_chart_renders_in_headless_chromium_without_console_messages(report_file: Path) -> None:
    result = subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                             "--v=0", "--virtual-time-budget=10000", "--dump-dom", report_file.as_uri()],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    dom = result.stdout
    rendered = dom.split('data-chart="')[1:]
    assert len(rendered) == 5
    for chart in rendered:  # Plotly draws each chart as SVG once its script has run
        assert 'class="main-svg"' in chart.split('data-chart="')[0], chart[:80]
