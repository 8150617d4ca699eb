"""The cost gate: before live training starts, its estimated cost is refused, confirmed or accepted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ftplug.errors import FtplugError


@dataclass(frozen=True)
class CostGate:
    """Refuse training estimated above ``max_training_cost`` USD; above ``confirm_above_usd`` (or when the
    cost is unknown) ask ``confirm`` unless ``yes``; with no way to ask, refuse and say how to proceed.
    Nothing is asked or refused on the simulator, where nothing is charged."""

    max_training_cost: float | None = None
    confirm_above_usd: float = 1.0
    confirm: Callable[[str], bool] | None = None
    yes: bool = False

    def approve(self, cost: float | None, what: str, *, simulated: bool, log: Callable[[str], None]) -> None:
        """Let training described by ``what`` at an estimated ``cost`` (USD, ``None`` if unknown) start, or
        raise :class:`ftplug.errors.FtplugError` saying why it may not."""
        shown = f"${cost:,.2f}" if cost is not None else "unknown (no training price in the catalogue)"
        if simulated:
            log(f"{what}; estimated cost {shown} if it were real — simulated, nothing is charged")
            return
        log(f"{what}; estimated training cost {shown}")
        limit = self.max_training_cost
        if limit is not None and (cost is None or cost > limit):
            raise FtplugError(f"estimated training cost {shown} is over --max-training-cost ${limit:,.2f}; "
                              "nothing was started")
        if self.yes or (cost is not None and cost <= self.confirm_above_usd):
            return
        if self.confirm is None:
            raise FtplugError(f"estimated training cost {shown} needs confirmation (over "
                              f"${self.confirm_above_usd:,.2f}): re-run with --yes to accept it")
        if not self.confirm(f"Start fine-tuning at an estimated {shown}?"):
            raise FtplugError("fine-tuning declined; nothing was started")
