"""One check that a trainer resumed after an interruption ends where an uninterrupted run ends:
the same weights bit for bit and the same loss history (the synthesis and the segmentation
trainers share it)."""
from typing import Callable

import torch


def weights(trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.network.state_dict().items()}


def assert_resume_is_exact(make_trainer: Callable[[int], object]) -> None:
    """``make_trainer(epochs)`` builds a trainer writing to the same folder every time: 4
    epochs straight, then 2 epochs and a resume to 4, must agree exactly."""
    straight = make_trainer(4)
    straight.run_training()
    expected, history = weights(straight), straight.history.train_loss
    for path in straight.output_folder.iterdir():
        if path.is_file():
            path.unlink()
    make_trainer(2).run_training()
    resumed = make_trainer(4)
    assert resumed.resume() and resumed.epoch == 2
    resumed.run_training()
    got = weights(resumed)
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert resumed.history.train_loss == history
