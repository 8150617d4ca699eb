"""Sweeps: a variant with a ``sweep`` table stands for one variant per combination of the listed values; a
variant with ``draws = D`` for D variants that differ only in the seed their few-shot examples are selected by."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DEFAULT_TRAINER = "none"
DEFAULT_PROMPT = {"builder": "few-shot", "shots": 0}
_NAME_SAFE = re.compile(r"[A-Za-z0-9._:+-]+")  # values that read well inside a variant's name
SWEEP_VARIANT_KEYS = ("train_size",)  # sweepable keys of the variant itself; other bare keys are prompt options
MAX_DRAWS = 50
# the few-shot selections a seed changes (see ftplug.plugins.few_shot.selection)
SEEDED_SELECTIONS = ("random", "balanced")


def _sweep_label(option: str, value: Any, number: int) -> str:
    """How one swept value shows in a variant's name: ``shots=5``; long or structured values by position."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if value == "":
        return f"{option}=none"
    if isinstance(value, str | int | float) and len(text) <= 24 and _NAME_SAFE.fullmatch(text):
        return f"{option}={text}"
    return f"{option}#{number}"


def expand_sweeps(reader: Any, raw_variants: list[Any]) -> list[Any]:
    """Replace each variant with a ``sweep`` table by one variant per combination of its values.

    Keys are ``prompt.OPTION``, ``trainer.OPTION``, ``train_size``, or a bare prompt option (``shots``,
    ``system``, …). ``sweep = { shots = [0, 5, "max"] }`` on variant ``fs`` gives ``fs-shots=0``,
    ``fs-shots=5`` and ``fs-shots=max``; a value too long or structured for a name is numbered
    (``fs-system#2``); several keys give every combination, named by all of them.
    """
    expanded: list[Any] = []
    for index, raw in enumerate(raw_variants, start=1):
        if not isinstance(raw, dict) or "sweep" not in raw:
            expanded.append(raw)
            continue
        where = f"[[variants]] {raw.get('name', f'#{index}')!r} sweep"
        sweep = raw["sweep"]
        if not isinstance(sweep, dict) or not sweep:
            raise reader.fail(where, 'must be a table such as { shots = [0, 5, "max"] }')
        combinations: list[list[tuple[str, Any, int]]] = [[]]
        for key, values in sweep.items():
            part, _, option = key.rpartition(".")
            if (part and part not in ("prompt", "trainer")) or not option:
                raise reader.fail(f"{where} {key}", "keys are prompt.OPTION, trainer.OPTION, train_size or a prompt "
                                                    "option such as shots")
            if not isinstance(values, list) or not values:
                raise reader.fail(f"{where} {key}", "must be a non-empty list of values")
            combinations = [[*combo, (key, value, number)] for combo in combinations
                            for number, value in enumerate(values, start=1)]
        base = {k: v for k, v in raw.items() if k != "sweep"}
        for combo in combinations:
            labels = [_sweep_label(key.rpartition(".")[2], value, number) for key, value, number in combo]
            variant = {**base, "name": "-".join([str(base.get("name", "sweep")), *labels])}
            for key, value, _ in combo:
                part, _, option = key.rpartition(".")
                if not part and option in SWEEP_VARIANT_KEYS:
                    variant[option] = value
                    continue
                part = part or "prompt"
                default = DEFAULT_PROMPT if part == "prompt" else {"name": DEFAULT_TRAINER}
                table = variant.get(part, default)
                table = {("builder" if part == "prompt" else "name"): table} if isinstance(table, str) else table
                variant[part] = {**table, option: value}
            expanded.append(variant)
    return expanded


@dataclass(frozen=True)
class ShotDraw:
    """One of the ``of`` draws of variant ``group``: its few-shot examples are selected with seed ``seed + number
    − 1`` (``seed`` being the experiment's), so draw 1 shows what the variant without ``draws`` would."""

    group: str
    number: int
    of: int

    def seed(self, seed: int) -> int:
        """The selection seed of this draw in an experiment seeded with ``seed``."""
        return seed + self.number - 1

    def details(self, seed: int) -> dict[str, Any]:
        """What a run records of its draw (``runs.details.draw``)."""
        return {"group": self.group, "number": self.number, "of": self.of, "seed": self.seed(seed)}


def expand_draws(reader: Any, raw_variants: list[Any]) -> list[Any]:
    """Replace each variant with ``draws = D`` by D variants ``NAME-draw=1`` … ``NAME-draw=D``, whose ``draws``
    is then their :class:`ShotDraw`; ``D`` must be a whole number from 2 to :data:`MAX_DRAWS`. (Whether the
    variant's prompt has shots to draw is checked once its options are known: :func:`check_draws`.)"""
    expanded: list[Any] = []
    for index, raw in enumerate(raw_variants, start=1):
        if not isinstance(raw, dict) or "draws" not in raw:
            expanded.append(raw)
            continue
        name = raw.get("name", f"#{index}")
        count = raw["draws"]
        if isinstance(count, bool) or not isinstance(count, int) or not 2 <= count <= MAX_DRAWS:
            raise reader.fail(f"[[variants]] {name!r} draws", f"must be a whole number of shot draws from 2 to "
                                                              f"{MAX_DRAWS}, got {count!r}")
        expanded += [{**raw, "name": f"{name}-draw={number}", "draws": ShotDraw(str(name), number, count)}
                     for number in range(1, count + 1)]
    return expanded


def check_draws(reader: Any, draw: ShotDraw, prompt_options: dict[str, Any]) -> None:
    """Refuse ``draws`` on a prompt whose shots no seed changes: no shots, or a selection that is not seeded."""
    where = f"[[variants]] {draw.group!r} draws"
    shots = prompt_options.get("shots", 0)
    if shots != "max" and (isinstance(shots, bool) or not isinstance(shots, int) or shots <= 0):
        raise reader.fail(where, f"draws select different few-shot examples, but this prompt has shots = {shots!r}: "
                                 "give it shots > 0 (or \"max\"), or remove draws")
    select = prompt_options.get("select", "random")
    if select not in SEEDED_SELECTIONS:
        seeded = " or ".join(f'"{name}"' for name in SEEDED_SELECTIONS)
        raise reader.fail(where, f'select = "{select}" picks the same shots whatever the seed, so every draw would '
                                 f"be the same prompt: use select = {seeded}")
