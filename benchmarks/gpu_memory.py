"""The planner's activation-memory estimate against torch.cuda.max_memory_allocated (GPU only).

For the paper network at 224x224 and the batch sizes the planner would choose, trains a few
steps under bf16 autocast (fp16 where bf16 is unsupported) and fp32, and compares the measured
peak with the estimate the planner uses. Prints a table, writes benchmarks/results/gpu_memory.json;
exits with a message on a machine without CUDA.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from autosynth.architectures import UNetConfig, build_network
from autosynth.experiment_planning.memory import activation_mib_per_slice, fixed_mib
from autosynth.experiment_planning.network_topology import count_parameters, paper_network


def measure(batch: int, dtype: torch.dtype | None) -> tuple[float, float]:
    """(peak MiB, slices/s) of a few training steps."""
    torch.cuda.reset_peak_memory_stats()
    network = build_network(UNetConfig.paper()).cuda().to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    data = torch.rand(batch, 1, 224, 224, device="cuda").contiguous(memory_format=torch.channels_last)
    target = torch.rand_like(data)
    steps = 10
    for step in range(steps + 2):
        if step == 2:
            torch.cuda.synchronize()
            started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
            loss = torch.nn.functional.mse_loss(network(data).float(), target)
        loss.backward()
        optimizer.step()
    torch.cuda.synchronize()
    rate = batch * steps / (time.perf_counter() - started)
    return torch.cuda.max_memory_allocated() / 2**20, rate


def main() -> None:
    if not torch.cuda.is_available():
        print("gpu_memory: no CUDA device here; run this on a machine with an NVIDIA GPU")
        sys.exit(0)
    from autosynth.training.context import cuda_autocast_dtype

    low = cuda_autocast_dtype()
    rows = []
    plan = paper_network()
    fixed = fixed_mib(count_parameters(plan))
    for dtype, name in ((None, "float32"), (low, str(low).split(".")[-1])):
        per_slice = activation_mib_per_slice((224, 224), plan, name)
        for batch in (8, 32, 64):
            peak, rate = measure(batch, dtype)
            rows.append({"precision": name, "batch": batch,
                         "planner_estimate_mib": round(fixed + per_slice * batch, 1),
                         "measured_peak_mib": round(peak, 1), "slices_per_s": round(rate, 1)})
            print(rows[-1], flush=True)
    out = Path(__file__).parent / "results" / "gpu_memory.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"device": torch.cuda.get_device_name(), "rows": rows}, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
