"""The cost gate's rules, one by one (the end-to-end check that nothing is uploaded is in
tests/plugins/test_finetune_lifecycle.py)."""

from __future__ import annotations

import re

import pytest

from ftplug.engine.cost_gate import CostGate
from ftplug.errors import FtplugError


def _approve(gate: CostGate, cost: float | None, simulated: bool = False) -> list[str]:
    lines: list[str] = []
    gate.approve(cost, "fine-tuning m: 10 examples", simulated=simulated, log=lines.append)
    return lines


def test_the_simulator_is_never_gated_and_says_nothing_is_charged() -> None:
    gate = CostGate(max_training_cost=0.0)
    assert _approve(gate, 50.0, simulated=True) == [
        "fine-tuning m: 10 examples; estimated cost $50.00 if it were real — simulated, nothing is charged"]


@pytest.mark.parametrize(("gate", "cost", "message"), [
    (CostGate(max_training_cost=1.0, yes=True), 1.01, "is over --max-training-cost $1.00"),
    (CostGate(max_training_cost=1.0, yes=True), None, "unknown (no training price in the catalogue) is over"),
    (CostGate(confirm_above_usd=0.5), 0.51, "needs confirmation (over $0.50): re-run with --yes"),
    (CostGate(), None, "needs confirmation"),
    (CostGate(confirm=lambda question: False), 2.0, "fine-tuning declined"),
])
def test_a_live_cost_is_refused(gate: CostGate, cost: float | None, message: str) -> None:
    with pytest.raises(FtplugError, match=re.escape(message)):
        _approve(gate, cost)


def test_a_cheap_or_accepted_cost_passes_and_only_an_expensive_one_asks() -> None:
    asked: list[str] = []
    gate = CostGate(confirm_above_usd=1.0, confirm=lambda question: asked.append(question) or True)
    assert _approve(gate, 1.0) == ["fine-tuning m: 10 examples; estimated training cost $1.00"]
    assert asked == []
    _approve(gate, 1.5)
    assert asked == ["Start fine-tuning at an estimated $1.50?"]
    _approve(CostGate(yes=True), None)  # --yes accepts even an unknown cost
