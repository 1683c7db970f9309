"""Patient-level, seeded splits; a user's split is honoured and validated."""
import json

import pytest

from autosynth.experiment_planning.splits import (SplitsError, ensure_splits, load_splits,
                                                  make_splits, validate_splits)

CASES = [f"case_{i:03d}" for i in range(50)]


def _sides(fold, test):
    return set(fold["train"]), set(fold["val"]), set(test)


def test_no_case_on_two_sides_and_paper_proportions():
    splits = make_splits(CASES, seed=1)
    assert len(splits["test"]) == 10 and len(splits["folds"]) == 5
    vals = set()
    for fold in splits["folds"]:
        train, val, test = _sides(fold, splits["test"])
        assert not (train & val) and not (train & test) and not (val & test)
        assert train | val | test == set(CASES)
        assert (len(train), len(val)) == (32, 8)  # 64 % / 16 % of 50
        vals |= val
    assert vals == set(CASES) - set(splits["test"])  # each development case validated once


def test_same_seed_same_split_other_seed_other_split():
    assert make_splits(CASES, seed=7) == make_splits(CASES, seed=7)
    assert make_splits(CASES, seed=7) != make_splits(CASES, seed=8)


def test_cases_of_one_patient_stay_together():
    patients = {c: f"p{i // 2}" for i, c in enumerate(CASES)}  # two scans per patient
    splits = make_splits(CASES, seed=3, patients=patients)
    for fold in splits["folds"]:
        for a, b in ((fold["train"], fold["val"]), (fold["train"], splits["test"]),
                     (fold["val"], splits["test"])):
            assert not {patients[c] for c in a} & {patients[c] for c in b}


def test_small_dataset_still_gets_five_folds():
    splits = make_splits(CASES[:4], seed=0)
    assert len(splits["test"]) == 1 and len(splits["folds"]) == 5
    for fold in splits["folds"]:
        assert fold["train"] and fold["val"] and not set(fold["train"]) & set(fold["val"])


def test_user_split_in_raw_folder_is_honoured(tmp_path):
    raw, pre = tmp_path / "raw", tmp_path / "pre"
    raw.mkdir()
    user = {"test": ["case_000"], "folds": [{"train": ["case_001", "case_002"],
                                              "val": ["case_003"]}]}
    (raw / "splits_final.json").write_text(json.dumps(user))
    ensure_splits(raw, pre, CASES[:4])
    loaded = load_splits(pre)
    assert loaded.test == ["case_000"] and loaded.folds == user["folds"]


def test_existing_split_is_kept_unless_overwrite(tmp_path):
    raw, pre = tmp_path / "raw", tmp_path / "pre"
    raw.mkdir()
    first = ensure_splits(raw, pre, CASES, seed=1)
    assert ensure_splits(raw, pre, CASES, seed=2) == first
    assert ensure_splits(raw, pre, CASES, seed=2, overwrite=True) != first


@pytest.mark.parametrize("splits, message", [
    ({"test": ["nobody"], "folds": [{"train": ["case_001"], "val": ["case_002"]}]},
     "unknown case.*nobody"),
    ({"test": [], "folds": [{"train": ["case_001", "case_002"], "val": ["case_002"]}]},
     "case_002 in both train and val"),
    ({"test": ["case_001"], "folds": [{"train": ["case_001"], "val": ["case_002"]}]},
     "case_001 in both train and test"),
    ({"folds": [{"train": ["case_001"]}]}, "exactly 'train' and 'val'"),
    ({"test": []}, "expected"),
])
def test_invalid_user_split_is_a_clear_error(splits, message):
    with pytest.raises(SplitsError, match=r"splits_final.json: .*" + message):
        validate_splits(splits, CASES, "raw/splits_final.json")


def test_nnunet_list_of_folds_is_accepted():
    folds = [{"train": ["case_001"], "val": ["case_002"]}]
    assert validate_splits(folds, CASES, "x")["test"] == []
