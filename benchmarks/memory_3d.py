"""The planner's training-memory estimate for 3D patches against torch's measured peak.

Run: PYTHONPATH=. .venv/bin/python benchmarks/memory_3d.py [--block residual] [--quick]
-> prints a table and writes benchmarks/results/memory_3d.json.

For each patch the network is a ResEnc-M U-Net as issue 13's 3d_fullres rule plans it (each
axis pooled until it reaches 4-8 voxels, features 32 * 2^i capped at 320). "Training memory of
batch 2" is what one forward + backward step of batch 2 allocates on top of the weights and the
optimiser state that exist before it: the kept tensors, the backward buffers and the weights'
gradients (set to None before each step, as the trainer does). The estimate is therefore
``2 * activation_mib_per_sample + 4 bytes * parameters``. Measured, on the CPU:

- ``allocator_peak``: the peak of torch's CPU allocator over the step (``torch.profiler``
  memory events, allocations minus frees in time order) -- what the step really needs;
- ``saved_tensors``: the bytes autograd keeps for backward (``saved_tensors_hooks``), which the
  kept-tensor part of the estimate must equal exactly.

On CUDA (when a GPU exists) ``torch.cuda.max_memory_allocated`` over the step, above the memory
allocated before it, replaces the allocator peak; cuDNN workspaces are part of it there.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from autosynth.architectures import UNetConfig, build_network, count_parameters
from autosynth.architectures.memory import MIB, estimate_activation_memory
from autosynth.architectures.memory_measurement import (measure_saved_bytes,
                                                        measure_step_peak_bytes)
from autosynth.experiment_planning.memory import activation_mib_per_sample
from machine_speed import matmul_gflops  # beside this script, on sys.path when it runs

PATCHES = [(32, 32, 32), (48, 64, 64), (64, 80, 64)]
QUICK_PATCHES = [(16, 16, 16), (16, 32, 24), (32, 32, 16)]
BATCH = 2
MIN_SIDE, BASE, CAP = 4, 32, 320


def network_for_patch(patch, block: str = "residual", base: int = BASE) -> UNetConfig:
    """Issue 13's 3d_fullres rule: pool an axis while it stays >= 4 voxels (it ends at 4-8),
    features ``base * 2^i`` capped at 320; ResEnc-M blocks for the residual block."""
    poolings = [max(0, int(math.floor(math.log2(p / MIN_SIDE)))) for p in patch]
    n_stages = max(poolings) + 1
    strides = [[2 if stage < n else 1 for n in poolings] for stage in range(n_stages - 1)]
    features = [min(base * 2 ** i, CAP) for i in range(n_stages)]
    if block == "residual":
        return UNetConfig.residual(features, 3, pool_strides=strides)
    return UNetConfig(features_per_stage=features, dropout_per_stage=[0.0] * n_stages,
                      dimensions=3, pool_strides=strides, norm="instance")


def cuda_step_peak_bytes(model: torch.nn.Module, x: torch.Tensor) -> int:
    model.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    loss = torch.mean(model(x) ** 2)
    loss.backward()
    del loss
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - before
    model.zero_grad(set_to_none=True)
    return peak


def row_for(patch, block: str, base: int, device: str) -> dict:
    config = network_for_patch(patch, block, base)
    torch.manual_seed(0)
    model = build_network(config).train().to(device)
    n_parameters = count_parameters(model)
    x = torch.rand(BATCH, 1, *patch, device=device)
    per_sample = activation_mib_per_sample(patch, config)
    estimate = BATCH * per_sample + 4 * n_parameters / MIB
    kept = estimate_activation_memory(config, *patch, batch_size=BATCH).mib(torch.float32, "cpu")
    row = {"patch": list(patch), "block": block, "features": config.features_per_stage,
           "pool_strides": config.strides, "parameters": n_parameters, "device": device,
           "mib_per_sample": round(per_sample, 2), "estimate_mib": round(estimate, 2),
           "kept_estimate_mib": round(kept, 2)}
    started = time.perf_counter()
    if device == "cuda":
        measured = cuda_step_peak_bytes(model, x) / MIB
        row["cuda_max_allocated_mib"] = round(measured, 2)
    else:
        row["saved_tensors_mib"] = round(measure_saved_bytes(model, x) / MIB, 2)
        measured = measure_step_peak_bytes(model, x) / MIB
        row["allocator_peak_mib"] = round(measured, 2)
    row["seconds"] = round(time.perf_counter() - started, 1)
    row["ratio_estimate_to_measured"] = round(estimate / measured, 3)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block", choices=("residual", "paper"), default="residual")
    parser.add_argument("--quick", action="store_true", help="small patches and 8 base features")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    gflops = matmul_gflops() if device == "cpu" else None
    patches, base = (QUICK_PATCHES, 8) if args.quick else (PATCHES, BASE)
    rows = [row_for(p, args.block, base, device) for p in patches]
    for row in rows:
        measured = row.get("cuda_max_allocated_mib", row.get("allocator_peak_mib"))
        print(f"{'x'.join(map(str, row['patch'])):>10} {row['block']}: estimate "
              f"{row['estimate_mib']:.1f} MiB, measured {measured:.1f} MiB "
              f"(ratio {row['ratio_estimate_to_measured']:.3f}); kept tensors estimated "
              f"{row['kept_estimate_mib']:.1f}, saved {row.get('saved_tensors_mib', '-')} MiB; "
              f"{row['seconds']} s")
    if gflops:
        print(f"matmul peak in this run: {gflops:.0f} GFLOP/s (fp32)")
    out = Path(__file__).parent / "results" / "memory_3d.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"matmul_gflops": gflops, "batch": BATCH, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
