"""Early stopping on the validation loss, with state that a resumed run restores."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass
class EarlyStopping:
    """Stop when the validation loss has not improved for ``patience`` epochs (Keras semantics).

    ``min_delta`` is the improvement that counts; ``best_epoch`` is the epoch of the best model.
    """

    patience: int
    min_delta: float = 0.0
    best_loss: float = math.inf
    best_epoch: int = -1
    epochs_without_improvement: int = 0

    def update(self, epoch: int, val_loss: float) -> bool:
        """Record one epoch; True when this epoch is a new best."""
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch = float(val_loss), epoch
            self.epochs_without_improvement = 0
            return True
        self.epochs_without_improvement += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.epochs_without_improvement >= self.patience

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)
