"""Checkpoints that survive a kill at any moment.

``torch.save`` goes to a temporary file in the checkpoint's folder, which is renamed over the
old checkpoint only once complete, so ``checkpoint_latest.pth`` is always either the previous or
the new checkpoint, never a torn file.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from autosynth.utils.files import atomic_path


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    # our own checkpoints hold RNG states and plain Python containers, not only tensors
    return torch.load(path, map_location=map_location, weights_only=False)
