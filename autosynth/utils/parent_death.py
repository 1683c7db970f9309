"""Worker processes end when their parent dies, even by ``kill -9``.

A killed parent runs no clean-up, so pool and loader workers would live on, re-parented, each
holding its memory (the training loader's workers hold hundreds of MB). Every worker calls
:func:`die_with_parent` first thing: on Linux the kernel sends the worker SIGKILL when the
parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere a daemon thread polls ``os.getppid()``.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1   # from <linux/prctl.h>
POLL_SECONDS = 1.0


def _set_pdeathsig() -> bool:
    """Ask the kernel for SIGKILL on parent death; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent_pid: int, poll_seconds: float) -> None:
    while os.getppid() == parent_pid:
        time.sleep(poll_seconds)
    os._exit(1)


def die_with_parent(parent_pid: int, use_prctl: bool = True,
                    poll_seconds: float = POLL_SECONDS) -> None:
    """End this process when ``parent_pid`` (the process that started it) dies.

    ``parent_pid`` is passed in rather than read here, so a parent that died before this call
    is noticed too (the worker is then already re-parented and exits at once).
    """
    if not (use_prctl and _set_pdeathsig()):
        threading.Thread(target=_watch, args=(parent_pid, poll_seconds), daemon=True,
                         name="die-with-parent").start()
    if os.getppid() != parent_pid:
        os._exit(1)
