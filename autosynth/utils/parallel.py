"""Run one job per case over worker processes, with a progress bar and bounded memory.

Each worker holds one case at a time (``imap`` with chunks of one), so memory grows with the
number of workers, not of cases. Workers are started with ``spawn`` (forking a process whose
OpenMP pool has already run deadlocks with some builds) and with one BLAS/OpenMP thread each:
N workers each using all cores would only fight over them.

Start-up is what made parallel preprocessing slower than one process on two cores: every pool
paid for new interpreters, and every spawned worker re-ran the command's main module, which
imports the planner and through it torch (~2.5 s per worker). So a command opens one
:func:`worker_pool` for its whole run (every :func:`map_cases` inside reuses it), and workers
are spawned without re-running the parent's ``__main__`` when the job function lives in a
library module: they import only what unpickling the jobs needs (the preprocessing and
fingerprint modules import no torch).
"""
from __future__ import annotations

import multiprocessing
import os
import sys
from contextlib import contextmanager
from multiprocessing.pool import Pool
from typing import Any, Callable, Iterable, Iterator, Sequence

from tqdm import tqdm

from autosynth.utils.parent_death import die_with_parent

ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                     "MKL_NUM_THREADS")}
_shared: list["_SharedPool"] = []   # the innermost open worker_pool() is last


def _init_worker(parent_pid: int) -> None:
    die_with_parent(parent_pid)


@contextmanager
def _spawn_settings() -> Iterator[None]:
    """While workers are spawned: one thread each (inherited environment), and no re-run of
    the parent's ``__main__`` (multiprocessing reads its ``__spec__`` / ``__file__``)."""
    saved_env = {name: os.environ.get(name) for name in ONE_THREAD}
    main = sys.modules.get("__main__")
    saved_main = {k: main.__dict__[k] for k in ("__spec__", "__file__")
                  if main is not None and k in main.__dict__}
    os.environ.update(ONE_THREAD)
    if main is not None:
        main.__dict__.pop("__file__", None)
        main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if main is not None:
            main.__dict__.update(saved_main)
            if "__spec__" not in saved_main:
                main.__dict__.pop("__spec__", None)


def _start_pool(processes: int) -> Pool:
    context = multiprocessing.get_context("spawn")
    with _spawn_settings():
        return context.Pool(processes, initializer=_init_worker, initargs=(os.getpid(),))


class _SharedPool:
    """The pool of one :func:`worker_pool` block, started when a job list first needs it."""

    def __init__(self, processes: int) -> None:
        self.processes, self.pool = processes, None

    def get(self) -> Pool:
        if self.pool is None:
            self.pool = _start_pool(self.processes)
        return self.pool


@contextmanager
def worker_pool(num_processes: int) -> Iterator[None]:
    """One pool of ``num_processes`` workers for every :func:`map_cases` inside the block
    (started on first use; nothing is started for ``num_processes <= 1``)."""
    shared = _SharedPool(num_processes)
    _shared.append(shared)
    try:
        yield
    except BaseException:
        if shared.pool is not None:
            shared.pool.terminate()    # jobs still queued behind a failure are not run
        raise
    else:
        if shared.pool is not None:
            shared.pool.close()
    finally:
        _shared.remove(shared)
        if shared.pool is not None:
            shared.pool.join()


def map_cases(function: Callable[[Any], Any], jobs: Sequence[Any], num_processes: int = 1,
              progress: bool = True, desc: str = "") -> list[Any]:
    """``[function(job) for job in jobs]``, in order, on ``num_processes`` workers (those of
    the open :func:`worker_pool` when there is one). ``function`` must be importable from a
    library module, not defined in ``__main__``."""
    bar = dict(total=len(jobs), desc=desc, unit="case", disable=not progress)
    if num_processes <= 1 or len(jobs) <= 1:
        return [function(job) for job in tqdm(jobs, **bar)]
    if function.__module__ == "__main__":
        raise ValueError(f"{function.__qualname__}: a worker job must live in an importable "
                         "module, not in __main__")
    if _shared and _shared[-1].processes > 1:
        results: Iterable[Any] = _shared[-1].get().imap(function, jobs, chunksize=1)
        return list(tqdm(results, **bar))
    with _start_pool(min(num_processes, len(jobs))) as pool:
        return list(tqdm(pool.imap(function, jobs, chunksize=1), **bar))
