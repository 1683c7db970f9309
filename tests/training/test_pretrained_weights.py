"""--pretrained-weights: a fine-tuning run starts where the given model is, not from scratch."""
import re

import pytest
import torch

from autosynth.cli.train import main as train_main
from autosynth.training.checkpointing import save_checkpoint
from autosynth.training.context import TrainingRun
from autosynth.training.pretrained import PretrainedWeightsError, load_pretrained_weights
from autosynth.training.registry import get_trainer_class


def _trainer(name="SynthesisTrainer", epochs=2):
    cls = get_trainer_class(name)
    trainer = cls(TrainingRun.create("42", "2d", 0, ["T1"], "FLAIR", cls.__name__),
                  device="cpu", num_epochs=epochs, num_workers=0, progress=False)
    trainer.initialize()
    return trainer


@pytest.mark.slow
def test_fine_tuning_starts_with_the_finished_folds_validation_loss(preprocessed_tiny, capsys):
    finished = _trainer(epochs=2)
    finished.run_training()
    best = finished.output_folder / "checkpoint_best.pth"
    best_loss = finished.early_stopping.best_loss

    # same network and loss, another run folder (the 3-epoch variant), from the finished fold
    assert train_main(["T1", "FLAIR", "0", "-tr", "SynthesisTrainer_3epochs",
                       "--pretrained-weights", str(best), "--epochs", "1", "--num-workers", "0",
                       "--no-progress"]) == 0
    log = (finished.output_folder.parents[2] / "SynthesisTrainer_3epochs__autosynthPlans__2d"
           / "T1_to_FLAIR" / "fold_0" / "training_log.txt").read_text()
    start = float(re.search(r"validation loss before training ([0-9.]+)", log).group(1))
    assert start == pytest.approx(best_loss, abs=1e-6)
    scratch_loss, _ = _trainer("SynthesisTrainer_3epochs").validate()  # without the option
    assert abs(scratch_loss - best_loss) > 1e-4


def test_a_mismatched_layer_is_named_in_one_line(preprocessed_tiny, tmp_path, capsys):
    trainer = _trainer(epochs=1)
    state = {k: v.clone() for k, v in trainer.network.state_dict().items()}
    name = next(k for k, v in state.items() if v.dim() == 4)
    state[name] = torch.zeros(3, *state[name].shape[1:])
    save_checkpoint({"network": state}, tmp_path / "other.pth")
    with pytest.raises(PretrainedWeightsError, match=rf"layer '{re.escape(name)}' has shape "
                       r"\[3, .*\] there but \["):
        load_pretrained_weights(trainer.network, tmp_path / "other.pth")
    capsys.readouterr()
    assert train_main(["T1", "FLAIR", "1", "--pretrained-weights", str(tmp_path / "other.pth"),
                       "--num-workers", "0", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"layer '{name}'" in err[0]
    assert train_main(["T1", "FLAIR", "1", "--c", "--pretrained-weights",
                       str(tmp_path / "other.pth")]) == 2
    assert "not both" in capsys.readouterr().err
