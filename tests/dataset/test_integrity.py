"""Each defect kind gives exactly one line naming the file and the defect."""
import gzip
import hashlib
import json

import nibabel as nib
import numpy as np
import pytest

from autosynth.cli.verify import main as verify_main
from autosynth.dataset.image_io import Geometry, read_image, write_image
from autosynth.dataset.integrity import DatasetIntegrityError, assert_dataset_ok, verify_dataset


def _rewrite(path, array=None, **geometry_changes):
    data, geometry = read_image(path)
    fields = geometry.to_dict()
    fields.update(geometry_changes)
    write_image(data if array is None else array, Geometry.from_dict(fields), path)


def _nib_write(path, array):
    nib.save(nib.Nifti1Image(array, np.diag([-1.0, -1.0, 1.0, 1.0])), str(path))


def _one_problem(folder):
    problems = verify_dataset(folder, progress=False)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_clean_dataset_has_no_problem(tiny_dataset):
    assert verify_dataset(tiny_dataset, progress=False) == []
    assert_dataset_ok(tiny_dataset, progress=False)


def test_missing_channel(tiny_dataset):
    (tiny_dataset / "imagesTr" / "case_001_0002.nii.gz").unlink()
    problem = _one_problem(tiny_dataset)
    assert problem.path.name == "case_001_0002.nii.gz"
    assert "missing" in problem.defect and "FLAIR" in problem.defect


def test_shape_mismatch(tiny_dataset):
    path = tiny_dataset / "imagesTr" / "case_000_0001.nii.gz"
    data, geometry = read_image(path)
    write_image(data[:-1], Geometry((32, 32, 23), geometry.spacing, geometry.origin,
                                    geometry.direction), path)
    problem = _one_problem(tiny_dataset)
    assert problem.path == path and problem.defect.startswith("size mismatch")


def test_spacing_mismatch(tiny_dataset):
    path = tiny_dataset / "masksTr" / "case_002.nii.gz"
    _rewrite(path, spacing=[1.0, 1.0, 1.2])
    problem = _one_problem(tiny_dataset)
    assert problem.path == path and problem.defect.startswith("spacing mismatch")


def test_spacing_within_tolerance_is_accepted(tiny_dataset):
    _rewrite(tiny_dataset / "imagesTr" / "case_000_0001.nii.gz", spacing=[1.0, 1.0, 1.00001])
    assert verify_dataset(tiny_dataset, progress=False) == []


def test_direction_mismatch(tiny_dataset):
    path = tiny_dataset / "labelsTr" / "case_000.nii.gz"
    _rewrite(path, direction=[1, 0, 0, 0, 1, 0, 0, 0, 1])
    problem = _one_problem(tiny_dataset)
    assert problem.path == path and problem.defect.startswith("direction mismatch")


def test_origin_mismatch(tiny_dataset):
    path = tiny_dataset / "imagesTr" / "case_000_0002.nii.gz"
    _rewrite(path, origin=[0.0, 0.0, 0.0])
    assert _one_problem(tiny_dataset).defect.startswith("origin mismatch")


def test_nan_voxels_are_found_although_simpleitk_reads_them_as_zero(tiny_dataset):
    path = tiny_dataset / "imagesTr" / "case_001_0000.nii.gz"
    data = np.asarray(nib.load(str(path)).dataobj).copy()
    data[3, 4, 5] = np.nan
    data[4, 4, 5] = np.inf
    nib.save(nib.Nifti1Image(data, nib.load(str(path)).affine, nib.load(str(path)).header), str(path))
    problem = _one_problem(tiny_dataset)
    assert problem.path == path and problem.defect == "2 NaN/Inf voxel(s)"


def test_empty_image(tiny_dataset):
    path = tiny_dataset / "imagesTr" / "case_002_0001.nii.gz"
    data, _ = read_image(path)
    _rewrite(path, array=np.zeros_like(data))
    problem = _one_problem(tiny_dataset)
    assert problem.path == path and "empty image" in problem.defect


