"""Per-epoch training history, its text log and the learning-curve figure (the paper's Fig. 3)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from autosynth.utils.files import atomic_path

COLUMNS = ("train_loss", "val_loss", "val_psnr", "learning_rate", "epoch_seconds",
           "budget_seconds")


@dataclass
class TrainingHistory:
    """One list per quantity, one entry per finished epoch."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_psnr: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    budget_seconds: list[float] = field(default_factory=list)  # on the --time-budget clock

    @property
    def epochs_done(self) -> int:
        return len(self.train_loss)

    def append(self, **values: float) -> None:
        for name in COLUMNS:
            getattr(self, name).append(float(values[name]))

    def state_dict(self) -> dict:
        return {name: list(getattr(self, name)) for name in COLUMNS}

    def load_state_dict(self, state: dict) -> None:
        for name in COLUMNS:
            setattr(self, name, [float(v) for v in state.get(name, [])])

    def plot(self, path: str | os.PathLike, title: str = "", metric: str = "validation PSNR",
             metric_axis: str = "PSNR (dB)") -> None:
        """Training and validation loss per epoch, and the validation metric (the synthesis
        trainer's PSNR, the segmenter's Dice, both kept in ``val_psnr``), in one PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        epochs = range(1, self.epochs_done + 1)
        fig, loss_axis = plt.subplots(figsize=(8, 4.5), dpi=100)
        loss_axis.plot(epochs, self.train_loss, color="tab:blue", label="training loss")
        loss_axis.plot(epochs, self.val_loss, color="tab:red", label="validation loss")
        loss_axis.set_xlabel("epoch")
        loss_axis.set_ylabel("loss")
        loss_axis.set_yscale("log")
        psnr_axis = loss_axis.twinx()
        psnr_axis.plot(epochs, self.val_psnr, color="tab:green", linestyle="--", label=metric)
        psnr_axis.set_ylabel(metric_axis)
        lines = loss_axis.get_lines() + psnr_axis.get_lines()
        loss_axis.legend(lines, [line.get_label() for line in lines], loc="upper center")
        loss_axis.set_title(title)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
        plt.close(fig)


def log_line(path: str | os.PathLike, text: str) -> None:
    """Append one line to ``training_log.txt`` (appending is safe: a kill loses at most it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(text.rstrip("\n") + "\n")
