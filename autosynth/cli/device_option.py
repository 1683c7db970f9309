"""The ``--device`` option every computing command shares, and how its default is chosen."""
from __future__ import annotations

import sys
from pathlib import Path


DEVICES = ("cpu", "cuda", "mps")
# where a GPU driver shows itself: NVIDIA, AMD ROCm, WSL2's GPU paravirtualisation
GPU_DRIVER_PATHS = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/kfd", "/dev/dxg")


def add_device_option(parser, what: str = "") -> None:
    """``--device cpu|cuda|mps``; ``what`` prefixes the help (e.g. 'training device')."""
    default = "default: cuda if available, else mps, else cpu"
    parser.add_argument("--device", default=None, choices=DEVICES,
                        help=f"{what} ({default})" if what else default)


def gpu_possible() -> bool:
    """Whether a GPU can be there at all (a driver loaded, or macOS for mps). Only then is
    torch imported to ask: on a CPU-only machine a prediction from ONNX exports imports no
    torch (seconds of start-up, ``autosynth.inference.engines``)."""
    return sys.platform == "darwin" or any(Path(p).exists() for p in GPU_DRIVER_PATHS)


def resolve_device(requested: str | None) -> str:
    """The requested device, or the best one available."""
    if requested:
        return requested
    if not gpu_possible():
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


