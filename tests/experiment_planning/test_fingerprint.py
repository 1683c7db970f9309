"""The fingerprint equals values computed by hand on small volumes with known content."""
import numpy as np
import pytest

from autosynth.dataset.dataset_json import DatasetJson
from autosynth.dataset.image_io import Geometry, write_image
from autosynth.experiment_planning.fingerprint import (FingerprintError, compute_fingerprint,
                                                       extract_fingerprint)
from tests.builders import write_tiny_dataset

SHAPE = (10, 12, 14)  # Z, Y, X


def _write_known_case(folder, with_mask=True):
    """Brain = box z 2..6 (slices 2, 3, 4, 5, 6), y 3..8, x 4..11; T1 = 1..N inside it."""
    mask = np.zeros(SHAPE, np.uint8)
    mask[2:7, 3:9, 4:12] = 1
    n = int(mask.sum())
    t1 = np.zeros(SHAPE, np.float32)
    t1[mask > 0] = np.arange(1, n + 1)
    t2 = np.where(mask > 0, 2 * t1 + 5, 0).astype(np.float32)
    geometry = Geometry((14, 12, 10), (0.9, 1.1, 3.0), (0.0, 0.0, 0.0),
                        (1.0, 0, 0, 0, 1, 0, 0, 0, 1))
    write_image(t1, geometry, folder / "imagesTr" / "a_0000.nii.gz")
    write_image(t2, geometry, folder / "imagesTr" / "a_0001.nii.gz")
    if with_mask:
        write_image(mask, geometry, folder / "masksTr" / "a.nii.gz")
    DatasetJson(name="Known", channel_names={0: "T1", 1: "T2"}, numTraining=1).save(
        folder / "dataset.json")
    return t1, t2, mask


def test_per_case_values_match_hand_computation(tmp_path):
    folder = tmp_path / "Dataset001_Known"
    t1, t2, mask = _write_known_case(folder)
    fp = compute_fingerprint(folder, progress=False)
    case = fp["cases"]["a"]
    assert case["spacing_zyx"] == pytest.approx([3.0, 1.1, 0.9])
    assert case["shape_zyx"] == list(SHAPE)
    # stored LPS (identity direction); canonical RAS mirrors Y and X: y 3..8 of 12 -> 3..8,
    # x 4..11 of 14 -> 2..9
    assert case["crop_box_zyx"] == [[2, 7], [3, 9], [2, 10]]
    assert case["cropped_shape_zyx"] == [5, 6, 8]
    assert case["mask_source"] == "file"
    assert case["orientation"] == "LPS" and case["canonical_orientation"] == "RAS"
    assert case["stored_shape_zyx"] == list(SHAPE)
    assert case["brain_voxels"] == 240
    values = t1[mask > 0]
    stats = case["intensity"]["T1"]
    assert stats["mean"] == pytest.approx(120.5)
    assert stats["std"] == pytest.approx(values.std())
    assert stats["median"] == pytest.approx(120.5)
    assert stats["min"] == 1 and stats["max"] == 240
    assert stats["percentile_00_5"] == pytest.approx(np.percentile(values, 0.5))
    assert stats["percentile_99_5"] == pytest.approx(np.percentile(values, 99.5))
    assert case["intensity"]["T2"]["mean"] == pytest.approx(2 * 120.5 + 5)
    assert case["intensity"]["T2"]["std"] == pytest.approx(2 * values.std())
    assert fp["anisotropy"] == pytest.approx(3.0 / 0.9)
    assert fp["median_spacing_zyx"] == pytest.approx([3.0, 1.1, 0.9])


def test_slice_occupancy_with_known_empty_slices(tmp_path):
    folder = tmp_path / "Dataset001_Known"
    _write_known_case(folder)
    occupancy = compute_fingerprint(folder, progress=False)["cases"]["a"]["slice_occupancy"]
    assert occupancy["Z"]["slices"] == [[2, 7]]
    assert occupancy["Z"]["fraction"] == pytest.approx(5 / 10)
    assert occupancy["Z"]["brain_voxels_per_slice"] == [0, 0] + [48] * 5 + [0] * 3
    assert occupancy["Y"]["slices"] == [[3, 9]]
    assert occupancy["Y"]["fraction"] == pytest.approx(6 / 12)
    assert occupancy["X"]["fraction"] == pytest.approx(8 / 14)


def test_pooled_properties_cover_all_sampled_brain_voxels(tmp_path):
    folder = tmp_path / "Dataset001_Known"
    t1, _, mask = _write_known_case(folder)
    pooled = compute_fingerprint(folder, progress=False)["intensity_properties"]["T1"]
    assert pooled["n_samples"] == 240  # fewer brain voxels than the sample size: all of them
    assert pooled["mean"] == pytest.approx(120.5)
    z = (t1[mask > 0] - 120.5) / t1[mask > 0].std()
    assert pooled["zscore_percentile_99_5"] == pytest.approx(np.percentile(z, 99.5))


def test_derived_mask_is_recorded(tmp_path):
    folder = tmp_path / "Dataset001_Known"
    _write_known_case(folder, with_mask=False)
    fp = compute_fingerprint(folder, progress=False)
    assert fp["cases"]["a"]["mask_source"] == "derived"
    assert fp["cases"]["a"]["crop_box_zyx"] == [[2, 7], [3, 9], [2, 10]]  # canonical RAS, as above
    assert fp["mask_sources"] == {"derived": 1}


def test_fingerprint_is_reused_until_raw_files_change(tmp_path):
    raw = write_tiny_dataset(tmp_path / "raw" / "Dataset042_Tiny", n_cases=2)
    out = tmp_path / "pre"
    first = extract_fingerprint(raw, out, progress=False)
    (out / "fingerprint.json").write_text((out / "fingerprint.json").read_text()
                                          .replace('"n_cases": 2', '"n_cases": 99'))
    assert extract_fingerprint(raw, out, progress=False)["n_cases"] == 99  # reused
    assert extract_fingerprint(raw, out, progress=False, overwrite=True)["n_cases"] == 2
    assert first["contrasts"] == ["T1", "T2", "FLAIR"]


def test_empty_mask_names_the_file(tmp_path):
    folder = tmp_path / "Dataset001_Known"
    _write_known_case(folder)
    geometry = Geometry((14, 12, 10), (0.9, 1.1, 3.0), (0.0, 0.0, 0.0),
                        (1.0, 0, 0, 0, 1, 0, 0, 0, 1))
    write_image(np.zeros(SHAPE, np.uint8), geometry, folder / "masksTr" / "a.nii.gz")
    with pytest.raises(FingerprintError, match=r"masksTr/a.nii.gz.*no brain voxel"):
        compute_fingerprint(folder, progress=False)
