"""The code base stays ruff clean (configuration in ruff.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT


def test_ruff_is_clean() -> None:
    beside_python = Path(sys.executable).parent / "ruff"  # installed by the 'test' extra
    ruff = str(beside_python) if beside_python.exists() else shutil.which("ruff")
    assert ruff, "ruff is missing: install the 'test' extra"
    result = subprocess.run([ruff, "check", "--quiet", str(ROOT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("argv", [["--help"], ["plugins", "list"], ["plugins", "info", "few-shot"],
                                  ["run", "--help"]])
def test_help_and_plugin_listing_do_not_import_heavy_dependencies(argv: list[str]) -> None:
    code = ("import atexit, sys; from ftplug.cli import main\n"  # main ends the process: look at its exit
            "atexit.register(lambda: print(sorted(m for m in ('openai', 'duckdb', 'tiktoken', 'httpx2', 'numpy') "
            f"if m in sys.modules)))\nmain({argv!r})")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
