"""The training loader's workers never outlive a trainer killed with ``kill -9``."""
import os
import subprocess
import sys
import time

import pytest

from tests.test_parent_death import _children, _kill_and_watch, _wait_for, pytestmark  # noqa: F401


@pytest.mark.slow
def test_training_loader_workers_die_with_a_killed_trainer(preprocessed_tiny):
    command = [sys.executable, "-m", "autosynth.cli.train", "T1", "FLAIR", "0", "-d", "42",
               "--epochs", "100000", "--num-workers", "2", "--no-progress"]
    trainer = subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        assert _wait_for(lambda: len(_children(trainer.pid)) >= 2, 120.0, 0.2), \
            "the trainer never started its two loader workers"
        time.sleep(2.0)  # let the forked workers reach their loop (past their start-up hook)
        workers = _children(trainer.pid)
    except BaseException:
        trainer.kill()
        raise
    assert _kill_and_watch(trainer, workers) == []
