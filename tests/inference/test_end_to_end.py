"""A model trained by autosynth_train is predicted, evaluated and tested by the new commands."""
import json

import numpy as np
import pytest

from autosynth.cli.evaluate import main as evaluate_main
from autosynth.cli.predict import main as predict_main
from autosynth.cli.test import main as autosynth_test
from autosynth.dataset.image_io import read_image
from tests.builders import write_tiny_dataset


@pytest.mark.slow
def test_train_predict_evaluate_test(autosynth_env, tmp_path):
    from autosynth.cli.plan_and_preprocess import main as plan_main
    from autosynth.cli.train import main as train_main

    raw = write_tiny_dataset(autosynth_env / "raw" / "Dataset042_Tiny", n_cases=6)
    assert plan_main(["-d", "42", "-c", "2d", "-np", "1", "--no-progress"]) == 0
    plans_file = autosynth_env / "preprocessed" / "Dataset042_Tiny" / "plans.json"
    plans = json.loads(plans_file.read_text())
    plans["configurations"]["2d"]["batch_size"] = 4
    plans["configurations"]["2d"]["training"].update(epochs=1, iterations_per_epoch=2,
                                                     val_iterations=1, augmentation=False)
    plans_file.write_text(json.dumps(plans, indent=2))
    assert train_main(["T1", "FLAIR", "0", "-d", "42", "--device", "cpu", "--num-workers", "0",
                       "--no-progress"]) == 0

    assert predict_main(["-i", str(raw / "imagesTr"), "-o", str(tmp_path / "pred"), "-s", "T1",
                         "-t", "FLAIR", "--masks", str(raw / "masksTr"), "--no-progress"]) == 0
    predictions = sorted(p.name for p in (tmp_path / "pred").glob("*.nii.gz"))
    assert len(predictions) == 6
    out, geometry = read_image(tmp_path / "pred" / "case_000.nii.gz")
    assert geometry == read_image(raw / "imagesTr" / "case_000_0000.nii.gz")[1]
    assert 0 <= out.min() and out.max() <= 1

    assert evaluate_main(["-ref", str(raw / "imagesTr"), "--ref-channel", "2", "-pred",
                          str(tmp_path / "pred"), "--masks", str(raw / "masksTr"), "--labels",
                          str(raw / "labelsTr"), "--no-progress"]) == 0
    summary = json.loads((tmp_path / "pred" / "summary.json").read_text())
    assert summary["normalization"]["origin"] == "prediction_info.json of the predictions"
    assert np.isfinite(summary["mean_sd"]["psnr_brain"]["mean"])

    assert autosynth_test(["-d", "42", "--no-figures", "--no-progress"]) == 0
    table = (autosynth_env / "results" / "Dataset042_Tiny" / "test_summary.md").read_text()
    assert "| T1 → FLAIR |" in table
