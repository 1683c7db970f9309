import numpy as np
import pytest
import torch

from autosynth.cli.train import main as train_main
from autosynth.training.checkpointing import load_checkpoint
from autosynth.training.context import TrainingRun
from autosynth.training.data_loading import SliceBatchLoader
from autosynth.training.registry import get_trainer_class
from autosynth.training.trainer import SynthesisTrainer
from tests.training.resume_check import assert_resume_is_exact


def _trainer(name="SynthesisTrainer", epochs=None, workers=0, fold=0):
    cls = get_trainer_class(name)
    run = TrainingRun.create("42", "2d", fold, ["T1"], "FLAIR", cls.__name__)
    trainer = cls(run, device="cpu", num_epochs=epochs, num_workers=workers, progress=False)
    trainer.initialize()
    return trainer


def test_a_tiny_run_lowers_the_loss_and_writes_its_files(preprocessed_tiny):
    trainer = _trainer(epochs=6)
    before, _ = trainer.validate()
    trainer.run_training()
    after, _ = trainer.validate()
    assert after < before
    assert trainer.history.train_loss[-1] < trainer.history.train_loss[0]
    folder = trainer.output_folder
    for name in ("checkpoint_best.pth", "checkpoint_latest.pth", "checkpoint_final.pth",
                 "training_log.txt", "progress.png"):
        assert (folder / name).is_file(), name
    assert (folder.parent / "plans.json").is_file() and (folder.parent / "dataset.json").is_file()
    assert folder.parts[-4:] == ("Dataset042_Tiny", "SynthesisTrainer__autosynthPlans__2d",
                                 "T1_to_FLAIR", "fold_0")


def test_resume_after_interruption_gives_identical_weights(preprocessed_tiny):
    assert_resume_is_exact(lambda epochs: _trainer(epochs=epochs))


def test_batches_do_not_depend_on_the_number_of_workers(preprocessed_tiny):
    from batchgenerators.dataloading.multi_threaded_augmenter import MultiThreadedAugmenter

    trainer = _trainer()
    args = (trainer.train_index, trainer.run.source_channels, trainer.run.target_channel, 4, 3)
    patching = {"patch": trainer.config.patch_size, "tumour_oversampling": 0.5}
    single = SliceBatchLoader(*args, start_batch=5, augment=True, **patching)
    expected = [next(single) for _ in range(4)]
    loader = SliceBatchLoader(*args, start_batch=5, augment=True, num_threads=2, **patching)
    parallel = MultiThreadedAugmenter(loader, None, 2, seeds=[0, 1])
    try:
        got = [next(parallel) for _ in range(4)]
    finally:
        parallel._finish()
    for a, b in zip(expected, got):
        assert np.array_equal(a["data"], b["data"]) and np.array_equal(a["target"], b["target"])
    assert expected[0]["data"].shape == (4, 1) + tuple(trainer.config.patch_size)


def test_variants_change_only_what_they_name(preprocessed_tiny):
    base = _trainer()
    transposed = _trainer("SynthesisTrainer_TransposedConv")
    batchnorm = _trainer("SynthesisTrainer_BatchNorm")
    mae = _trainer("SynthesisTrainer_MAELoss")
    short = _trainer("SynthesisTrainer_2epochs")

    def count(module_type, trainer):
        return sum(isinstance(m, module_type) for m in trainer.network.modules())

    assert count(torch.nn.ConvTranspose2d, transposed) > 0 == count(torch.nn.ConvTranspose2d, base)
    assert count(torch.nn.BatchNorm2d, batchnorm) > 0 == count(torch.nn.BatchNorm2d, base)
    assert mae.loss.name == "l1" and base.loss.name == "mse"
    assert short.schedule.epochs == 2 and base.schedule.epochs == 4
    assert transposed.network_config.upsampling == "transposed"


def test_registry_finds_user_trainers_and_names_the_options(tmp_path, monkeypatch):
    (tmp_path / "my_trainers.py").write_text(
        "from autosynth.training.trainer import SynthesisTrainer\n"
        "class MyTrainer(SynthesisTrainer):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("AUTOSYNTH_EXTRA_TRAINERS", "my_trainers")
    assert issubclass(get_trainer_class("MyTrainer"), SynthesisTrainer)
    with pytest.raises(ValueError, match="unknown trainer 'Nope'.*SynthesisTrainer_BatchNorm"):
        get_trainer_class("Nope")


@pytest.mark.slow
def test_cli_trains_resumes_extends_and_validates(preprocessed_tiny, capsys):
    assert train_main(["T1", "FLAIR", "1", "--num-workers", "2", "--no-progress",
                       "--epochs", "2"]) == 0
    folder = (preprocessed_tiny / "results" / "Dataset042_Tiny" /
              "SynthesisTrainer__autosynthPlans__2d" / "T1_to_FLAIR" / "fold_1")
    assert load_checkpoint(folder / "checkpoint_final.pth")["epoch"] == 2
    summary = (folder / "validation" / "summary.json").read_text()
    assert "psnr" in summary and "ssim" in summary
    assert train_main(["T1", "FLAIR", "1", "--no-progress"]) == 2  # refuses to overwrite
    assert train_main(["T1", "FLAIR", "1", "--c", "--epochs", "3", "--no-progress"]) == 0
    assert load_checkpoint(folder / "checkpoint_final.pth")["epoch"] == 3
    assert train_main(["T1", "PD", "0"]) == 2
    assert "unknown contrast 'PD'" in capsys.readouterr().err


def test_resume_keeps_the_epoch_budget_and_writes_a_missing_final_checkpoint(preprocessed_tiny):
    first = _trainer(epochs=2)
    first.run_training()
    (first.output_folder / "checkpoint_final.pth").unlink()  # as if killed just before it
    again = _trainer()  # the plan says 4 epochs; the run was started with 2
    assert again.resume() and again.schedule.epochs == 2
    again.run_training()
    assert (again.output_folder / "checkpoint_final.pth").is_file() and again.epoch == 2
    again.extend(3)
    assert again.schedule.epochs == 3 and not again.finished()


def test_a_time_budget_ends_the_run_early_and_counts_over_resumes(preprocessed_tiny):
    trainer = _trainer(epochs=4)
    trainer.set_time_budget(1e-6, "wall")
    trainer.run_training()
    assert trainer.epoch == 1 and trainer.finished()      # one batch, then validated and saved
    assert "time budget" in (trainer.output_folder / "training_log.txt").read_text()
    again = _trainer(epochs=4)
    again.set_time_budget(1e-6, "cpu")
    assert again.resume() and again.finished()             # the spent budget is remembered
    unlimited = _trainer(epochs=2)
    assert unlimited.resume() and not unlimited.finished()
