"""Data parallelism on PyTorch's own engine: DistributedDataParallel, torchrun or a local spawn.

A run is distributed when ``torchrun`` set ``WORLD_SIZE`` > 1 in the environment (multi-node
works through torchrun's rendezvous options), or when ``autosynth_train --num-gpus K`` spawns K
local processes itself. NCCL is the backend on GPUs, gloo on the CPU. Rank 0 alone writes logs,
plots and checkpoints; every rank computes, and gradients are all-reduced by DDP.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.distributed as dist

from autosynth.utils.parent_death import die_with_parent


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE_PROCESS = DistributedContext()


def context_from_environment() -> DistributedContext:
    """The torchrun variables (RANK, WORLD_SIZE, LOCAL_RANK), or a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE_PROCESS
    return DistributedContext(int(os.environ["RANK"]), world,
                              int(os.environ.get("LOCAL_RANK", os.environ["RANK"])))


def device_for(context: DistributedContext, device: str) -> torch.device:
    """One GPU per local rank; the CPU is shared."""
    if device == "cuda":
        torch.cuda.set_device(context.local_rank)
        return torch.device("cuda", context.local_rank)
    return torch.device(device)


def initialize(context: DistributedContext, device: torch.device) -> None:
    if context.enabled and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                rank=context.rank, world_size=context.world_size)


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(context: DistributedContext) -> None:
    if context.enabled:
        dist.barrier()


def sum_across_ranks(values: list[float], context: DistributedContext,
                     device: torch.device) -> list[float]:
    if not context.enabled:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def gather_objects(obj: Any, context: DistributedContext) -> list[Any]:
    """Every rank's ``obj``, in rank order (a list of one object when not distributed)."""
    if not context.enabled:
        return [obj]
    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawned(local_rank: int, world_size: int, port: int, function: Callable, args: tuple,
             parent_pid: int):
    die_with_parent(parent_pid)
    os.environ.update(RANK=str(local_rank), LOCAL_RANK=str(local_rank),
                      WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    function(*args)


def spawn(function: Callable, world_size: int, args: tuple = ()) -> None:
    """Run ``function(*args)`` in ``world_size`` local processes set up as torchrun would."""
    import torch.multiprocessing as mp

    mp.spawn(_spawned, args=(world_size, free_port(), function, args, os.getpid()),
             nprocs=world_size, join=True)
