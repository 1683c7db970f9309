"""Activation memory of a U-Net per sample (2D slice or 3D patch): an estimate and measurements.

The planner needs bytes per sample to pick a batch size (and, in 3D, a patch) from a memory
budget. Training memory is dominated by the tensors autograd keeps for backward; this module
counts them op by op, for the paper block:

- conv (and transposed conv): its input; ReLU: its output; max-pool: its input + int64 indices;
  batch/instance norm: its input (the conv output); tanh/sigmoid: its output;
  nearest up-sampling and concatenation keep nothing.
- dropout: CUDA runs a fused kernel that keeps a 1-byte mask; the CPU runs input * noise and
  keeps the noise in the activation dtype. The dropout output is kept by the next conv.

and for the residual block (:mod:`residual_unet`): a conv -> norm -> act keeps the conv
output (for the norm) and the norm output (the in-place activation's result, also the next
conv's input); a residual block keeps two of those pairs (the second norm's output carries the
in-place shortcut sum and the final activation), plus the projection's conv output where the
shortcut is a strided 1x1 conv; a decoder stage keeps the concatenation and one pair (the
transposed conv's output is freed after the concatenation). Norm statistics (two numbers per
channel and sample) and affine weights repeated per sample are counted too.

Tensors sharing a storage (in-place ReLU on a conv output, the pool input that is also the ReLU
output) count once. :mod:`autosynth.architectures.memory_measurement` measures both:
``measure_saved_bytes`` sums what autograd really saves (``saved_tensors_hooks``, parameters
excluded) to calibrate the estimate, and ``measure_step_peak_bytes`` is the CPU allocator's peak
over a forward + backward step (``torch.profiler`` with ``profile_memory``), the figure a
training step really needs. This module does not import torch: the planner imports it, and the
planner runs in preprocessing processes that should not pay torch's start-up.
"""
from __future__ import annotations

import math
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


def stage_voxels(config: UNetConfig, shape) -> list[int]:
    """Voxels per sample at each stage for a patch of spatial ``shape`` (checked divisible)."""
    shape = tuple(int(n) for n in shape)
    divisors = config.shape_divisors
    if len(shape) != config.dimensions or any(n % d for n, d in zip(shape, divisors)):
        raise ValueError(f"a {config.dimensions}D patch with sides multiples of "
                         f"{list(divisors)} is needed, got {list(shape)}")
    return [math.prod(config.stage_shape(shape, s)) for s in range(config.num_stages)]


def estimate_activation_memory(config: UNetConfig, *shape: int, batch_size: int = 1,
                               training: bool = True) -> ActivationMemory:
    """Elements autograd saves for one forward pass of ``batch_size`` samples of spatial
    ``shape`` ((H, W) or (D, H, W)), for either block."""
    pixels = stage_voxels(config, shape)
    if config.block == "residual":
        return _residual_saved(config, pixels, batch_size)
    feats, convs, last = config.features_per_stage, config.convs, config.num_stages - 1
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


def _residual_saved(config: UNetConfig, pixels: list[int], batch: int) -> ActivationMemory:
    """What the residual U-Net keeps (see the module docstring), ``batch`` samples."""
    feats, normed = config.features_per_stage, config.norm != "none"
    # per norm: mean and 1/std per channel (and sample, for instance norm, which also repeats
    # its affine weight per sample)
    stats_per_channel = {"none": 0, "batch": 2, "instance": 3 * batch}[config.norm]
    kept = {"elements": config.input_channels * pixels[0] * batch}

    def conv_norm(channels: int, n: int, activation: bool = True) -> None:
        """conv -> norm (keeps the conv output) -> in-place activation (keeps its result)."""
        kept["elements"] += (normed + activation) * channels * n * batch
        kept["elements"] += stats_per_channel * channels

    conv_norm(feats[0], pixels[0])                                  # stem
    channels = feats[0]
    for stage, width in enumerate(feats):
        for index in range(config.convs[stage]):
            conv_norm(width, pixels[stage])                         # conv1 -> norm -> act
            conv_norm(width, pixels[stage])                         # conv2 -> norm, + sum, act
            if channels != width or (stage and not index):
                conv_norm(width, pixels[stage], activation=False)   # projection: 1x1 conv -> norm
            channels = width
    for stage in reversed(range(config.num_stages - 1)):
        kept["elements"] += 2 * feats[stage] * pixels[stage] * batch   # the concatenation
        conv_norm(feats[stage], pixels[stage])
    if config.final_activation != "identity":
        kept["elements"] += config.output_channels * pixels[0] * batch
    return ActivationMemory(kept["elements"], 0, 0)
