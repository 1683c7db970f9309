"""Training throughput of the paper network at 224x224, batch 32, on this machine.

Measures the default trainer's update (channels_last, micro-batches accumulated to the batch)
against plain torch, in slices per second and GFLOP/s (16.0 GFLOP forward + backward per slice,
the paper network at 224x224), plus peak RSS, and the data loader's slices per second. Prints a table and writes
benchmarks/results/training.json.

    python benchmarks/training.py [--steps 3] [--micro 4 8 16 32]
"""
from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch

from autosynth.architectures import UNetConfig, build_network

GFLOP_PER_SLICE_TRAIN = 16.0
BATCH, SIZE = 32, 224


def time_updates(micro: int, channels_last: bool, steps: int) -> float:
    torch.manual_seed(0)
    network = build_network(UNetConfig.paper())
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    network = network.to(memory_format=fmt)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    data = torch.rand(BATCH, 1, SIZE, SIZE).contiguous(memory_format=fmt)
    target = torch.rand(BATCH, 1, SIZE, SIZE).contiguous(memory_format=fmt)

    def update():
        optimizer.zero_grad(set_to_none=True)
        for start in range(0, BATCH, micro):
            loss = torch.nn.functional.mse_loss(network(data[start:start + micro]),
                                                target[start:start + micro]) * micro / BATCH
            loss.backward()
        optimizer.step()

    update()  # warm-up
    started = time.perf_counter()
    for _ in range(steps):
        update()
    return BATCH * steps / (time.perf_counter() - started)


def time_loader(tmp: Path, batches: int = 20) -> float:
    from autosynth.training.data_loading import SliceBatchLoader, SliceIndex

    tmp.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(4):
        path = tmp / f"case{i}.npy"
        np.save(path, np.random.rand(3, 100, SIZE, SIZE).astype(np.float32))
        files.append(path)
    loader = SliceBatchLoader(SliceIndex.build(files), [0], 2, BATCH, seed=0, augment=True)
    next(loader)
    started = time.perf_counter()
    for _ in range(batches):
        next(loader)
    return BATCH * batches / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--micro", type=int, nargs="+", default=[4, 8, 16, 32])
    args = parser.parse_args()
    rows = []
    for channels_last in (False, True):
        for micro in args.micro:
            rate = time_updates(micro, channels_last, args.steps)
            rows.append({"channels_last": channels_last, "micro_batch": micro,
                         "slices_per_s": round(rate, 2),
                         "gflops": round(rate * GFLOP_PER_SLICE_TRAIN, 1)})
            print(f"channels_last={channels_last!s:5} micro={micro:2d}: {rate:5.2f} slices/s, "
                  f"{rate * GFLOP_PER_SLICE_TRAIN:6.1f} GFLOP/s", flush=True)
    loader_rate = time_loader(Path("/tmp/autosynth_bench_loader"))
    print(f"data loader (one worker, augmentation on): {loader_rate:.1f} slices/s")
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows,
              "loader_slices_per_s_one_worker_augmented": round(loader_rate, 1),
              "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    out = Path(__file__).parent / "results" / "training.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"peak RSS {result['peak_rss_mib']} MiB; written {out}")


if __name__ == "__main__":
    main()
