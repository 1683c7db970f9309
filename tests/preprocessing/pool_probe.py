"""Worker jobs for test_worker_pool: what a preprocessing worker has imported, and its pid.

Imports the modules a preprocessing or fingerprint worker unpickles its jobs from, and nothing
that imports torch, so the probe sees what a real worker sees."""
from __future__ import annotations

import os
import sys

import autosynth.experiment_planning.fingerprint  # noqa: F401  (what a fingerprint job needs)
import autosynth.preprocessing.preprocessor  # noqa: F401  (what a preprocessing job needs)


def worker_state(_job) -> tuple[int, bool, str]:
    """(pid, whether torch is imported, the worker's OMP_NUM_THREADS)."""
    return os.getpid(), "torch" in sys.modules, os.environ.get("OMP_NUM_THREADS", "")
