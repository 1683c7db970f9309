"""The machine's own limit, measured in the same run as anything timed beside it.

This machine's fp32 matrix-multiply speed varies by a third from hour to hour, so every
benchmark reports its figures next to this number, never alone.
"""
from __future__ import annotations

import time

import torch


def matmul_gflops(threads: int = 2, size: int = 2048, repeats: int = 5) -> float:
    """Best-of-``repeats`` fp32 ``size`` x ``size`` matrix-multiply speed, GFLOP/s."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * size ** 3 / best / 1e9


if __name__ == "__main__":
    print(f"fp32 matrix multiply, 2 threads: {matmul_gflops():.0f} GFLOP/s")
