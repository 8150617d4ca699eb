"""The code base type-checks clean under mypy (configuration in setup.cfg's [mypy] sections).

core/, plugins/ and simulator/ form the package ``ftplug`` only as setup.cfg's ``package_dir`` maps them, which
mypy cannot see from the project root (the editable install is an import hook): plain ``mypy`` there cannot
resolve ``ftplug.*`` imports. This test is the check: it builds the package as a tree of symlinks mirroring
``package_dir`` and runs ``mypy -p ftplug`` on it, so every import of ftplug resolves to the project's own code.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT


def package_dirs() -> dict[str, Path]:
    """setup.cfg's ``package_dir``: each package name and the folder it is."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    mapping = {}
    for line in config["options"]["package_dir"].strip().splitlines():
        name, _, folder = line.partition("=")
        mapping[name.strip()] = ROOT / folder.strip()
    return mapping


def package_tree(where: Path) -> Path:
    """The package as installed, under ``where``: ``ftplug/`` holds a symlink to each entry of the top package's
    folder, and each subpackage mapped to a folder of its own is a symlink to that folder."""
    mapping = package_dirs()
    top = min(mapping, key=len)
    package = where / top
    package.mkdir()
    for entry in sorted(mapping[top].iterdir()):
        if entry.name not in ("__pycache__", ".mypy_cache"):
            (package / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    for name, folder in mapping.items():
        if name != top:
            link = where.joinpath(*name.split("."))
            assert not link.exists(), f"{name}: {link} already exists (mapped twice?)"
            link.symlink_to(folder, target_is_directory=True)
    return package


@pytest.mark.slow
def test_mypy_is_clean(tmp_path: Path) -> None:
    package = package_tree(tmp_path)
    environment = {**os.environ, "MYPYPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "setup.cfg"),
                             "--cache-dir", str(tmp_path / ".mypy_cache"), "-p", package.name],
                            cwd=tmp_path, env=environment, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
