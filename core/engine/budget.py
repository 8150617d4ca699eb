"""``--max-cost``: what an invocation may pay for answers, and what it has paid so far."""

from __future__ import annotations

from dataclasses import dataclass

from ftplug.errors import FtplugError


class BudgetReached(FtplugError):
    """The run has spent its ``--max-cost``: nothing more is asked (what was asked is stored)."""


@dataclass
class Budget:
    """The USD an invocation may pay for answers (``limit``; ``None``: no limit) and has paid (``spent``).

    Answers from the response cache cost nothing; every paid answer is charged as it is taken, so each
    variant's requesters see what the earlier variants and their own answers have cost.
    """

    limit: float | None = None
    spent: float = 0.0

    @property
    def limited(self) -> bool:
        """Whether there is a limit at all (batch mode then submits one part at a time, to know its cost)."""
        return self.limit is not None

    def charge(self, usd: float) -> None:
        """Count ``usd`` paid for an answer."""
        self.spent += usd

    def exhausted(self) -> str | None:
        """Why nothing more may be asked — the limit is reached — or ``None``."""
        if self.limit is None or self.spent < self.limit:
            return None
        return f"spent ${self.spent:,.4f}, the --max-cost is ${self.limit:,.4f}"
