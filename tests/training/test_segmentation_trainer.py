"""The tumour segmenter: trains on the synthesis machinery, resumes exactly, and the utility
of the real target substituted for itself is exactly 0."""
import dataclasses
import json

import numpy as np
import pytest
import torch

from autosynth import results_layout as layout
from autosynth.cli.segmentation import train_main, utility_main
from autosynth.dataset.case_io import load_case_with_mask
from autosynth.dataset.image_io import write_image_like
from autosynth.evaluation.held_out import brain_masks, held_out_cases
from autosynth.evaluation.segmentation_utility import measure_utility
from autosynth.experiment_planning.segmenter_plan import SEGMENTER_PLAN_FILE
from autosynth.inference.segmentation import Segmenter
from autosynth.training.segmentation_data import SegmentationBatchLoader
from autosynth.training.segmentation_trainer import (DiceCELoss, SegmentationRun,
                                                     SegmentationTrainer)
from tests.training.resume_check import assert_resume_is_exact


def _trainer(epochs=None, fold="all"):
    run = SegmentationRun.create("42", "2d", fold)
    if not (run.model_folder / SEGMENTER_PLAN_FILE).is_file():   # a test-sized schedule
        run.segmenter.plan.batch_size = 4
        run.segmenter.plan.training = dataclasses.replace(
            run.segmenter.plan.training, epochs=4, iterations_per_epoch=3, val_iterations=2)
    trainer = SegmentationTrainer(run, device="cpu", num_epochs=epochs, num_workers=0,
                                  progress=False)
    trainer.initialize()
    return trainer


def test_the_plan_the_network_and_the_files(preprocessed_tiny):
    trainer = _trainer(epochs=2)
    plan = trainer.run.segmenter
    assert plan.contrasts == ["T1", "T2", "FLAIR"] and plan.class_values == [0, 1, 2, 3]
    assert trainer.network_config.input_channels == 3
    assert trainer.network_config.output_channels == 4
    assert trainer.network_config.final_activation == "identity"
    trainer.run_training()
    folder = trainer.output_folder
    assert folder.parts[-4:] == ("Dataset042_Tiny", "segmenter",
                                 "SegmentationTrainer__autosynthPlans__2d", "fold_all")
    for name in ("checkpoint_best.pth", "checkpoint_final.pth", "training_log.txt",
                 "progress.png"):
        assert (folder / name).is_file(), name
    stored = json.loads((folder.parent / SEGMENTER_PLAN_FILE).read_text())
    assert stored["plan"]["training"]["loss"] == "dice_ce"
    assert "val whole-tumour Dice" in (folder / "training_log.txt").read_text()
    # the segmenter never sees the held-out test cases
    test = set(json.loads((preprocessed_tiny / "preprocessed" / "Dataset042_Tiny" /
                           "splits_final.json").read_text())["test"])
    assert test and not test & set(trainer.run.train_cases + trainer.run.val_cases)


def test_batches_carry_integer_classes_and_are_a_function_of_seed_and_number(preprocessed_tiny):
    trainer = _trainer()
    args = (trainer.train_index, trainer.run.channels, [0, 1, 2, 3], 4, 3,
            trainer.config.patch_size)
    a = SegmentationBatchLoader(*args, start_batch=5, augment=True, tumour_oversampling=1.0)
    b = SegmentationBatchLoader(*args, start_batch=0, augment=True, tumour_oversampling=1.0)
    first = next(a)
    for _ in range(5):
        next(b)
    again = next(b)
    assert np.array_equal(first["data"], again["data"])
    assert np.array_equal(first["target"], again["target"])
    assert first["target"].dtype == np.int64 and first["target"].shape[1] == 1
    assert set(np.unique(first["target"])) <= {0, 1, 2, 3} and first["target"].max() > 0


def test_dice_ce_is_the_same_over_micro_batches():
    torch.manual_seed(0)
    logits = torch.randn(6, 4, 8, 8)
    target = torch.randint(0, 4, (6, 1, 8, 8))
    loss = DiceCELoss()
    whole = loss(logits, target)
    parts = loss(logits[:2], target[:2]) * 2 / 6 + loss(logits[2:], target[2:]) * 4 / 6
    assert torch.allclose(whole, parts, atol=1e-6)
    perfect = torch.nn.functional.one_hot(target[:, 0], 4).permute(0, 3, 1, 2).float() * 50
    assert loss(perfect, target) < 0.01


