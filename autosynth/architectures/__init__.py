"""Networks built from one typed description (:class:`UNetConfig`) that the plan holds.

The names below are loaded on first use (PEP 562), so that ``autosynth.architectures.config``,
which the plan imports, can be read without importing torch (preprocessing workers need the plan,
not the network).
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "UNetConfig": "config", "UNetConfigError": "config",
    "UNet2D": "unet2d", "build_network": "unet2d", "count_parameters": "unet2d",
    "PAPER_PARAMETER_COUNT": "unet2d", "ResidualUNet": "residual_unet",
    "ActivationMemory": "memory", "estimate_activation_memory": "memory",
    "measure_saved_bytes": "memory_measurement",
    "measure_step_peak_bytes": "memory_measurement",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
