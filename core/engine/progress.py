"""Progress of a variant's predictions: done/total, rate, ETA, cost so far and errors so far — one line
redrawn in place on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    """Counts predictions as they are stored and reports every ``interval`` seconds (and at the end)."""

    def __init__(self, label: str, total: int, *, stream: TextIO | None = None, interval: float = 5.0,
                 log: Callable[[str], None] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.total, self.interval, self.clock = label, total, interval, clock
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.log = log
        self.done = self.errors = 0
        self.cost = 0.0
        self.started = self.last = clock()

    def restart(self) -> None:
        """Count the rate from now: the predictions start (after a training that may take minutes)."""
        self.started = self.last = self.clock()

    def add(self, error: bool, cost: float | None) -> None:
        """One more prediction stored."""
        self.done += 1
        self.errors += error
        self.cost += cost or 0.0
        now = self.clock()
        if now - self.last >= (0.2 if self.tty else self.interval):
            self.last = now
            self._show(final=False)

    def line(self) -> str:
        """``few-shot-5: 120/600 (20%), 45.2/s, ETA 11 s, $0.0012, 0 errors``."""
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        remaining = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta = f"ETA {remaining:,.0f} s" if remaining != float("inf") else "ETA -"
        share = 100 * self.done / self.total if self.total else 100.0
        return (f"{self.label}: {self.done:,}/{self.total:,} ({share:.0f}%), {rate:,.1f}/s, {eta}, "
                f"${self.cost:,.4f}, {self.errors} errors")

    def finish(self) -> None:
        """End the in-place line on a terminal."""
        if self.tty and self.done:
            self._show(final=True)

    def _show(self, final: bool) -> None:
        if self.tty:
            self.stream.write("\r" + self.line() + ("\n" if final else ""))
            self.stream.flush()
        elif self.log is not None:
            self.log(self.line())
