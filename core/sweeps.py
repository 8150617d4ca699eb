"""Sweeps: a variant with a ``sweep`` table stands for one variant per combination of the listed values."""

from __future__ import annotations

import re
from typing import Any

DEFAULT_TRAINER = "none"
DEFAULT_PROMPT = {"builder": "few-shot", "shots": 0}
_NAME_SAFE = re.compile(r"[A-Za-z0-9._:+-]+")  # values that read well inside a variant's name
SWEEP_VARIANT_KEYS = ("train_size",)  # sweepable keys of the variant itself; other bare keys are prompt options


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
