"""What autograd really keeps for backward: the measurement that calibrates the estimate of
:mod:`autosynth.architectures.memory` (kept apart because it needs torch and that does not)."""
from __future__ import annotations

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from autosynth.architectures.config import UNetConfig
from autosynth.architectures.memory import MIB, estimate_activation_memory
from autosynth.architectures.unet2d import build_network


def measure_saved_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes of distinct storages autograd saves in ``model(x)`` (parameters and buffers
    excluded). A storage is counted whole, once, however many saved tensors view it."""
    weights = list(model.parameters()) + list(model.buffers())
    skip = {t.untyped_storage().data_ptr() for t in weights}
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in skip:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x.requires_grad_(False))
    del out
    return sum(storages.values())


def measure_step_peak_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """The CPU allocator's peak over one training step's forward + backward (mean-squared loss
    against zeros), above what was allocated before it: kept tensors, backward buffers and
    the weights' gradients (which do not exist yet: the trainer zeroes them to None).
    Timeline of ``torch.profiler``'s memory events (allocations +, frees -)."""
    model.zero_grad(set_to_none=True)
    x = x.requires_grad_(False)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        loss = torch.mean(model(x) ** 2)
        loss.backward()
        del loss
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]")
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    model.zero_grad(set_to_none=True)
    return peak


def calibrate(config: UNetConfig, height: int = 224, width: int = 224,
              dtypes: tuple[torch.dtype, ...] = (torch.float32, torch.bfloat16)) -> list[dict]:
    """Estimate vs measurement on this (CPU) machine, one row per dtype, in MiB per slice."""

    rows = []
    estimate = estimate_activation_memory(config, height, width)
    for dtype in dtypes:
        torch.manual_seed(0)
        model = build_network(config).to(dtype).train()
        x = torch.rand(1, config.input_channels, height, width, dtype=dtype)
        measured = measure_saved_bytes(model, x)
        rows.append({"dtype": str(dtype).replace("torch.", ""), "height": height, "width": width,
                     "estimated_cpu_mib": estimate.mib(dtype, "cpu"),
                     "measured_cpu_mib": measured / MIB,
                     "estimated_cuda_mib": estimate.mib(dtype, "cuda")})
    return rows

