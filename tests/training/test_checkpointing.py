import os
import signal
import subprocess
import sys
import time

import torch

from autosynth.training.checkpointing import load_checkpoint, save_checkpoint
from autosynth.training.early_stopping import EarlyStopping

WRITER = """
import sys, torch
from autosynth.training.checkpointing import save_checkpoint
path = sys.argv[1]
big = torch.zeros(4_000_000)
version = 0
while True:
    version += 1
    big.fill_(version)
    save_checkpoint({"version": version, "weights": big}, path)
    print(version, flush=True)
"""


def test_kill_minus_nine_during_writes_never_leaves_a_corrupt_checkpoint(tmp_path):
    path = tmp_path / "checkpoint_latest.pth"
    save_checkpoint({"version": 0, "weights": torch.zeros(4_000_000)}, path)
    for delay in (0.35, 0.5, 0.8, 1.1):
        process = subprocess.Popen([sys.executable, "-c", WRITER, str(path)],
                                   stdout=subprocess.PIPE, text=True)
        process.stdout.readline()  # at least one write has completed, more are in flight
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        state = load_checkpoint(path)
        assert state["version"] >= 1
        assert torch.all(state["weights"] == state["version"])  # one whole version, not a mix
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "checkpoint_latest.pth"]
    assert all(name.startswith(".checkpoint_latest.pth.") for name in leftovers)


def test_early_stopping_counts_patience_like_keras():
    stopper = EarlyStopping(patience=2)
    assert stopper.update(0, 1.0) and not stopper.should_stop
    assert not stopper.update(1, 1.0)
    assert stopper.update(2, 0.5)
    assert not stopper.update(3, 0.6) and not stopper.should_stop
    assert not stopper.update(4, 0.7) and stopper.should_stop
    assert stopper.best_epoch == 2
    restored = EarlyStopping(patience=2)
    restored.load_state_dict(stopper.state_dict())
    assert restored == stopper
