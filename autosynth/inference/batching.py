"""Slices per forward pass, for the torch and the ONNX Runtime engines alike (no torch here)."""
from __future__ import annotations

# chosen by benchmarks/inference.py (results/inference.json)
CPU_BATCH_SIZE = 4
GPU_BATCH_SIZE = 32


def default_batch_size(device) -> int:
    """``device``: a name such as ``cpu`` or ``cuda:0``, or a ``torch.device``."""
    return GPU_BATCH_SIZE if str(device).split(":")[0] == "cuda" else CPU_BATCH_SIZE
