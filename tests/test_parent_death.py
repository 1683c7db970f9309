"""Worker processes never outlive the process that started them, even after ``kill -9``.

The helpers here (process table from /proc) serve the trainer's test too."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autosynth.utils.parent_death import die_with_parent

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").is_file(),
                                reason="reads the process table from /proc")


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_for(condition, seconds: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def _kill_and_watch(parent: subprocess.Popen, workers: list[int]) -> list[int]:
    """kill -9 the parent; the workers still alive 10 s later."""
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    _wait_for(lambda: not any(_alive(w) for w in workers), 10.0)
    survivors = [w for w in workers if _alive(w)]
    for w in survivors:  # clean up after a failing run, then report
        os.kill(w, signal.SIGKILL)
    return survivors


@pytest.mark.parametrize("use_prctl", [True, False], ids=["prctl", "watchdog"])
def test_a_worker_ends_when_its_parent_is_killed(use_prctl):
    """Both mechanisms: the kernel's parent-death signal and the getppid watchdog."""
    worker = ("import os, sys, time\n"
              "from autosynth.utils.parent_death import die_with_parent\n"
              f"die_with_parent(os.getppid(), use_prctl={use_prctl}, poll_seconds=0.2)\n"
              "print(os.getpid(), flush=True)\n"
              "time.sleep(600)\n")
    parent_code = ("import subprocess, sys, time\n"
                   f"subprocess.Popen([sys.executable, '-c', {worker!r}])\n"
                   "time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", parent_code], env=os.environ.copy())
    try:
        assert _wait_for(lambda: len(_children(parent.pid)) == 1, 60.0)
        worker_pid = _children(parent.pid)[0]
        time.sleep(2.0)  # past the worker's imports and its call of die_with_parent
    except BaseException:
        parent.kill()
        raise
    assert _kill_and_watch(parent, [worker_pid]) == []


def test_a_worker_whose_parent_is_already_gone_exits_at_once():
    code = ("from autosynth.utils.parent_death import die_with_parent\n"
            "die_with_parent(-12345)\n"
            "raise SystemExit(0)\n")
    assert subprocess.run([sys.executable, "-c", code], env=os.environ.copy()).returncode == 1



def touch_and_sleep(path: str) -> None:
    """A pool job that says it started (so the worker is past its initialiser), then waits."""
    Path(path).touch()
    time.sleep(600)


@pytest.mark.slow
def test_preprocessing_pool_workers_die_with_a_killed_parent(tmp_path):
    started = [str(tmp_path / "a"), str(tmp_path / "b")]
    parent_code = ("from autosynth.utils.parallel import map_cases\n"
                   "from tests.test_parent_death import touch_and_sleep\n"
                   f"map_cases(touch_and_sleep, {started!r}, num_processes=2, progress=False)\n")
    parent = subprocess.Popen([sys.executable, "-c", parent_code], env=os.environ.copy())
    try:
        assert _wait_for(lambda: all(Path(p).is_file() for p in started), 180.0, 0.2)
        workers = _children(parent.pid)  # the two workers and multiprocessing's tracker
    except BaseException:
        parent.kill()
        raise
    assert _kill_and_watch(parent, workers) == []
