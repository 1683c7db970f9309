"""Activation memory of a U-Net per slice: an analytic estimate and a measurement.

The planner needs bytes per slice to pick a batch size from a memory budget. Training memory is
dominated by the tensors autograd keeps for backward; this module counts them op by op:

- conv (and transposed conv): its input; ReLU: its output; max-pool: its input + int64 indices;
  batch/instance norm: its input (the conv output); tanh/sigmoid: its output;
  nearest up-sampling and concatenation keep nothing.
- dropout: CUDA runs a fused kernel that keeps a 1-byte mask; the CPU runs input * noise and
  keeps the noise in the activation dtype. The dropout output is kept by the next conv.

Tensors sharing a storage (in-place ReLU on a conv output, the pool input that is also the ReLU
output) count once. :func:`autosynth.architectures.memory_measurement.measure_saved_bytes` sums
what autograd really saves (``saved_tensors_hooks``, parameters excluded) to calibrate the
estimate. This module does not import torch: the planner imports it, and the planner runs in
preprocessing processes that should not pay torch's start-up.
"""
from __future__ import annotations

from dataclasses import dataclass

from autosynth.architectures.config import UNetConfig

MIB = 2 ** 20
ELEMENT_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}


def element_bytes(dtype) -> int:
    """Bytes per element of a dtype given as a torch dtype or its name ("float32")."""
    return ELEMENT_BYTES[str(dtype).replace("torch.", "")]


@dataclass(frozen=True)
class ActivationMemory:
    """Saved-for-backward elements of one forward pass, split by storage type."""

    float_elements: int      # activation-dtype tensors (fp32 or bf16)
    mask_elements: int       # dropout masks (1 byte on CUDA, activation dtype on CPU)
    index_elements: int      # max-pool indices (int64)

    def bytes(self, dtype="float32", device_type: str = "cuda") -> int:
        size = element_bytes(dtype)
        mask_size = 1 if device_type == "cuda" else size
        return self.float_elements * size + self.mask_elements * mask_size + self.index_elements * 8

    def mib(self, dtype="float32", device_type: str = "cuda") -> float:
        return self.bytes(dtype, device_type) / MIB


def estimate_activation_memory(config: UNetConfig, height: int, width: int,
                               batch_size: int = 1, training: bool = True) -> ActivationMemory:
    """Elements autograd saves for one forward pass of ``batch_size`` slices of (H, W)."""
    if height % config.shape_divisor or width % config.shape_divisor:
        raise ValueError(f"H and W must be multiples of {config.shape_divisor}")
    feats, convs, last = config.features_per_stage, config.convs, config.num_stages - 1
    pixels = [(height >> s) * (width >> s) for s in range(config.num_stages)]
    total = {"float": config.input_channels * pixels[0], "mask": 0, "index": 0}

    def stage(channels: int, n: int, num_convs: int, dropout: float, output_kept: bool) -> None:
        for index in range(num_convs):
            if config.norm != "none":
                total["float"] += channels * n          # norm keeps the conv output
            total["float"] += channels * n              # ReLU keeps its output
            if index == 0 and dropout > 0 and training:
                total["mask"] += channels * n
                if index < num_convs - 1 or output_kept:
                    total["float"] += channels * n      # dropout output, kept by its consumer

    transposed = config.upsampling == "transposed"
    for s in range(config.num_stages):
        if s:  # max-pool: input already counted (ReLU/dropout output), indices + output new
            total["index"] += feats[s - 1] * pixels[s]
            total["float"] += feats[s - 1] * pixels[s]
        kept = s < last or transposed or config.num_stages == 1
        stage(feats[s], pixels[s], convs[s], config.encoder_dropout(s) if training else 0.0, kept)
    for s in reversed(range(last)):
        up_channels = feats[s + 1] if not transposed else feats[s]
        total["float"] += (up_channels + feats[s]) * pixels[s]     # concat, kept by the conv
        kept = s == 0 or transposed
        stage(feats[s], pixels[s], convs[s], config.decoder_dropout(s) if training else 0.0, kept)
    if config.final_activation != "identity":
        total["float"] += config.output_channels * pixels[0]
    return ActivationMemory(total["float"] * batch_size, total["mask"] * batch_size,
                            total["index"] * batch_size)
