"""Every configuration on a tiny dataset: planned, preprocessed, trained a few iterations,
resumed exactly with --c, and predicted onto the exact input grid."""
import json
import os

import numpy as np
import pytest
import torch

from autosynth.cli.plan_and_preprocess import main as plan_and_preprocess
from autosynth.cli.predict import main as predict_main
from autosynth.cli.train import main as train_main
from autosynth.dataset.image_io import read_image
from autosynth.experiment_planning.plans import Plans
from autosynth.training import distributed as ddp
from autosynth.training.context import TrainingRun
from autosynth.training.trainer import SynthesisTrainer
from tests.builders import write_tiny_dataset

NEW = ("2.5d", "3d_fullres")
SMALL = {"features_per_stage": [8, 16], "convs_per_stage": [1, 1], "n_stages": 2,
         "dropout_per_stage": [0.0, 0.0]}


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    """Dataset042_Tiny with every configuration planned, the new ones preprocessed and their
    networks shrunk to two small stages."""
    home = tmp_path_factory.mktemp("configurations")
    env = {"AUTOSYNTH_RAW": home / "raw", "AUTOSYNTH_PREPROCESSED": home / "pre",
           "AUTOSYNTH_RESULTS": home / "results"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, str(value))
        raw = write_tiny_dataset(home / "raw" / "Dataset042_Tiny", n_cases=6)
        assert plan_and_preprocess(["-d", "42", "-c", *NEW, "-np", "1", "--no-progress"]) == 0
        plans_file = home / "pre" / "Dataset042_Tiny" / "plans.json"
        plans = json.loads(plans_file.read_text())
        for name in NEW:
            config = plans["configurations"][name]
            strides = config["network"]["pool_strides"]
            config["network"].update(SMALL, pool_strides=strides[:1] if strides else None)
            config["batch_size"] = 2
            config["training"].update(epochs=2, iterations_per_epoch=2, val_iterations=1,
                                      patience=50, seed=3)
        plans_file.write_text(json.dumps(plans, indent=2))
        yield home, raw, env


def test_all_four_are_planned_and_only_the_asked_ones_preprocessed(planned):
    home, _, _ = planned
    plans = Plans.load(home / "pre" / "Dataset042_Tiny")
    assert list(plans.configurations) == ["2d", "2d_paper", "2.5d", "3d_fullres"]
    assert plans.configurations["2.5d"].context_slices == 3
    three_d = plans.configurations["3d_fullres"]
    assert len(three_d.patch_size) == 3 and three_d.network.dimensions == 3
    assert three_d.network.block == plans.configurations["2.5d"].network.block == "residual"
    assert plans.configurations["2d"].network.block == "paper"
    folders = {p.name for p in (home / "pre" / "Dataset042_Tiny").iterdir() if p.is_dir()}
    assert folders == {"2.5d", "3d_fullres"}


def _trainer(configuration, epochs):
    run = TrainingRun.create("42", configuration, 0, ["T1"], "FLAIR")
    trainer = SynthesisTrainer(run, device="cpu", num_epochs=epochs, num_workers=0,
                               progress=False)
    trainer.initialize()
    return trainer


@pytest.mark.slow
@pytest.mark.parametrize("configuration", NEW)
def test_trains_resumes_exactly_and_predicts_onto_the_input_grid(planned, configuration,
                                                                  monkeypatch, tmp_path):
    home, raw, env = planned
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    straight = _trainer(configuration, 2)
    straight.run_training()
    expected = {k: v.clone() for k, v in straight.network.state_dict().items()}
    assert straight.history.train_loss[-1] < straight.history.train_loss[0] * 1.5
    for path in straight.output_folder.iterdir():
        if path.is_file():
            path.unlink()
    _trainer(configuration, 1).run_training()
    # --c through the command line, as a user resumes
    assert train_main(["T1", "FLAIR", "0", "-d", "42", "-c", configuration, "--c",
                       "--epochs", "2", "--device", "cpu", "--num-workers", "0",
                       "--no-progress"]) == 0
    resumed = _trainer(configuration, 2)
    assert resumed.resume() and resumed.epoch == 2
    got = resumed.network.state_dict()
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    out = tmp_path / "pred"
    assert predict_main(["-i", str(raw / "imagesTr"), "-o", str(out), "-s", "T1", "-t",
                         "FLAIR", "-c", configuration, "--masks", str(raw / "masksTr"),
                         "--no-progress"]) == 0
    prediction, geometry = read_image(out / "case_000.nii.gz")
    source, source_geometry = read_image(raw / "imagesTr" / "case_000_0000.nii.gz")
    assert geometry == source_geometry and prediction.shape == source.shape
    assert 0 <= prediction.min() and prediction.max() <= 1 and prediction.std() > 0
    brain = read_image(raw / "masksTr" / "case_000.nii.gz")[0] > 0
    assert np.all(prediction[~brain] == 0)


def _train_rank_3d(roots: dict, out: str) -> None:
    os.environ.update(roots)
    torch.set_num_threads(1)
    context = ddp.context_from_environment()
    ddp.initialize(context, torch.device("cpu"))
    try:
        run = TrainingRun.create("42", "3d_fullres", 1, ["T1"], "FLAIR")
        trainer = SynthesisTrainer(run, num_epochs=1, num_workers=0, progress=False,
                                   distributed=context)
        trainer.initialize()
        trainer.run_training()
        torch.save(trainer.network.state_dict(), os.path.join(out, f"rank{context.rank}.pt"))
    finally:
        ddp.shutdown()


@pytest.mark.slow
def test_3d_fullres_trains_with_two_ddp_processes(planned, tmp_path):
    _, _, env = planned
    ddp.spawn(_train_rank_3d, 2, ({k: str(v) for k, v in env.items()}, str(tmp_path)))
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
