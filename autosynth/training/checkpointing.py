"""Checkpoints that survive a kill at any moment.

``torch.save`` goes to a temporary file in the checkpoint's folder, which is renamed over the
old checkpoint only once complete, so ``checkpoint_latest.pth`` is always either the previous or
the new checkpoint, never a torn file.

Loading never runs code from the file: ``torch.load(weights_only=True)`` with only NumPy's array
types allowed besides tensors and plain containers (the RNG states a checkpoint carries for an
exact ``--c``), so a shared checkpoint that carries any other pickled object is refused.
"""
from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autosynth.utils.files import atomic_path


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())


_MULTIARRAY = (getattr(np, "_core", None) or np.core).multiarray
_DTYPES = (np.bool_, np.uint8, np.uint32, np.int32, np.int64, np.float32, np.float64)
SAFE_GLOBALS = [np.dtype, np.ndarray, _MULTIARRAY._reconstruct, _MULTIARRAY.scalar,
                *{type(np.dtype(t)) for t in _DTYPES}]


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded safely; the message names the file and why."""


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL (\S+)|got <class '([^']+)'>", str(err))
        what = f"a pickled {found.group(1) or found.group(2)}" if found else "a pickled object"
        raise CheckpointError(f"{path}: refused: it holds {what}, which could run code when "
                              "loaded (checkpoints are read with weights_only=True)") from None
