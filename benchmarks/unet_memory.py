"""Calibrate the U-Net activation-memory estimate against what autograd saves (CPU).

Run: .venv/bin/python benchmarks/unet_memory.py  -> prints and writes
benchmarks/results/unet_memory.json (paper network at 224x224 in fp32 and bf16, and variants).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from autosynth.architectures import UNetConfig
from autosynth.architectures.memory_measurement import calibrate

VARIANTS = {"paper": {}, "transposed": {"upsampling": "transposed"},
            "batch_norm": {"norm": "batch"}}


def main() -> None:
    rows = []
    for name, overrides in VARIANTS.items():
        dtypes = (torch.float32, torch.bfloat16) if name == "paper" else (torch.float32,)
        rows += [{"variant": name, **row}
                 for row in calibrate(UNetConfig.paper(**overrides), 224, 224, dtypes)]
    for row in rows:
        print(f"{row['variant']:>11} {row['dtype']:>8}: estimated "
              f"{row['estimated_cpu_mib']:.2f} MiB, measured {row['measured_cpu_mib']:.2f} MiB (CPU); CUDA estimate "
              f"{row['estimated_cuda_mib']:.2f} MiB per 224x224 slice")
    out = Path(__file__).parent / "results" / "unet_memory.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
