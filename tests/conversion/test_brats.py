"""BraTS converter: tiny fake BraTS 2018 and 2023 trees with the real file names and LPS geometry.

Every output is checked voxel for voxel and geometry for geometry against its source.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from autosynth.dataset.image_io import Geometry, write_image
from autosynth.dataset.integrity import verify_dataset
from dataset_conversion import brats
from dataset_conversion.common import ConversionError
from tests.builders import LPS_DIRECTION, brain_mask

SHAPE = (24, 32, 32)  # (Z, Y, X)
GEOMETRY = Geometry((32, 32, 24), (0.9375, 1.0, 1.5), (12.5, -239.0, -7.25), LPS_DIRECTION)
SUFFIXES = {"2018": ("t1", "t1ce", "t2", "flair", "seg"),
            "2023": ("t1n", "t1c", "t2w", "t2f", "seg")}
SEPARATOR = {"2018": "_", "2023": "-"}
ENHANCING = {"2018": 4, "2023": 3}


def write_brats_case(folder: Path, case_id: str, style: str, seed: int, with_seg: bool = True,
                     ending: str = ".nii.gz", seg_dtype=np.uint8) -> dict[str, Path]:
    """One case folder; each contrast covers a slightly different brain, so the union matters."""
    rng = np.random.default_rng(seed)
    files = {}
    for suffix in SUFFIXES[style][:4]:
        inside = brain_mask(SHAPE, shift=rng.uniform(-0.08, 0.08, 3))
        image = np.where(inside, rng.integers(1, 1000, SHAPE), 0).astype(np.int16)
        files[suffix] = folder / case_id / f"{case_id}{SEPARATOR[style]}{suffix}{ending}"
        write_image(image, GEOMETRY, files[suffix])
    if with_seg:
        r = np.linalg.norm(np.indices(SHAPE) - np.array(SHAPE)[:, None, None, None] // 2, axis=0)
        seg = np.select([r < 2, r < 4, r < 7], [1, ENHANCING[style], 2], 0).astype(seg_dtype)
        files["seg"] = folder / case_id / f"{case_id}{SEPARATOR[style]}seg{ending}"
        write_image(seg, GEOMETRY, files["seg"], dtype=seg_dtype)
    return files


@pytest.fixture
def brats2018(tmp_path) -> tuple[Path, dict[str, dict[str, Path]]]:
    """HGG/ and LGG/ training cases (one stored as plain .nii, one seg as float32) + a
    validation case without seg."""
    root = tmp_path / "MICCAI_BraTS_2018_Data_Training"
    cases = {
        "Brats18_TCIA01_190_1": write_brats_case(root / "HGG", "Brats18_TCIA01_190_1", "2018", 1),
        "Brats18_CBICA_AAB_1": write_brats_case(root / "HGG", "Brats18_CBICA_AAB_1", "2018", 2,
                                                ending=".nii"),
        "Brats18_2013_0_1": write_brats_case(root / "LGG", "Brats18_2013_0_1", "2018", 3,
                                             seg_dtype=np.float32),
        "Brats18_CBICA_AAM_1": write_brats_case(root / "Validation", "Brats18_CBICA_AAM_1",
                                                "2018", 4, with_seg=False),
    }
    return root, cases


def read(path: Path) -> tuple[np.ndarray, sitk.Image]:
    image = sitk.ReadImage(str(path))
    return sitk.GetArrayFromImage(image), image


def assert_same_grid(path: Path, reference: Path) -> None:
    """Size, spacing, origin, direction and the NIfTI affines exactly equal."""
    a, b = sitk.ReadImage(str(path)), sitk.ReadImage(str(reference))
    assert a.GetSize() == b.GetSize()
    assert a.GetSpacing() == b.GetSpacing()
    assert a.GetOrigin() == b.GetOrigin()
    assert a.GetDirection() == b.GetDirection()
    x, y = nib.load(str(path)), nib.load(str(reference))
    assert np.array_equal(x.affine, y.affine)
    assert np.array_equal(x.header.get_qform(), y.header.get_qform())
    assert np.array_equal(x.header.get_sform(), y.header.get_sform())


def assert_copied(output: Path, source: Path) -> None:
    """Byte for byte, or the same bytes once gunzipped when the source was a plain .nii."""
    if source.name.endswith(".gz"):
        assert output.read_bytes() == source.read_bytes()
    else:
        assert gzip.decompress(output.read_bytes()) == source.read_bytes()
    assert np.array_equal(read(output)[0], read(source)[0])
    assert_same_grid(output, source)


def check_case(folder: Path, case_id: str, files: dict[str, Path], suffixes: list[str],
               style: str) -> None:
    subset = "Tr" if "seg" in files else "Ts"
    for channel, suffix in enumerate(suffixes):
        assert_copied(folder / f"images{subset}" / f"{case_id}_{channel:04d}.nii.gz",
                      files[suffix])
    mask_path = folder / f"masks{subset}" / f"{case_id}.nii.gz"
    mask, mask_image = read(mask_path)
    expected = np.any([read(files[s])[0] != 0 for s in suffixes], axis=0)
    assert mask_image.GetPixelID() == sitk.sitkUInt8
    assert np.array_equal(mask, expected.astype(np.uint8))
    assert_same_grid(mask_path, files[suffixes[0]])
    labels_path = folder / "labelsTr" / f"{case_id}.nii.gz"
    if subset == "Ts":
        assert not labels_path.exists()
        return
    labels, labels_image = read(labels_path)
    seg = read(files["seg"])[0]
    assert labels_image.GetPixelID() == sitk.sitkUInt8
    assert np.array_equal(labels, np.where(seg == 4, 3, seg)), "label 4 must become 3"
    assert set(np.unique(labels)) == {0, 1, 2, 3}
    if style == "2023":
        assert np.array_equal(labels, seg)
    assert_same_grid(labels_path, files[suffixes[0]])


def mtimes(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_brats2018_converts_exactly_and_resumes(brats2018, tmp_path, capsys):
    root, cases = brats2018
    out = tmp_path / "raw"
    assert brats.main(["-i", str(root), "-d", "7", "--name", "BraTS2018", "-o", str(out),
                       "-np", "2", "--no-progress"]) == 0
    folder = out / "Dataset007_BraTS2018"
    dataset = json.loads((folder / "dataset.json").read_text())
    assert dataset["name"] == "BraTS2018"
    assert dataset["channel_names"] == {"0": "T1", "1": "T2", "2": "FLAIR"}
    assert dataset["labels"] == {"background": 0, "necrosis": 1, "oedema": 2, "enhancing": 3}
    assert dataset["numTraining"] == 3 and dataset["file_ending"] == ".nii.gz"
    assert "Menze" in dataset["reference"] and dataset["licence"]
    for case_id, files in cases.items():
        check_case(folder, case_id, files, ["t1", "t2", "flair"], "2018")
    assert sorted(p.name for p in (folder / "imagesTs").iterdir()) == [
        f"Brats18_CBICA_AAM_1_000{c}.nii.gz" for c in range(3)]
    assert verify_dataset(folder, progress=False) == []

    before = mtimes(folder)
    report = brats.convert_brats(root, 7, "BraTS2018", out, num_processes=2, progress=False)
    assert report.converted == [] and sorted(report.skipped) == sorted(cases)
    assert mtimes(folder) == before, "a second run must not rewrite anything"

    (folder / "masksTr" / "Brats18_2013_0_1.nii.gz").unlink()  # an interrupted run
    report = brats.convert_brats(root, 7, "BraTS2018", out, progress=False)
    assert report.converted == ["Brats18_2013_0_1"]
    check_case(folder, "Brats18_2013_0_1", cases["Brats18_2013_0_1"], ["t1", "t2", "flair"],
               "2018")


def test_refuses_to_overwrite_a_different_dataset(brats2018, tmp_path, capsys):
    root, _ = brats2018
    out = tmp_path / "raw"
    brats.convert_brats(root, 7, "BraTS2018", out, progress=False)
    before = mtimes(out)
    assert brats.main(["-i", str(root), "-d", "7", "--name", "BraTS2018", "-o", str(out),
                       "--contrasts", "T1", "T1CE"]) == 1
    error = capsys.readouterr().err
    assert "Dataset007_BraTS2018 already holds a different dataset" in error
    assert "channel_names" in error
    assert brats.main(["-i", str(root), "-d", "7", "--name", "Other", "-o", str(out)]) == 1
    assert "dataset id 007 is already used by Dataset007_BraTS2018" in capsys.readouterr().err
    (out / "Dataset008_Stray").mkdir()
    (out / "Dataset008_Stray" / "notes.txt").write_text("not a dataset")
    assert brats.main(["-i", str(root), "-d", "8", "--name", "Stray", "-o", str(out)]) == 1
    assert "has no dataset.json" in capsys.readouterr().err
    assert mtimes(out) == before | {out / "Dataset008_Stray" / "notes.txt":
                                    (out / "Dataset008_Stray" / "notes.txt").stat().st_mtime_ns}


def test_brats2023_keeps_labels_and_channel_order(tmp_path, autosynth_env):
    root = tmp_path / "ASNR-MICCAI-BraTS2023-GLI-Challenge-TrainingData"
    cases = {f"BraTS-GLI-0000{i}-000": write_brats_case(root, f"BraTS-GLI-0000{i}-000", "2023",
                                                        10 + i, with_seg=i < 2)
             for i in range(3)}
    assert brats.main(["-i", str(root), "-d", "23", "--contrasts", "flair", "T1CE", "T1",
                       "-np", "1", "--no-progress"]) == 0
    folder = autosynth_env / "raw" / "Dataset023_BraTS"  # default output root and name
    dataset = json.loads((folder / "dataset.json").read_text())
    assert dataset["channel_names"] == {"0": "FLAIR", "1": "T1CE", "2": "T1"}
    assert dataset["numTraining"] == 2
    for case_id, files in cases.items():
        check_case(folder, case_id, files, ["t2f", "t1c", "t1n"], "2023")
    assert verify_dataset(folder, progress=False) == []


def test_discovery_and_style_detection(brats2018, tmp_path):
    root, cases = brats2018
    found = brats.find_brats_cases(root)
    assert [c.case_id for c in found] == sorted(cases)
    assert brats.detect_style(found, root) == "2018"
    assert found[0].files["T1CE"].name.endswith("_t1ce.nii.gz")
    write_brats_case(root / "2023", "BraTS-GLI-00009-000", "2023", 9)
    with pytest.raises(ConversionError, match="mixes BraTS 2018-2021 naming"):
        brats.detect_style(brats.find_brats_cases(root), root)


def test_clear_errors(brats2018, tmp_path, capsys):
    root, cases = brats2018
    out = str(tmp_path / "raw")
    assert brats.main(["-i", str(tmp_path / "nowhere"), "-d", "1", "-o", out]) == 1
    assert f"input folder not found: {tmp_path / 'nowhere'}" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert brats.main(["-i", str(tmp_path / "empty"), "-d", "1", "-o", out]) == 1
    assert "no BraTS case found under" in capsys.readouterr().err
    assert brats.main(["-i", str(root), "-d", "1", "-o", out, "--contrasts", "T1", "DWI"]) == 1
    assert "--contrasts must be distinct names among T1, T1CE, T2, FLAIR" in capsys.readouterr().err

    cases["Brats18_2013_0_1"]["flair"].unlink()
    assert brats.main(["-i", str(root), "-d", "1", "-o", out]) == 1
    error = capsys.readouterr().err
    assert "Brats18_2013_0_1 (no FLAIR:" in error and "Brats18_2013_0_1_flair.nii.gz" in error
    assert not (tmp_path / "raw" / "Dataset001_BraTS").exists(), "nothing written before a refusal"


def test_unknown_label_fails_that_case_only(brats2018, tmp_path, capsys):
    root, cases = brats2018
    seg_path = cases["Brats18_TCIA01_190_1"]["seg"]
    seg, image = read(seg_path)
    seg[0, 0, 0] = 5
    write_image(seg, Geometry.of(image), seg_path)
    assert brats.main(["-i", str(root), "-d", "3", "-o", str(tmp_path / "raw"),
                       "--no-progress"]) == 1
    error = capsys.readouterr().err
    assert "1 case(s) failed" in error
    assert f"Brats18_TCIA01_190_1: {seg_path}: label value(s) [5.0]" in error
    images = tmp_path / "raw" / "Dataset003_BraTS" / "imagesTr"
    assert sorted({p.name[:-12] for p in images.iterdir()}) == ["Brats18_2013_0_1",
                                                                "Brats18_CBICA_AAB_1"]


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        brats.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--input", "--dataset-id", "--name", "--output-root", "--num-processes",
                   "--contrasts", "--no-progress", "HGG", "t2f"):
        assert option in text
