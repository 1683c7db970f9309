"""Dataset-level preprocessing and the commands: files, idempotence, errors without tracebacks."""
import json

import numpy as np
import pytest

from autosynth.cli.plan_and_preprocess import (extract_fingerprint_main, main, plan_main,
                                               preprocess_main)
from autosynth.experiment_planning.configurations import PREPROCESSED_BY_DEFAULT
from autosynth.experiment_planning.plans import Plans
from autosynth.preprocessing import list_cases, load_case, preprocessor, restore_to_original
from tests.builders import write_tiny_dataset

PRE = "preprocessed/Dataset042_Tiny"


def test_plan_and_preprocess_writes_the_documented_layout(tiny_dataset, autosynth_env, capsys):
    assert main(["-d", "42", "-np", "1", "--no-progress"]) == 0
    pre = autosynth_env / PRE
    for name in ("fingerprint.json", "plans.json", "splits_final.json", "dataset.json"):
        assert (pre / name).is_file()
    plans = Plans.load(pre)
    for configuration in ("2d", "2d_paper"):
        folder = pre / configuration
        assert list_cases(folder) == ["case_000", "case_001", "case_002"]
        data, mask, labels, props = load_case(folder, "case_000")
        patch = tuple(plans.configurations[configuration].patch_size)
        assert isinstance(data, np.memmap) and data.shape[0] == 3 and data.shape[2:] == patch
        assert mask.shape == labels.shape == data.shape[1:] and mask.dtype == np.uint8
        assert restore_to_original(data[1], props).shape == (24, 32, 32)
    assert not list(pre.rglob(".*.tmp*"))  # no temporary debris
    assert "2d: 3 case(s) preprocessed" in capsys.readouterr().out


def test_second_run_skips_up_to_date_cases_and_redoes_changed_ones(tiny_dataset, autosynth_env,
                                                                   capsys):
    args = ["-d", "42", "-np", "1", "--no-progress", "-c", "2d"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0
    assert "0 case(s) preprocessed, 3 already up to date" in capsys.readouterr().out
    plans_path = autosynth_env / PRE / "plans.json"
    data = json.loads(plans_path.read_text())
    data["configurations"]["2d"]["normalization"]["T1"]["z_high"] = 9.0
    plans_path.write_text(json.dumps(data))
    assert preprocess_main(["-d", "42", "-np", "1", "--no-progress", "-c", "2d"]) == 0
    assert "3 case(s) preprocessed, 0 already up to date" in capsys.readouterr().out
    props = load_case(autosynth_env / PRE / "2d", "case_001")[3]
    assert props.normalization["T1"]["z_high"] == 9.0


def test_steps_run_separately(tiny_dataset, autosynth_env):
    common = ["-d", "Dataset042_Tiny", "-np", "1", "--no-progress"]
    assert preprocess_main(common) == 1  # no plans yet: a clear error, not a traceback
    assert extract_fingerprint_main(common) == 0
    assert plan_main(common + ["-c", "2d", "--memory-gb", "2"]) == 0
    assert preprocess_main(common) == 0
    assert list_cases(autosynth_env / PRE / "2d") and not (autosynth_env / PRE / "2d_paper").exists()


def test_verify_prints_problems_and_exits_1(autosynth_env, capsys):
    folder = write_tiny_dataset(autosynth_env / "raw" / "Dataset042_Tiny")
    (folder / "imagesTr" / "case_001_0002.nii.gz").write_bytes(b"not an image")
    assert main(["-d", "42", "-np", "1", "--no-progress", "--verify"]) == 1
    captured = capsys.readouterr()
    assert "case_001_0002.nii.gz" in captured.out and "Traceback" not in captured.err
    assert not (autosynth_env / PRE / "fingerprint.json").exists()


def test_unreadable_case_without_verify_is_one_clear_line(autosynth_env, capsys):
    folder = write_tiny_dataset(autosynth_env / "raw" / "Dataset042_Tiny")
    (folder / "imagesTr" / "case_001_0002.nii.gz").write_bytes(b"not an image")
    assert extract_fingerprint_main(["-d", "42", "-np", "1", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "case_001_0002.nii.gz: not a readable image" in err and "Traceback" not in err


def test_unknown_dataset_exits_2(autosynth_env, capsys):
    assert main(["-d", "7", "--no-progress"]) == 2
    assert "no dataset matches" in capsys.readouterr().err


@pytest.mark.parametrize("entry", [main, extract_fingerprint_main, plan_main, preprocess_main])
def test_help_explains_every_option(entry, capsys):
    with pytest.raises(SystemExit):
        entry(["--help"])
    text = capsys.readouterr().out
    assert "--dataset" in text and "--num-processes" in text


@pytest.mark.slow
def test_parallel_workers_give_the_same_arrays(tiny_dataset, autosynth_env):
    assert main(["-d", "42", "-np", "1", "--no-progress", "-c", "2d"]) == 0
    serial = np.load(autosynth_env / PRE / "2d" / "case_002.npy")
    for path in (autosynth_env / PRE / "2d").glob("*.json"):
        path.unlink()
    assert preprocess_main(["-d", "42", "-np", "2", "--no-progress", "-c", "2d"]) == 0
    np.testing.assert_array_equal(np.load(autosynth_env / PRE / "2d" / "case_002.npy"), serial)


def test_configurations_preprocessed_together_read_each_case_once_and_equal_each_alone(
        tiny_dataset, autosynth_env, monkeypatch):
    reads = []
    original = preprocessor.load_case_with_mask
    monkeypatch.setattr(preprocessor, "load_case_with_mask",
                        lambda case, channels: reads.append(case.case_id) or original(
                            case, channels))
    assert main(["-d", "42", "-np", "1", "--no-progress"]) == 0   # 2d and 2d_paper
    assert len(reads) == len(set(reads)) == 3
    pre = autosynth_env / PRE
    plans = Plans.load(pre)
    for name in PREPROCESSED_BY_DEFAULT:
        alone = autosynth_env / "alone"
        preprocessor.preprocess_dataset(tiny_dataset, alone, plans, name, 1, False)
        folder = plans.configuration(name).data_folder
        together = {p.name: p.read_bytes() for p in sorted((pre / folder).iterdir())}
        by_itself = {p.name: p.read_bytes() for p in sorted((alone / folder).iterdir())}
        assert together.keys() == by_itself.keys() and any(k.endswith(".npy") for k in together)
        assert [k for k in together if together[k] != by_itself[k]] == []