def test_four_dimensional_image(tiny_dataset):
    path = tiny_dataset / "imagesTr" / "case_000_0000.nii.gz"
    _nib_write(path, np.ones((32, 32, 24, 2), np.float32))
    problem = _one_problem(tiny_dataset)
    assert problem.path == path and "expected a 3D image, got 4D" in problem.defect


def test_truncated_gzip(tiny_dataset):
    path = tiny_dataset / "imagesTr" / "case_001_0001.nii.gz"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    problem = _one_problem(tiny_dataset)
    assert problem.path == path and "truncated" in problem.defect


def test_truncated_voxel_data_inside_a_valid_gzip(tiny_dataset):
    path = tiny_dataset / "imagesTr" / "case_001_0001.nii.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-1000]))
    problem = _one_problem(tiny_dataset)
    assert problem.path == path and "truncated" in problem.defect


def test_non_image_file_with_nifti_name(tiny_dataset):
    path = tiny_dataset / "imagesTr" / "case_002_0000.nii.gz"
    path.write_text("this is not an image")
    problem = _one_problem(tiny_dataset)
    assert problem.path == path and "not a gzip file" in problem.defect
    path.write_bytes(gzip.compress(b"not a nifti header either" * 20))
    assert "not a NIfTI image" in _one_problem(tiny_dataset).defect


def test_broken_dataset_json(tiny_dataset):
    (tiny_dataset / "dataset.json").write_text('{"name": "x", ')
    problem = _one_problem(tiny_dataset)
    assert problem.path.name == "dataset.json" and "not valid JSON" in problem.defect


def test_wrong_num_training(tiny_dataset):
    data = json.loads((tiny_dataset / "dataset.json").read_text())
    data["numTraining"] = 5
    (tiny_dataset / "dataset.json").write_text(json.dumps(data))
    assert "numTraining is 5 but imagesTr holds 3" in _one_problem(tiny_dataset).defect


def test_stray_and_unknown_channel_files(tiny_dataset):
    src = tiny_dataset / "imagesTr" / "case_000_0000.nii.gz"
    (tiny_dataset / "imagesTr" / "case_000_0007.nii.gz").write_bytes(src.read_bytes())
    (tiny_dataset / "imagesTr" / "notes.txt").write_text("x")
    defects = sorted(p.defect for p in verify_dataset(tiny_dataset, progress=False))
    assert len(defects) == 2
    assert "channel 0007 is not in dataset.json" in defects[0]
    assert "name does not follow" in defects[1]


def test_all_problems_reported_at_once_in_parallel_and_nothing_modified(tiny_dataset):
    (tiny_dataset / "imagesTr" / "case_000_0002.nii.gz").unlink()
    (tiny_dataset / "imagesTr" / "case_002_0000.nii.gz").write_text("junk")
    _rewrite(tiny_dataset / "masksTr" / "case_001.nii.gz", spacing=[2.0, 1.0, 1.0])
    digest = {p: hashlib.sha256(p.read_bytes()).hexdigest()
              for p in tiny_dataset.rglob("*") if p.is_file()}
    problems = verify_dataset(tiny_dataset, num_processes=2, progress=False)
    assert {p.path.name for p in problems} == {"case_000_0002.nii.gz", "case_002_0000.nii.gz",
                                               "case_001.nii.gz"}
    assert digest == {p: hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in tiny_dataset.rglob("*") if p.is_file()}
    with pytest.raises(DatasetIntegrityError, match="3 problem"):
        assert_dataset_ok(tiny_dataset, progress=False)


def test_cli_exit_codes_and_lines(tiny_dataset, capsys):
    assert verify_main(["-d", "42", "--no-progress"]) == 0
    assert capsys.readouterr().out.strip().endswith("Dataset042_Tiny: OK")
    (tiny_dataset / "imagesTr" / "case_000_0001.nii.gz").unlink()
    assert verify_main(["-d", "Dataset042_Tiny", "--no-progress", "-np", "1"]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith(str(tiny_dataset / "imagesTr" / "case_000_0001"))
    assert verify_main(["-d", "77"]) == 2
