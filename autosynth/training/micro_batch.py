"""The validation micro-batch this machine runs fastest, measured on the first validation batch.

One forward pass of a whole validation batch (32 slices at 224 x 224) ran at 0.6-0.7x the speed
of micro-batches of 4 in one hour on this 2-core machine, and at the same speed in another: the
fastest size depends on the machine and its load, so it is measured, once per training run, on
the run's own first validation batch. The choice does not change a result: in evaluation mode
a forward pass gives each slice the same bits in any batch of 2 or more (torch 2.13 CPU, checked
by ``tests/training/test_micro_batch.py``; a batch of 1 takes another oneDNN path, ~2e-6
apart, so no candidate is below 2). Training updates keep the trainer's fixed
``MICRO_BATCH``: there the split changes the order of the gradient sums, and a timing-dependent
choice would make runs differ in their last bits.
"""
from __future__ import annotations

import time
from typing import Callable

import torch

CANDIDATES = (4, 8, 16, 32)


def candidates_for(batch_size: int) -> list[int]:
    """Candidate micro-batches no larger than the batch, the batch itself included."""
    return sorted({c for c in CANDIDATES if c < batch_size} | {batch_size})  # all >= 2


def forward_in_micro_batches(network: Callable[[torch.Tensor], torch.Tensor],
                             data: torch.Tensor, micro: int) -> torch.Tensor:
    """``network(data)`` computed ``micro`` slices at a time."""
    if micro >= data.shape[0]:
        return network(data)
    return torch.cat([network(data[start:start + micro])
                      for start in range(0, data.shape[0], micro)])


@torch.inference_mode()
def fastest_micro_batch(network: Callable[[torch.Tensor], torch.Tensor], data: torch.Tensor,
                        clock: Callable[[], float] = time.perf_counter
                        ) -> tuple[int, dict[int, float]]:
    """(fastest micro-batch, slices/s of each candidate) for forward passes over ``data``;
    each candidate runs once to warm up and once timed."""
    rates = {}
    for micro in candidates_for(data.shape[0]):
        forward_in_micro_batches(network, data, micro)
        started = clock()
        forward_in_micro_batches(network, data, micro)
        rates[micro] = data.shape[0] / max(clock() - started, 1e-9)
    return max(rates, key=rates.get), rates
