"""The import rules between the layers of the tree (docs/architecture.md), read from every module's imports
with the AST, the folders mapped onto the package as setup.cfg's package_dir maps them."""

from __future__ import annotations

import ast
import configparser
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import ROOT


def _package_dirs() -> dict[str, Path]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    lines = [line.split("=") for line in config["options"]["package_dir"].strip().splitlines()]
    return {package.strip(): ROOT / folder.strip() for package, folder in lines}


PACKAGE_DIRS = _package_dirs()


@dataclass(frozen=True)
class Import:
    importer: str  # the importing module, dotted
    imported: str  # the imported module (or the package a name was imported from)
    where: str  # file:line
    lazy: bool  # inside a function: imported when called, not when the importer is


def _module_name(path: Path) -> str:
    """The dotted name of ``path``, by the deepest package folder holding it."""
    package, folder = max(((p, f) for p, f in PACKAGE_DIRS.items() if path.is_relative_to(f)),
                          key=lambda item: len(item[1].parts))
    parts = list(path.relative_to(folder).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def _submodule_exists(dotted: str) -> bool:
    for package, folder in sorted(PACKAGE_DIRS.items(), key=lambda item: -len(item[0])):
        if dotted == package or dotted.startswith(package + "."):
            rest = dotted[len(package):].lstrip(".").split(".") if dotted != package else []
            target = folder.joinpath(*rest)
            return target.with_suffix(".py").is_file() or (target / "__init__.py").is_file()
    return False


def _imports(path: Path) -> Iterator[Import]:
    importer = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    lazy_lines = {n.lineno for f in functions for n in ast.walk(f) if isinstance(n, ast.Import | ast.ImportFrom)}
    for node in ast.walk(tree):  # imports under TYPE_CHECKING count too: a type is a dependency
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        lazy = node.lineno in lazy_lines
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" if _submodule_exists(f"{node.module}.{alias.name}")
                     else node.module for alias in node.names]
        else:
            names = []
        for name in names:
            if name == "ftplug" or name.startswith("ftplug."):
                yield Import(importer, name, where, lazy)


ALL = [found for folder in PACKAGE_DIRS.values() if folder.name != "data"
       for path in sorted(folder.rglob("*.py")) for found in _imports(path)]


def _in(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _breaks(rule: str, allowed: Callable[[Import], bool]) -> list[str]:
    return [f"{rule}: {i.where} {i.importer} imports {i.imported}" for i in ALL if not allowed(i)]


def test_the_scan_sees_the_whole_tree() -> None:
    importers = {i.importer for i in ALL}
    assert {"ftplug.cli", "ftplug.engine.runner", "ftplug.report.analysis", "ftplug.simulator.http.server",
            "ftplug.plugins.few_shot.builder"} <= importers
    assert len(ALL) > 400


def test_engine_and_report_never_import_each_other() -> None:
    assert not _breaks("engine ↛ report", lambda i: not (_in(i.importer, "ftplug.engine")
                                                          and _in(i.imported, "ftplug.report")))
    assert not _breaks("report ↛ engine", lambda i: not (_in(i.importer, "ftplug.report")
                                                          and _in(i.imported, "ftplug.engine")))


def test_the_core_never_imports_the_built_in_plugins() -> None:
    # the command line is the composition root: it may wire anything together
    assert not _breaks("core ↛ plugins", lambda i: _in(i.importer, "ftplug.plugins", "ftplug.cli")
                       or not _in(i.imported, "ftplug.plugins"))


def test_the_simulator_imports_only_the_catalogue() -> None:
    assert not _breaks("simulator → catalogue only", lambda i: not _in(i.importer, "ftplug.simulator")
                       or _in(i.imported, "ftplug.simulator", "ftplug.catalogue", "ftplug.errors"))


def test_the_catalogue_stands_alone() -> None:
    # what the simulator needs, so it may need nothing else
    assert not _breaks("catalogue → errors only", lambda i: not _in(i.importer, "ftplug.catalogue")
                       or _in(i.imported, "ftplug.catalogue", "ftplug.errors"))


def test_only_the_endpoint_lazily_testing_and_the_serve_command_import_the_simulator() -> None:
    def allowed(i: Import) -> bool:
        if not _in(i.imported, "ftplug.simulator") or _in(i.importer, "ftplug.simulator", "ftplug.cli"):
            return True
        if i.importer in ("ftplug.engine.endpoint", "ftplug.plugins.commands.simulator"):
            return i.lazy
        return i.importer == "ftplug.testing"

    assert not _breaks("simulator imported", allowed)


def test_the_package_names_what_a_plugin_needs() -> None:
    import ftplug
    from ftplug.components import Option, Score, TrainedModel
    from ftplug.dataset import Example
    from ftplug.errors import DataError

    assert (ftplug.Option, ftplug.Score, ftplug.TrainedModel, ftplug.Example, ftplug.DataError) == (
        Option, Score, TrainedModel, Example, DataError)
    assert all(getattr(ftplug, name) is not None for name in ftplug.__all__)
    assert set(ftplug.__all__) == set(ftplug._PUBLIC) | {"__version__"}


def test_setup_cfg_lists_every_package_folder() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    listed = set(config["options"]["packages"].split())
    found = {_module_name(init) for package, folder in PACKAGE_DIRS.items() if package != "ftplug.data"
             for init in folder.rglob("__init__.py")}
    assert found <= listed, f"missing from setup.cfg [options] packages: {sorted(found - listed)}"
