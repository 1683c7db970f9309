"""DDP on the CPU with gloo: two processes spawned by the test, as torchrun would start them."""
import json
import os

import numpy as np
import pytest
import torch

from autosynth.training import distributed as ddp
from autosynth.training.context import TrainingRun
from autosynth.training.trainer import SynthesisTrainer

pytestmark = pytest.mark.slow


def _train_rank(roots: dict, epochs: int, resume: bool, out: str) -> None:
    """One rank: train, record who wrote checkpoints, dump this rank's weights and history."""
    os.environ.update(roots)
    torch.set_num_threads(1)
    import autosynth.training.trainer as trainer_module

    context = ddp.context_from_environment()
    original = trainer_module.save_checkpoint

    def recording_save(state, path):
        with open(os.path.join(out, f"saves_rank{context.rank}.txt"), "a") as f:
            f.write(f"{os.path.basename(path)}\n")
        original(state, path)

    trainer_module.save_checkpoint = recording_save
    ddp.initialize(context, torch.device("cpu"))
    try:
        run = TrainingRun.create("42", "2d", 0, ["T1"], "FLAIR")
        trainer = SynthesisTrainer(run, num_epochs=epochs, num_workers=0, progress=False,
                                   distributed=context)
        trainer.initialize()
        if resume:
            assert trainer.resume()
        trainer.run_training()
        torch.save({"weights": trainer.network.state_dict(),
                    "train_loss": trainer.history.train_loss,
                    "val_loss": trainer.history.val_loss},
                   os.path.join(out, f"rank{context.rank}_epochs{epochs}.pt"))
    finally:
        ddp.shutdown()


def _roots(env) -> dict:
    return {"AUTOSYNTH_RAW": str(env / "raw"), "AUTOSYNTH_PREPROCESSED": str(env / "preprocessed"),
            "AUTOSYNTH_RESULTS": str(env / "results")}


def _without_dropout(env):
    plans_file = env / "preprocessed" / "Dataset042_Tiny" / "plans.json"
    plans = json.loads(plans_file.read_text())
    network = plans["configurations"]["2d"]["network"]
    network["dropout_per_stage"] = [0.0] * network["n_stages"]
    plans_file.write_text(json.dumps(plans))


def test_two_ranks_agree_rank_zero_writes_and_a_run_resumes(preprocessed_tiny, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    ddp.spawn(_train_rank, 2, (_roots(preprocessed_tiny), 2, False, str(out)))
    rank0, rank1 = (torch.load(out / f"rank{r}_epochs2.pt") for r in (0, 1))
    assert all(torch.equal(rank0["weights"][k], rank1["weights"][k]) for k in rank0["weights"])
    assert rank0["val_loss"] == rank1["val_loss"]  # reduced across ranks
    assert not (out / "saves_rank1.txt").exists()
    assert "checkpoint_latest.pth" in (out / "saves_rank0.txt").read_text()
    folder = (preprocessed_tiny / "results" / "Dataset042_Tiny" /
              "SynthesisTrainer__autosynthPlans__2d" / "T1_to_FLAIR" / "fold_0")
    log = (folder / "training_log.txt").read_text()
    assert log.count("epoch 2:") == 1  # one writer

    ddp.spawn(_train_rank, 2, (_roots(preprocessed_tiny), 3, True, str(out)))
    resumed = torch.load(out / "rank0_epochs3.pt")
    assert len(resumed["train_loss"]) == 3 and resumed["train_loss"][:2] == rank0["train_loss"]
    assert "resumed from" in (folder / "training_log.txt").read_text()


def test_two_process_loss_curve_matches_one_process(preprocessed_tiny, tmp_path):
    """Same seed, same global batch, no dropout: the two runs do the same arithmetic up to the
    order of floating-point sums (gradient all-reduce), so losses agree to float32 rounding
    amplified by a few Adam steps (measured: 2e-7 relative). 1e-5 leaves a 50x margin and is
    far below any change of what is trained (another batch changes the losses by >10 %)."""
    _without_dropout(preprocessed_tiny)
    single = SynthesisTrainer(TrainingRun.create("42", "2d", 0, ["T1"], "FLAIR"), num_epochs=3,
                              num_workers=0, progress=False)
    single.initialize()
    single.run_training()
    for path in single.output_folder.iterdir():
        if path.is_file():
            path.unlink()
    out = tmp_path / "out"
    out.mkdir()
    ddp.spawn(_train_rank, 2, (_roots(preprocessed_tiny), 3, False, str(out)))
    double = torch.load(out / "rank0_epochs3.pt")
    np.testing.assert_allclose(double["train_loss"], single.history.train_loss, rtol=1e-5)
    np.testing.assert_allclose(double["val_loss"], single.history.val_loss, rtol=1e-5)