def test_resume_after_interruption_gives_identical_weights(preprocessed_tiny):
    assert_resume_is_exact(lambda epochs: _trainer(epochs=epochs))


def test_real_target_substituted_for_itself_costs_exactly_zero(preprocessed_tiny, tmp_path):
    _trainer(epochs=1).run_training()
    raw = preprocessed_tiny / "raw" / "Dataset042_Tiny"
    results = preprocessed_tiny / "results" / "Dataset042_Tiny"
    dataset_json, cases = held_out_cases(raw, preprocessed_tiny / "preprocessed" /
                                         "Dataset042_Tiny")
    masks = brain_masks(cases, results / "test_set_masks")
    segmenter = Segmenter(layout.segmenter_folder(results, "2d"), "all", "final")
    itself = tmp_path / "itself"
    for case in cases:   # the real FLAIR on the normalised scale, as a model would write it
        images, brain, _, _ = load_case_with_mask(case, [0, 1, 2])
        write_image_like(segmenter.normalise(images, brain)[2], case.channels[0],
                         itself / f"{case.case_id}.nii.gz")
    result = measure_utility(segmenter, cases, masks, dataset_json, "FLAIR",
                             {"itself": itself}, tmp_path / "segmentations")
    for case in cases:
        real, same = result.cases["real"][case.case_id], result.cases["itself"][case.case_id]
        assert {k: v for k, v in same.items() if not k.startswith("delta_")} == real
        assert all(same[f"delta_{k}"] == 0.0 for k in real)
        assert set(real) == {"dice_wt", "hd95_wt", "dice_tc", "hd95_tc", "dice_et", "hd95_et"}
    written = tmp_path / "segmentations" / "real" / f"{cases[0].case_id}.nii.gz"
    assert written.is_file()


@pytest.mark.slow
def test_commands_end_to_end(preprocessed_tiny, capsys):
    from autosynth.cli.test import main as autosynth_test
    from autosynth.experiment_planning.plans import Plans
    from tests.inference.model_builders import make_model_folder

    plans = Plans.load(preprocessed_tiny / "preprocessed" / "Dataset042_Tiny" / "plans.json")
    model = make_model_folder(preprocessed_tiny / "results", ("T1",), "FLAIR", plans=plans)
    assert utility_main(["-m", str(model), "--no-progress"]) == 2      # no segmenter yet
    assert "segmenter_plan.json: not found; run autosynth_train_segmenter" in \
        capsys.readouterr().err
    _trainer(epochs=1)   # writes the test-sized plan that the command then reads
    common = ["-d", "42", "--num-workers", "0", "--no-progress"]
    assert train_main(common + ["--epochs", "1"]) == 0
    assert train_main(common + ["--epochs", "1"]) == 2                 # refuses to overwrite
    assert train_main(common + ["--epochs", "2", "--c"]) == 0          # extends it
    assert utility_main(["-d", "42", "-s", "T1", "-t", "FLAIR", "--no-progress"]) == 0
    table = (model / "segmentation_utility" / "utility_summary.md").read_text()
    assert "| real |" in table and "| synthetic |" in table and "Δ WT Dice" in table
    assert autosynth_test(["-d", "42", "--utility", "--no-figures", "--no-progress"]) == 0
    summary = (preprocessed_tiny / "results" / "Dataset042_Tiny" / "test_summary.md").read_text()
    assert "## Segmentation utility (real vs synthetic target)" in summary
    assert "### WT" in summary and "Dice real" in summary and "Δ Dice" in summary
    rows = json.loads((preprocessed_tiny / "results" / "Dataset042_Tiny" /
                       "test_summary.json").read_text())["rows"]
    case = next(iter(next(iter(rows.values()))["cases"].values()))
    assert case["utility_delta_dice_wt"] == pytest.approx(
        case["utility_dice_wt_real"] - case["utility_dice_wt"])
