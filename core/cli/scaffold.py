"""``ftplug plugins new``: an installable plugin package with one working example component and its tests.

The package is named as given; its module is ``ftplug_<name>``; the ``ftplug`` entry point in setup.cfg
points at ``ftplug_<name>.plugin``. The tests use ftplug's pytest plugin and the real ``fortunes`` dataset
shipped with ftplug, and run offline on the simulator.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from ftplug.errors import InputError

COMPONENTS = {
    "scorer": ('''class StartsWithExpected:
    """1.0 when the answer starts with the expected text, 0.0 otherwise."""

    def __init__(self, case_sensitive: Annotated[bool, Help("compare letters' case too")] = False) -> None:
        self.case_sensitive = case_sensitive

    def score(self, output: str, example: Example) -> float:
        """Compare the answer with the example's expected text."""
        answer, expected = output.strip(), example.expected.strip()
        if not self.case_sensitive:
            answer, expected = answer.lower(), expected.lower()
        return float(answer.startswith(expected))


@hookimpl
def ftplug_register_scorers(register: Any) -> None:
    """Contribute the scorer."""
    register("{component}", StartsWithExpected, description="the answer starts with the expected text")
''', '''def test_the_scorer_compares_the_start_of_the_answer() -> None:
    scorer = StartsWithExpected()
    example = Example("1", "Is water wet?", "Yes")
    assert scorer.score("yes, it is", example) == 1.0
    assert scorer.score("No", example) == 0.0
    assert StartsWithExpected(case_sensitive=True).score("yes", example) == 0.0


def test_an_experiment_uses_the_scorer(ftplug_plugin, ftplug_run, ftplug_store) -> None:
    ftplug_plugin(plugin)
    experiment = fortunes_experiment()
    experiment["scoring"] = {"scorers": ["exact", "{component}"]}
    [summary] = ftplug_run(experiment, limit=5)
    assert summary.status == "succeeded" and summary.predictions == 5
    scored = ftplug_store.db.execute("SELECT count(value) FROM scores WHERE scorer = '{component}'").fetchone()
    assert scored == (5,)
''', "StartsWithExpected"),
    "loader": ('''class TsvLoader:
    """Examples from a tab-separated file with a header row."""

    def __init__(self, path: Annotated[str, Help("the file, relative to the experiment file")],
                 input: Annotated[str, Help("column holding the input")] = "input",
                 expected: Annotated[str, Help("column holding the expected answer")] = "expected") -> None:
        self.path, self.input, self.expected = path, input, expected

    def load(self, context: LoadContext) -> Iterator[Example]:
        """One example per row; the line number is its id."""
        with (context.base_dir / self.path).open(encoding="utf-8", newline="") as handle:
            for line, row in enumerate(csv.DictReader(handle, delimiter="\\t"), start=2):
                yield Example(str(line), row[self.input], row[self.expected], {{"line": line}})


@hookimpl
def ftplug_register_loaders(register: Any) -> None:
    """Contribute the loader."""
    register("{component}", TsvLoader, description="tab-separated file with a header")
''', '''def _tsv_from_fortunes(folder: Path) -> Path:
    """The fortunes dataset shipped with ftplug, rewritten as TSV."""
    import csv

    source = files("ftplug.data").joinpath("examples", "fortunes.csv")
    target = folder / "fortunes.tsv"
    with source.open(encoding="utf-8", newline="") as handle, target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter="\\t")
        writer.writerow(["text", "topic"])
        for row in csv.DictReader(handle):
            writer.writerow([" ".join(row["text"].split()), row["topic"]])
    return target


def test_an_experiment_loads_its_data_with_the_loader(ftplug_plugin, ftplug_run, tmp_path) -> None:
    ftplug_plugin(plugin)
    data = _tsv_from_fortunes(tmp_path)
    experiment = fortunes_experiment()
    experiment["data"] = {"loader": "{component}", "path": str(data), "input": "text", "expected": "topic"}
    [summary] = ftplug_run(experiment, limit=5)
    assert summary.status == "succeeded" and summary.predictions == 5
