"""autosynth_test: every trained translation on the split's test cases, one table."""
import json

import pytest

from autosynth.cli.test import main as autosynth_test
from autosynth.evaluation.held_out_summary import load_rows, write_test_summary
from autosynth.evaluation.summary import Row
from autosynth.utils.files import write_json_atomic
from tests.builders import write_tiny_dataset
from tests.inference.model_builders import make_model_folder


@pytest.fixture
def trained(autosynth_env):
    """Raw Dataset042_Tiny (3 cases, no masks), a split with a test case, two models."""
    write_tiny_dataset(autosynth_env / "raw" / "Dataset042_Tiny", n_cases=3, with_masks=False)
    write_json_atomic(autosynth_env / "preprocessed" / "Dataset042_Tiny" / "splits_final.json",
                      {"seed": 1, "test": ["case_002"],
                       "folds": [{"train": ["case_000"], "val": ["case_001"]}]})
    make_model_folder(autosynth_env / "results", ("T1",), "FLAIR", folds=("0", "1"))
    make_model_folder(autosynth_env / "results", ("T2",), "T1", folds=("0",))
    return autosynth_env


def test_all_translations_in_one_table(trained, capsys):
    assert autosynth_test(["-d", "42", "--no-progress"]) == 0
    out = capsys.readouterr().out
    results = trained / "results" / "Dataset042_Tiny"
    table = (results / "test_summary.md").read_text()
    assert table in out
    assert "| T1 → FLAIR |" in table and "| T2 → T1 |" in table
    assert "PSNR ↑ (dB) | MAE ↓ | MSE ↓ | SSIM ↑" in table
    summary = json.loads((results / "test_summary.json").read_text())
    assert summary["test_cases"] == ["case_002"]
    row = summary["rows"]["T1 → FLAIR"]
    assert row["info"]["model"]["folds"] == ["0", "1"]
    metrics = row["cases"]["case_002"]
    assert 0 <= metrics["mae_brain"] <= 1 and "ssim_tumour" in metrics
    # all three protocols, the lesion beside the whole brain
    assert {"brasyn_ssim_tumour", "brasyn_psnr_non_tumour_brain", "paper_ssim",
            "paper_psnr"} <= set(metrics)
    for heading in ("## Corrected protocol", "## BraSyn 2023 protocol", "## Paper protocol",
                    "### brain", "### tumour", "### non-tumour brain", "### whole image"):
        assert heading in table, heading
    model = results / "SynthesisTrainer__autosynthPlans__2d" / "T1_to_FLAIR" / "test_set"
    assert (model / "case_002.nii.gz").is_file() and (model / "summary.json").is_file()
    assert (model / "figures" / "case_002.png").is_file()
    assert (results / "test_set_masks" / "case_002.nii.gz").is_file()   # derived once, shared


def test_selection_and_extra_rows(trained, capsys):
    assert autosynth_test(["-d", "42", "-s", "T2", "-t", "T1", "--no-figures",
                      "--no-progress"]) == 0
    results = trained / "results" / "Dataset042_Tiny"
    rows = load_rows(results)
    assert [r.name for r in rows] == ["T2 → T1"]
    baseline = Row("identity (T2 as T1)", {"case_002": {"psnr_brain": 10.0, "mae_brain": 0.2,
                                                        "mse_brain": 0.1, "ssim_brain": 0.5}})
    text = write_test_summary(results, rows + [baseline], "Dataset042_Tiny", ["case_002"])
    assert "| identity (T2 as T1) | 10.00 ± 0.00 [10.00, 10.00] | 0.2000 ± 0.0000" in text
    assert autosynth_test(["-d", "42", "-t", "T2", "--no-progress"]) == 2
    assert "no trained model matches" in capsys.readouterr().err


def test_no_test_split_is_a_clear_error(trained, capsys):
    write_json_atomic(trained / "preprocessed" / "Dataset042_Tiny" / "splits_final.json",
                      [{"train": ["case_000"], "val": ["case_001"]}])
    assert autosynth_test(["-d", "42", "--no-progress"]) == 2
    assert "no 'test' cases" in capsys.readouterr().err
