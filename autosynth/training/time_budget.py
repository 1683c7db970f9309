"""A training time budget, so that configurations can be compared at equal cost.

The seconds each epoch took (wall clock, or this process's CPU time, which a shared machine's
other jobs inflate much less) are kept in the training history, so a resumed run counts what it
already spent.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


@dataclass
class TimeBudget:
    """``seconds`` None: no budget."""

    seconds: float | None = None
    clock: str = "wall"
    _spent_before: float = field(default=0.0, repr=False)
    _epoch_start: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if self.clock not in CLOCKS:
            raise ValueError(f"budget clock must be one of {', '.join(CLOCKS)}, got "
                             f"'{self.clock}'")
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError(f"the time budget must be positive, got {self.seconds} s")

    def now(self) -> float:
        return CLOCKS[self.clock]()

    def start_epoch(self, spent_before: float) -> None:
        self._spent_before, self._epoch_start = float(spent_before), self.now()

    def epoch_seconds(self) -> float:
        """Seconds of the clock since :meth:`start_epoch`."""
        return self.now() - self._epoch_start

    def over(self) -> bool:
        """True once the epoch running would take the run past the budget."""
        return self.seconds is not None and \
            self._spent_before + self.epoch_seconds() >= self.seconds

    def exhausted(self, spent: float) -> bool:
        return self.seconds is not None and spent >= self.seconds
