"""Run one job per case over worker processes, with a progress bar and bounded memory.

Each worker holds one case at a time (``imap`` with chunks of one), so memory grows with the
number of workers, not of cases. Workers are started with ``spawn`` and limited to one torch
thread: forking a process whose OpenMP pool has already run deadlocks with some builds, and N
workers each using all cores would only fight over them.
"""
from __future__ import annotations

import multiprocessing
import os
from typing import Any, Callable, Iterable, Sequence

from tqdm import tqdm

from autosynth.utils.parent_death import die_with_parent


def _init_worker(parent_pid: int) -> None:
    die_with_parent(parent_pid)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def map_cases(function: Callable[[Any], Any], jobs: Sequence[Any], num_processes: int = 1,
              progress: bool = True, desc: str = "") -> list[Any]:
    """``[function(job) for job in jobs]``, in order, on ``num_processes`` workers."""
    bar = dict(total=len(jobs), desc=desc, unit="case", disable=not progress)
    if num_processes <= 1 or len(jobs) <= 1:
        return [function(job) for job in tqdm(jobs, **bar)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(min(num_processes, len(jobs)), initializer=_init_worker,
                      initargs=(os.getpid(),)) as pool:
        results: Iterable[Any] = pool.imap(function, jobs, chunksize=1)
        return list(tqdm(results, **bar))
