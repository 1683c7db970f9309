"""One lock file per case, so several runs predicting into one folder share the cohort.

A run claims case ``CASE`` by creating ``OUT/.CASE.lock`` (``O_CREAT | O_EXCL``, atomic) and
holding an exclusive ``flock`` on it while it predicts; another run that finds the lock held
leaves the case to its holder. The kernel drops a ``flock`` when its process dies, even by
``kill -9``, so a lock file left by a dead run is stale exactly when it can be locked, and is
taken over then; no process id can be reused by mistake. The file records who holds it (pid,
host, time) for a person looking at the folder. Where ``fcntl`` is missing (Windows) a lock is
stale when its recorded process is no longer running on this host.
"""
from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


def lock_path(output: Path) -> Path:
    """``OUT/.CASE.nii.gz.lock`` for the output ``OUT/CASE.nii.gz`` (hidden: not a case)."""
    return output.parent / f".{output.name}.lock"


@dataclass
class CaseLock:
    """A held claim on one case; :meth:`release` removes the file, then drops the lock."""

    path: Path
    fd: int

    def release(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        os.close(self.fd)


def _open(path: Path) -> int | None:
    """Create the file atomically, or open the one there; None if it vanished meanwhile."""
    try:
        return os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
    except FileExistsError:
        try:
            return os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return None


def _holder_alive(path: Path) -> bool:
    """Without fcntl: the recorded process still runs (unknown holders count as alive)."""
    try:
        owner = json.loads(path.read_text(encoding="utf-8"))
        if owner.get("host") != socket.gethostname():
            return True
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError, KeyError, TypeError):
        return True
    return True


def _record_owner(fd: int) -> None:
    owner = {"pid": os.getpid(), "host": socket.gethostname(),
             "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(owner) + "\n").encode(), 0)


def claim(output: Path) -> CaseLock | None:
    """Claim the case written to ``output``; None when a live run holds it."""
    path = lock_path(Path(output))
    for _ in range(100):  # each retry means another run released or replaced the file
        fd = _open(path)
        if fd is None:
            continue
        if fcntl is None:
            if os.fstat(fd).st_size and _holder_alive(path):
                os.close(fd)
                return None
        else:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            try:
                same_file = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same_file = False
            if not same_file:  # released (unlinked) by its holder between open and flock
                os.close(fd)
                continue
        _record_owner(fd)
        return CaseLock(path, fd)
    return None
