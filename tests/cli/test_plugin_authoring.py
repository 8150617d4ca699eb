"""Writing plugins: `ftplug plugins new` packages that install and pass their own tests, `plugins info`,
and the pytest fixtures of `ftplug.testing` (used here the way a plugin's own tests use them)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from ftplug import hookimpl
from ftplug.components import Kind
from ftplug.pluginhost.manager import get_plugins
from tests.helpers import ROOT, fortunes_experiment, run_cli


def _venv_seeing_this_one(folder: Path) -> Path:
    """A new virtual environment whose site-packages also sees this interpreter's (ftplug, pytest, pip)."""
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(folder)], check=True)  # type: ignore[attr-defined]
    python = folder / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "_ftplug_parent.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    return python


@pytest.mark.parametrize("kind", ["scorer", "loader", "prompt-builder", "trainer"])
def test_a_generated_plugin_installs_registers_and_passes_its_own_tests(tmp_path: Path, kind: str) -> None:
    created = run_cli("plugins", "new", f"acme-{kind}", "--kind", kind, "--dir", str(tmp_path))
    assert created.returncode == 0, created.stderr
    package = tmp_path / f"acme-{kind}"
    assert {p.name for p in package.iterdir()} >= {"setup.cfg", "pyproject.toml", "README.md", "tests",
                                                   f"ftplug_acme_{kind.replace('-', '_')}"}
    python = _venv_seeing_this_one(tmp_path / "venv")
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                                "-e", str(package)], capture_output=True, text=True, check=False)
    assert installed.returncode == 0, installed.stderr
    listed = subprocess.run([str(python), "-m", "ftplug.cli", "plugins", "list"], capture_output=True, text=True,
                            check=False)
    assert f"acme-{kind} 0.1.0 (entry point) active" in listed.stdout
    assert f"    {kind}: acme-{kind}" in listed.stdout
    tested = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(package)],
                            capture_output=True, text=True, check=False, cwd=package)
    assert tested.returncode == 0, tested.stdout[-3000:]
    assert " passed" in tested.stdout and "failed" not in tested.stdout


def test_new_refuses_a_bad_name_or_an_existing_folder(tmp_path: Path) -> None:
    bad = run_cli("plugins", "new", "9lives", "--dir", str(tmp_path))
    assert bad.returncode == 2 and "starting with a letter" in bad.stderr
    (tmp_path / "taken").mkdir()
    taken = run_cli("plugins", "new", "taken", "--dir", str(tmp_path))
    assert taken.returncode == 2 and "already exists" in taken.stderr


def test_info_shows_every_option_of_every_builtin_component() -> None:
    registry = get_plugins().registry
    for kind in Kind:
        for component in registry.by_kind(kind):
            shown = run_cli("plugins", "info", component.name)
            assert shown.returncode == 0, shown.stderr
            assert f"{kind.value} {component.name!r} (plugin {component.plugin})" in shown.stdout
            for option in component.options:
                assert f"    {option.name} (" in shown.stdout, (component.name, option.name)
            assert "  example:" in shown.stdout


def test_info_of_a_plugin_lists_its_components_and_an_unknown_name_is_refused() -> None:
    shown = run_cli("plugins", "info", "scorers_numeric")
    assert shown.returncode == 0
    assert "plugin scorers_numeric" in shown.stdout
    assert "scorer 'mae'" in shown.stdout and "scorer 'rmse'" in shown.stdout
    unknown = run_cli("plugins", "info", "nope")
    assert unknown.returncode == 2 and "no plugin or component 'nope'" in unknown.stderr


class Loud:
    """1.0 for an answer in capitals."""

    def score(self, output: str, example: object) -> float:
        return float(output.isupper())


class LoudPlugin:
    @hookimpl
    def ftplug_register_scorers(self, register) -> None:
        register("loud", Loud)


FORTUNES = ROOT / "data" / "examples" / "fortunes.csv"


def _experiment(scorers: list[str]) -> dict[str, object]:
    return {"experiment": {"name": "fixtures", "seed": 2},
            "data": {"loader": "csv", "path": str(FORTUNES), "input": "text", "expected": "topic", "id": "id"},
            "split": {"test": 10, "validation": 0}, "model": {"base": "gpt-4o-mini-2024-07-18"},
            "variants": [{"name": "zero-shot", "prompt": {"builder": "few-shot", "shots": 0}}],
            "scoring": {"scorers": scorers}}


def test_the_fixtures_register_a_plugin_for_one_test_and_run_an_experiment(ftplug_plugin, ftplug_run,
                                                                           ftplug_store, ftplug_client) -> None:
    name = ftplug_plugin(LoudPlugin(), "loud-plugin")
    assert get_plugins().registry.get(Kind.SCORER, "loud").plugin == name
    [summary] = ftplug_run(_experiment(["exact", "loud"]), limit=4)
    assert (summary.status, summary.predictions) == ("succeeded", 4)
    assert ftplug_store.db.execute("SELECT count(*) FROM scores WHERE scorer = 'loud'").fetchone() == (4,)
    assert "gpt-4o-mini-2024-07-18" in {model.id for model in ftplug_client.models.list()}


def test_a_fixture_registered_plugin_is_gone_after_its_test() -> None:
    from ftplug.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown scorer 'loud'"):
        get_plugins().registry.get(Kind.SCORER, "loud")
    assert "loud-plugin" not in get_plugins().infos


def test_the_cli_fixture_runs_a_command_in_process_with_no_key_and_its_own_plugins(ftplug_cli, tmp_path: Path,
                                                                                   monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-" + "x" * 40)  # the fixture hides it: the run stays on the simulator
    variant = '[[variants]]\nname = "zero-shot"\nprompt = { builder = "few-shot", shots = 0 }\n'
    (tmp_path / "e.toml").write_text(fortunes_experiment("cli-fixture", seed=1, test=6, validation=0) + variant)
    done = ftplug_cli("run", "e.toml", "--db", "r.duckdb", "--limit", "3")
    assert done.exit_code == 0, done.stderr
    assert "SIMULATED" in done.stdout + done.stderr and (tmp_path / "r.duckdb").exists()
    refused = ftplug_cli("run", "missing.toml")
    assert refused.exit_code == 2 and refused.stderr.startswith("ftplug: error: ") and "missing.toml" in refused.stderr
