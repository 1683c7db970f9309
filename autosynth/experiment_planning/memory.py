"""Batch size from a memory budget: what one training sample (a 2D slice or a 3D patch) costs.

The estimate counts, stage by stage, the tensors that autograd keeps from the forward pass for
the backward pass (what torch's saved-tensor hooks report for this network), plus the largest
pair of gradient buffers alive at once during the backward pass:

* encoder stage: the input of its first convolution (image, or the pooled previous stage),
  each convolution's ReLU output, and after the first one the dropout output and its mask;
  2x2 max-pooling keeps int64 indices (8 bytes per pooled element whatever the precision);
* decoder stage: the concatenation (up-sampled deeper stage + skip), the same per-convolution
  tensors; the tanh output.

Calibration (torch 2.13 CPU, saved-tensor hooks, per slice at batch 2): the paper network at
224x224 keeps 68.6 MiB in fp32 and 37.6 MiB under bf16 autocast; the estimate gives 68.6 and
35.7 MiB for the kept tensors and adds 12.3 / 6.1 MiB for the backward buffers: 80.9 / 41.9 MiB,
against the 75 / 39 MiB measured for the whole step (the training memory measured on this machine, documentation/plans.md).

The same two parts serve 3D patches and the residual block (the kept tensors of
:mod:`autosynth.architectures.memory`, the largest gradient pair of any convolution). Validated
against the CPU allocator's peak of a training step of batch 2 (``benchmarks/memory_3d.py``):
the step needs ``2 x`` :func:`activation_mib_per_sample` plus the weights' gradients (part of
:func:`fixed_mib`), within 25 %; ``tests/architectures/test_memory_3d.py`` checks it.
"""
from __future__ import annotations

import dataclasses
import math

from autosynth.architectures.config import UNetConfig
from autosynth.architectures.memory import estimate_activation_memory

BYTES_PER_ELEMENT = {"float32": 4, "bfloat16": 2, "float16": 2}
INDEX_BYTES = 8
MIB = 2 ** 20
FRAMEWORK_RESERVE_MIB = 512  # CUDA context, cuDNN workspace, allocator slack
MIN_BATCH, MAX_BATCH = 2, 32
MAX_DATASET_FRACTION = 0.05  # a batch covers at most 5 % of the training slices (nnU-Net)


def _stage_voxels(patch, network: UNetConfig) -> list[int]:
    """Voxels per sample at each stage (a side not divisible by its strides rounds up)."""
    sides, voxels = [int(p) for p in patch], []
    for stage in range(network.num_stages):
        voxels.append(math.prod(sides))
        if stage < network.num_stages - 1:
            sides = [math.ceil(n / s) for n, s in zip(sides, network.strides[stage])]
    return voxels


def _largest_gradient_pair(patch, network: UNetConfig, in_channels: int) -> int:
    """Elements of the largest (input + output) gradient pair of one convolution."""
    f, n = network.features_per_stage, network.num_stages
    pixels = _stage_voxels(patch, network)
    if network.block == "residual":
        return _largest_residual_pair(f, pixels, network, in_channels)
    first_inputs = [(level, in_channels if level == 0 else f[level - 1]) for level in range(n)]
    first_inputs += [(level, f[level + 1] + f[level]) for level in range(n - 2, -1, -1)]
    largest = 0
    for level, previous in first_inputs:
        for _ in range(network.convs[level]):
            largest = max(largest, (previous + f[level]) * pixels[level])
            previous = f[level]
    return largest


def _largest_residual_pair(f: list[int], pixels: list[int], network: UNetConfig,
                           in_channels: int) -> int:
    """The same for the residual U-Net: stem, blocks (the strided conv's input at the finer
    stage), transposed convs and decoder convs (input = concatenation)."""
    pairs = [(in_channels + f[0]) * pixels[0]]
    for stage in range(network.num_stages):
        finer = pixels[stage - 1] if stage else pixels[0]
        below = f[stage - 1] if stage else f[0]
        pairs += [below * finer + f[stage] * pixels[stage], 2 * f[stage] * pixels[stage]]
    for stage in range(network.num_stages - 1):
        pairs += [f[stage + 1] * pixels[stage + 1] + f[stage] * pixels[stage],
                  3 * f[stage] * pixels[stage]]
    return max(pairs)


def activation_mib_per_sample(patch, network: UNetConfig, precision: str = "float32",
                              in_channels: int = 1, out_channels: int = 1) -> float:
    """Estimated training memory of one sample of spatial ``patch`` ((h, w) for a 2D network,
    (d, h, w) for a 3D one): forward tensors kept + backward buffers, MiB.

    The kept tensors are the architecture's own count
    (:func:`autosynth.architectures.estimate_activation_memory`, with dropout masks at the
    activation's size as on the CPU: the conservative choice for a GPU too).
    """
    if precision not in BYTES_PER_ELEMENT:
        raise ValueError(f"precision must be one of {', '.join(BYTES_PER_ELEMENT)}, "
                         f"got '{precision}'")

    config = dataclasses.replace(network, input_channels=in_channels, output_channels=out_channels)
    kept = estimate_activation_memory(config, *(int(p) for p in patch)).bytes(
        precision, device_type="cpu")
    transient = _largest_gradient_pair(tuple(patch), network, in_channels)
    return (kept + transient * BYTES_PER_ELEMENT[precision]) / MIB


activation_mib_per_slice = activation_mib_per_sample  # the 2D name the planner uses


def fixed_mib(n_parameters: int) -> float:
    """Weights, gradients and Adam's two moments in fp32, plus the framework reserve."""
    return 4 * 4 * n_parameters / MIB + FRAMEWORK_RESERVE_MIB


def batch_size_for_budget(mib_per_slice: float, n_parameters: int, budget_gb: float,
                          training_slices: int) -> tuple[int, int, int]:
    """(batch size, batch that fits the budget, cap from the dataset size).

    The batch is the largest that fits ``budget_gb`` (GiB), at most 5 % of the training slices,
    and clipped to [2, 32]. A larger budget never gives a smaller batch.
    """
    available = budget_gb * 1024 - fixed_mib(n_parameters)
    fits = max(0, int(available // mib_per_slice))
    cap = int(MAX_DATASET_FRACTION * training_slices)
    return max(MIN_BATCH, min(MAX_BATCH, fits, cap)), fits, cap