''', "TsvLoader"),
    "prompt-builder": ('''class Instruction:
    """A system instruction, then the input as the user's message: no examples."""

    def __init__(self, instruction: Annotated[str, Help("the system message")] = "Answer briefly.") -> None:
        self.instruction = instruction

    def prepare(self, pool: Sequence[Example], model: str, seed: int) -> None:
        """Nothing to prepare: this builder shows no examples."""

    def build(self, example: Example) -> list[dict[str, str]]:
        """The messages for one example."""
        return [{{"role": "system", "content": self.instruction}}, {{"role": "user", "content": example.input_text}}]

    def training_messages(self, example: Example) -> list[dict[str, str]]:
        """The example as a fine-tuning conversation."""
        return [*self.build(example), {{"role": "assistant", "content": example.expected}}]


@hookimpl
def ftplug_register_prompt_builders(register: Any) -> None:
    """Contribute the prompt builder."""
    register("{component}", Instruction, description="a system instruction and the input")
''', '''def test_the_builder_sends_the_instruction_and_the_input() -> None:
    messages = Instruction("Be terse.").build(Example("1", "Why?", "Because."))
    assert messages == [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Why?"}]


def test_a_variant_prompts_with_the_builder(ftplug_plugin, ftplug_run) -> None:
    ftplug_plugin(plugin)
    experiment = fortunes_experiment()
    experiment["variants"] = [{"name": "instructed", "prompt": {"builder": "{component}",
                                                                "instruction": "Name the topic in one word."}}]
    [summary] = ftplug_run(experiment, limit=5)
    assert summary.status == "succeeded" and summary.predictions == 5
''', "Instruction"),
    "trainer": ('''class Majority:
    """A local baseline: always answers the most frequent expected answer of the training split."""

    local = True  # it answers in ftplug's process: its results are real, never simulated

    def __init__(self, tie_break: Annotated[str, Help("how ties are broken",
                                                      choices=("first", "sorted"))] = "first") -> None:
        self.tie_break = tie_break

    def train(self, context: TrainingContext) -> TrainedModel:
        """Count the training answers; predict the commonest, locally (no API call)."""
        counts = Counter(example.expected for example in context.train)
        ranked = sorted(counts, key=lambda answer: (-counts[answer], answer)) if self.tie_break == "sorted" \\
            else [answer for answer, _ in counts.most_common()]
        answer = ranked[0] if ranked else ""
        context.log(f"majority answer {{answer!r}} ({{counts[answer]}} of {{len(context.train)}})")
        return TrainedModel(model="majority", predict=lambda example: answer,
                            details={{"majority_answer": answer}})


@hookimpl
def ftplug_register_trainers(register: Any) -> None:
    """Contribute the trainer."""
    register("{component}", Majority, description="the most frequent training answer, always")
''', '''def test_a_variant_trained_by_the_trainer_answers_locally(ftplug_plugin, ftplug_run, ftplug_store) -> None:
    ftplug_plugin(plugin)
    experiment = fortunes_experiment()
    experiment["variants"] = [{"name": "majority", "trainer": {"name": "{component}"},
                               "prompt": {"builder": "few-shot", "shots": 0}}]
    [summary] = ftplug_run(experiment, limit=5)
    assert summary.status == "succeeded" and summary.predictions == 5
    answers = ftplug_store.db.execute("SELECT DISTINCT output FROM predictions").fetchall()
    assert len(answers) == 1  # the same answer every time
''', "Majority"),
}

IMPORTS = {
    "scorer": "from typing import Annotated, Any\n\nfrom ftplug import Example, Help, hookimpl\n",
    "loader": "import csv\nfrom collections.abc import Iterator\nfrom typing import Annotated, Any\n\n"
              "from ftplug import Example, Help, LoadContext, hookimpl\n",
    "prompt-builder": "from collections.abc import Sequence\nfrom typing import Annotated, Any\n\n"
                      "from ftplug import Example, Help, hookimpl\n",
    "trainer": "from collections import Counter\nfrom typing import Annotated, Any\n\n"
               "from ftplug import Help, TrainedModel, TrainingContext, hookimpl\n",
}


def module_name(name: str) -> str:
    """The Python module a package called ``name`` gets: ``ftplug_`` + the name in snake case."""
    return "ftplug_" + re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def create_package(name: str, kind: str, directory: Path) -> Path:
    """Write the package into ``directory / name``; refuse a name that is not usable or a folder that exists.

    :raises InputError: for a bad name or an existing folder.
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", name):
        raise InputError(f"plugin name {name!r}: use letters, digits, '-', '_' or '.', starting with a letter")
    module = module_name(name)
    if keyword.iskeyword(module):
        raise InputError(f"plugin name {name!r} makes the module name {module!r}, a Python keyword")
    folder = directory / name
    if folder.exists():
        raise InputError(f"{folder} already exists: choose another name or --dir")
    component = re.sub(r"[^0-9a-z]+", "-", name.lower()).strip("-")
    code, tests, class_name = COMPONENTS[kind]
    (folder / module).mkdir(parents=True)
    (folder / "tests").mkdir()
    (folder / module / "__init__.py").write_text(f'"""{name}: an ftplug plugin."""\n', encoding="utf-8")
    (folder / module / "plugin.py").write_text(
        f'"""{name}: contributes the {kind} {component!r} to ftplug."""\n\nfrom __future__ import annotations\n\n'
        f"{IMPORTS[kind]}\n\n{code.format(component=component)}", encoding="utf-8")
    (folder / "tests" / f"test_{module}.py").write_text(_test_module(module, class_name, tests, component),
                                                         encoding="utf-8")
    (folder / "setup.cfg").write_text(SETUP_CFG.format(name=name, module=module, kind=kind), encoding="utf-8")
    (folder / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (folder / "README.md").write_text(README.format(name=name, module=module, kind=kind, component=component),
                                      encoding="utf-8")
    return folder


def _test_module(module: str, class_name: str, tests: str, component: str) -> str:
    header = f'''"""Tests of the plugin, offline, with ftplug's pytest fixtures (ftplug_plugin, ftplug_run, ...)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from ftplug.dataset import Example

from {module} import plugin
from {module}.plugin import {class_name}


def fortunes_experiment() -> dict[str, Any]:
    """A small experiment on the fortunes dataset shipped with ftplug: one zero-shot variant."""
    return {{
        "experiment": {{"name": "plugin-test", "seed": 1}},
        "data": {{"loader": "csv", "path": str(files("ftplug.data").joinpath("examples", "fortunes.csv")),
                 "input": "text", "expected": "topic", "id": "id"}},
        "split": {{"test": 20, "validation": 0}},
        "model": {{"base": "gpt-4o-mini-2024-07-18"}},
        "variants": [{{"name": "zero-shot", "prompt": {{"builder": "few-shot", "shots": 0,
                                                       "system": "Answer with the topic."}}}}],
        "scoring": {{"scorers": ["exact"]}},
    }}


'''
    used = {"Example": "Example(" in tests, "Path": "Path" in tests, class_name: class_name + "(" in tests}
    if not used[class_name]:
        header = header.replace(f"from {module}.plugin import {class_name}\n", "")
    if not used["Example"]:
        header = header.replace("from ftplug.dataset import Example\n\n", "")
    if not used["Path"]:
        header = header.replace("from pathlib import Path\n", "")
    return header + tests.replace("{component}", component)


SETUP_CFG = """[metadata]
name = {name}
version = 0.1.0
description = An ftplug plugin contributing a {kind}

[options]
packages = find:
python_requires = >=3.11
install_requires =
    ftplug

[options.packages.find]
exclude = tests

[options.entry_points]
ftplug =
    {name} = {module}.plugin
"""

PYPROJECT = """[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[tool.ruff]
line-length = 120
"""

README = """# {name}

An [ftplug](https://pypi.org/project/ftplug/) plugin contributing the {kind} `{component}`.

```bash
pip install -e .        # registers the plugin through the `ftplug` entry point
ftplug plugins info {component}
pytest                  # offline: ftplug's simulator and pytest fixtures
```

The component is in `{module}/plugin.py`; its tests, in `tests/`, use ftplug's pytest fixtures
(`ftplug_plugin`, `ftplug_run`, `ftplug_store`, `ftplug_simulator`, `ftplug_client`).
"""
