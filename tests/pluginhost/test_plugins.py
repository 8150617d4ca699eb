"""Plugin loading, registration and isolation."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ftplug import hookimpl
from ftplug.components import Kind, Option
from ftplug.pluginhost.manager import BUILTIN_PLUGINS, Plugins
from ftplug.pluginhost.registry import DuplicateComponentError
from tests.helpers import fresh_plugins, run_cli


class Upper:
    def score(self, output: str, example: object) -> float:
        return float(output.isupper())


class ScorerPlugin:
    @hookimpl
    def ftplug_register_scorers(self, register) -> None:
        register("upper", Upper, options=[Option("strict", bool, False, "unused")])


SCORERS = ("accuracy", "consistency", "directional", "disclaimers", "exact", "f1", "format", "mae", "mase",
           "normalized", "refusals", "rmse", "smape", "unparsed")


def test_every_builtin_contributes_and_is_active() -> None:
    plugins = fresh_plugins()
    assert [info.source for info in plugins.infos.values()] == ["built-in"] * len(BUILTIN_PLUGINS)
    assert all(info.status == "active" for info in plugins.infos.values())
    names = {kind: [c.name for c in plugins.registry.by_kind(kind)] for kind in Kind}
    assert names == {Kind.LOADER: ["csv", "jsonl", "timeseries"], Kind.PROMPT_BUILDER: ["few-shot"],
                     Kind.TRAINER: sorted(["none", "openai", "local-lora", "persistence", "drift", "moving-average",
                                           "seasonal-naive", "majority", "linear-ar"]),
                     Kind.SCORER: sorted(SCORERS)}
    assert plugins.registry.get(Kind.TRAINER, "openai").plugin == "openai_finetune"


def test_a_third_party_object_registers_like_a_builtin() -> None:
    plugins = Plugins()
    plugins.load_builtins()
    plugins.register_object("shout", ScorerPlugin())
    plugins.collect_components()
    component = plugins.registry.get(Kind.SCORER, "upper")
    assert component.plugin == "shout" and component.option("strict").default is False
    assert component.factory().score("YES", None) == 1.0
    assert plugins.infos["shout"].hooks == ["ftplug_register_scorers"]


def test_a_plugin_that_fails_to_register_is_skipped_and_reported() -> None:
    class Broken:
        @hookimpl
        def ftplug_register_scorers(self, register) -> None:
            register("half", Upper)
            raise RuntimeError("boom")

    warnings: list[str] = []
    plugins = Plugins(strict=False, warn=warnings.append)
    plugins.load_builtins()
    plugins.register_object("broken", Broken())
    plugins.collect_components()
    assert plugins.infos["broken"].status == "failed"
    assert plugins.infos["broken"].error == "RuntimeError: boom"
    assert warnings == ["plugin 'broken' failed to register and was skipped: RuntimeError: boom"]
    assert "half" not in [c.name for c in plugins.registry.by_kind(Kind.SCORER)]
    assert [c.name for c in plugins.registry.by_kind(Kind.SCORER)] == sorted(SCORERS)


def test_a_misspelt_hook_fails_the_plugin() -> None:
    class Typo:
        @hookimpl
        def ftplug_register_scorer(self, register) -> None:  # missing "s"
            pass

    plugins = Plugins(strict=False, warn=lambda _: None)
    plugins.register_object("typo", Typo())
    assert plugins.infos["typo"].status == "failed"
    assert "ftplug_register_scorer is not an ftplug hook" in plugins.infos["typo"].error


def test_duplicate_component_names_are_refused() -> None:
    class Clash:
        @hookimpl
        def ftplug_register_scorers(self, register) -> None:
            register("exact", Upper)

    plugins = Plugins(strict=True)
    plugins.load_builtins()
    plugins.register_object("clash", Clash())
    with pytest.raises(DuplicateComponentError, match="scorer 'exact' from plugin 'clash' clashes"):
        plugins.collect_components()


def _install_entry_point(site: Path, dist: str, name: str, module: str, source: str) -> None:
    """A real installed distribution (a .dist-info folder) declaring an ``ftplug`` entry point."""
    (site / f"{module}.py").write_text(source)
    info = site / f"{dist}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[ftplug]\n{name} = {module}\n")


GOOD_PLUGIN = '''
from ftplug import hookimpl

class Shout:
    def score(self, output, example):
        return float(output.isupper())

@hookimpl
def ftplug_register_scorers(register):
    register("shout", Shout)
'''


def test_entry_point_plugins_load_and_a_broken_one_is_isolated(tmp_path: Path, monkeypatch) -> None:
    _install_entry_point(tmp_path, "ftplug_good", "good", "ftplug_good_plugin", GOOD_PLUGIN)
    _install_entry_point(tmp_path, "ftplug_bad", "bad", "ftplug_bad_plugin", "raise ImportError('no numpy here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    warnings: list[str] = []
    plugins = Plugins(strict=False, warn=warnings.append)
    plugins.load_builtins()
    plugins.load_entry_points()
    plugins.collect_components()
    good, bad = plugins.infos["good"], plugins.infos["bad"]
    assert (good.source, good.version, good.status) == ("entry point", "1.2.3", "active")
    assert plugins.registry.get(Kind.SCORER, "shout").plugin == "good"
    assert (bad.status, bad.error) == ("failed", "ImportError: no numpy here")
    assert warnings == ["plugin 'bad' failed to load and was skipped: ImportError: no numpy here"]
    for module in ("ftplug_good_plugin", "ftplug_bad_plugin"):
        sys.modules.pop(module, None)


def test_strict_mode_makes_a_broken_plugin_fatal(tmp_path: Path, monkeypatch) -> None:
    _install_entry_point(tmp_path, "ftplug_bad2", "bad2", "ftplug_bad2_plugin", "raise ImportError('nope')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = Plugins(strict=True)
    with pytest.raises(ImportError, match="nope"):
        plugins.load_entry_points()
    sys.modules.pop("ftplug_bad2_plugin", None)


def test_cli_lists_plugins_and_survives_a_broken_one(tmp_path: Path) -> None:
    _install_entry_point(tmp_path, "ftplug_bad3", "bad3", "ftplug_bad3_plugin", "1 / 0\n")
    _install_entry_point(tmp_path, "ftplug_good3", "good3", "ftplug_good3_plugin", GOOD_PLUGIN)
    result = run_cli("plugins", "list", "--json", env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    entries = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert entries["bad3"]["status"] == "failed" and "ZeroDivisionError" in entries["bad3"]["error"]
    assert entries["good3"]["components"] == {"scorer": ["shout"]}
    assert entries["loaders"]["components"] == {"loader": ["csv", "jsonl"]}
    assert entries["openai_finetune"]["components"] == {"trainer": ["openai"]}
    assert "plugin 'bad3' failed to load and was skipped: ZeroDivisionError" in result.stderr
    strict = run_cli("plugins", "list", env={"PYTHONPATH": str(tmp_path), "FTPLUG_STRICT_PLUGINS": "1"})
    assert strict.returncode == 1 and "ZeroDivisionError" in strict.stderr
    assert "Traceback" not in strict.stderr
