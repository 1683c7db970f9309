"""--denormalize: the documented formula with the development cases' median statistics."""
import json

import numpy as np

from autosynth.cli.predict import main as predict_main
from autosynth.dataset.image_io import read_image
from autosynth.inference import networks
from autosynth.inference.denormalization import REFERENCE_FILE
from autosynth.utils.files import write_json_atomic
from tests.inference.model_builders import OneMinus, make_model_folder, write_cohort


def _fingerprint():
    cases = {f"case_{i}": {"intensity": {"FLAIR": {"mean": 100.0 + 10 * i, "std": 20.0 + i,
                                                   "percentile_00_5": 5.0,
                                                   "percentile_99_5": 300.0}}}
             for i in range(4)}
    return {"contrasts": ["FLAIR"], "cases": cases}


def test_denormalised_output_follows_the_formula(tmp_path, autosynth_env, monkeypatch):
    monkeypatch.setattr(networks, "load_network", lambda path, device: OneMinus())
    model = make_model_folder(autosynth_env / "results")
    preprocessed = autosynth_env / "preprocessed" / "Dataset042_Tiny"
    write_json_atomic(preprocessed / "fingerprint.json", _fingerprint())
    write_json_atomic(preprocessed / "splits_final.json",   # case_3 is a test case: left out
                      {"test": ["case_3"], "folds": [{"train": ["case_0", "case_1"],
                                                      "val": ["case_2"]}]})
    write_cohort(tmp_path / "in", n_cases=1)
    common = ["-i", str(tmp_path / "in"), "-m", str(model), "--no-progress"]
    assert predict_main([*common, "-o", str(tmp_path / "norm")]) == 0
    assert predict_main([*common, "-o", str(tmp_path / "denorm"), "--denormalize"]) == 0
    y = read_image(tmp_path / "norm" / "sub00.nii.gz")[0]
    x = read_image(tmp_path / "denorm" / "sub00.nii.gz")[0]
    brain = read_image(tmp_path / "in" / "sub00_0000.nii.gz")[0] > 0
    mean, std, z_low, z_high = 110.0, 21.0, -3.0, 3.0        # medians over case_0..case_2
    np.testing.assert_allclose(x[brain], mean + std * (z_low + y[brain] * (z_high - z_low)),
                               rtol=1e-5)
    assert np.all(x[~brain] == 0)
    stored = json.loads((model / REFERENCE_FILE).read_text())
    assert stored["contrasts"]["FLAIR"]["n_cases"] == 3
    info = json.loads((tmp_path / "denorm" / "prediction_info.json").read_text())
    assert info["model"]["denormalized"] is True


def test_denormalize_without_statistics_is_a_clear_error(tmp_path, autosynth_env, capsys):
    model = make_model_folder(autosynth_env / "results")
    write_cohort(tmp_path / "in", n_cases=1)
    assert predict_main(["-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-m",
                         str(model), "--denormalize", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "fingerprint.json" in err and len(err.strip().splitlines()) == 1
