"""Clocks: the system's, or a manual one that tests move by hand."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Seconds since the epoch, as a float."""

    def now(self) -> float:
        """The current time."""
        ...


class SystemClock:
    """Real time, optionally running ``speed`` times faster from the moment the clock is made."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._start = time.time()

    def now(self) -> float:
        """``time.time()``, sped up by ``speed`` since the clock was made."""
        real = time.time()
        return real if self.speed == 1.0 else self._start + (real - self._start) * self.speed


class ManualClock:
    """A clock that moves only when told; fine-tuning jobs advance with it."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        """The current (manual) time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        with self._lock:
            self._now += seconds
