"""IXI converter: a smooth structured head phantom, T1 moved by a known rigid transform onto a
sagittal grid of other spacing, T2 and PD on one axial LPS grid, as in IXI."""
from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from autosynth.dataset.integrity import verify_dataset
from dataset_conversion import ixi
from dataset_conversion.common import ConversionError

# (centre mm, semi-axes mm, T1, T2, PD); later structures are drawn over earlier ones
STRUCTURES = [
    ((0, 0, 0), (34, 40, 32), 0.80, 0.50, 0.70),   # scalp
    ((0, 0, 0), (30, 36, 28), 0.10, 0.15, 0.20),   # skull
    ((0, 2, 1), (27, 33, 25), 0.65, 0.75, 0.85),   # grey matter
    ((1, 3, 3), (21, 26, 18), 1.00, 0.45, 0.70),   # white matter
    ((-6, -4, 4), (4, 10, 5), 0.15, 1.00, 1.00),   # left ventricle
    ((7, -2, 5), (3, 9, 4), 0.15, 1.00, 1.00),     # right ventricle
    ((10, 14, -8), (6, 5, 7), 0.40, 0.90, 0.90),   # lesion
    ((-12, 18, 10), (4, 3, 3), 0.90, 0.30, 0.60),  # small bright blob
]
CONTRAST_COLUMN = {"T1": 2, "T2": 3, "PD": 4}
SCALE = {"T1": 800.0, "T2": 1000.0, "PD": 900.0}
BRAIN_CORNERS = np.array([[x, y, z] for x in (-27, 27) for y in (-31, 35) for z in (-24, 26)],
                         float)
T2_GRID = dict(size=(40, 46, 36), spacing=(1.8, 1.8, 2.2), origin=(36.0, 41.4, -38.5),
               direction=(-1, 0, 0, 0, -1, 0, 0, 0, 1))
T1_GRID = dict(size=(44, 40, 44), spacing=(2.0, 2.2, 2.0), origin=(46.0, -44.0, 45.0),
               direction=(0, 0, -1, 1, 0, 0, 0, -1, 0))  # sagittal slices, like IXI T1


def phantom(points: np.ndarray, contrast: str) -> np.ndarray:
    """Soft-edged ellipsoids evaluated at (..., 3) points in mm of the subject's frame."""
    value = np.zeros(points.shape[:-1])
    for centre, axes, *intensities in STRUCTURES:
        r = np.sqrt((((points - centre) / np.asarray(axes)) ** 2).sum(-1))
        weight = 1 / (1 + np.exp(np.clip((r - 1) * min(axes) / 1.2, -50, 50)))
        value = value * (1 - weight) + intensities[CONTRAST_COLUMN[contrast] - 2] * weight
    return SCALE[contrast] * value


def grid_points(size, spacing, origin, direction) -> np.ndarray:
    """Physical points of every voxel, as a (Z, Y, X, 3) array."""
    index = np.stack(np.meshgrid(*[np.arange(s) for s in size], indexing="ij"), -1)
    points = np.asarray(origin) + (index * spacing) @ np.reshape(direction, (3, 3)).T
    return points.transpose(2, 1, 0, 3)


def rigid(angles_deg, translation_mm) -> sitk.Euler3DTransform:
    transform = sitk.Euler3DTransform()
    transform.SetRotation(*np.deg2rad(angles_deg))
    transform.SetTranslation(tuple(translation_mm))
    return transform


def make_image(grid: dict, contrast: str, seed: int,
               moved_by: sitk.Euler3DTransform | None = None) -> sitk.Image:
    """The phantom on ``grid``; ``moved_by`` maps T2-frame points to where they are in this scan."""
    points = grid_points(**grid)
    if moved_by is not None:  # voxel at q shows the anatomy at T^-1(q) = R^T (q - t)
        rotation = np.reshape(moved_by.GetMatrix(), (3, 3))
        points = (points - np.asarray(moved_by.GetTranslation())) @ rotation
    noise = np.random.default_rng(seed).normal(0, 10, points.shape[:-1])
    image = sitk.GetImageFromArray(np.abs(phantom(points, contrast) + noise).astype(np.int16))
    image.SetSpacing(grid["spacing"])
    image.SetOrigin(grid["origin"])
    image.SetDirection(grid["direction"])
    return image


def max_error_mm(found: sitk.Transform, true: sitk.Transform) -> float:
    """Largest distance between the two transforms over the brain's bounding box (its corners,
    since the difference of two affine maps is largest at a vertex)."""
    return max(np.linalg.norm(np.subtract(found.TransformPoint(tuple(p)),
                                          true.TransformPoint(tuple(p)))) for p in BRAIN_CORNERS)


def test_registration_recovers_a_known_rigid_transform():
    true = rigid((3.0, -4.0, 5.0), (2.5, -3.0, 1.5))
    t2 = make_image(T2_GRID, "T2", 0)
    t1 = make_image(T1_GRID, "T1", 1, moved_by=true)
    assert max_error_mm(sitk.Euler3DTransform(), true) > 5  # the start is far off
    mask = sitk.GetImageFromArray(ixi.head_mask(t2))
    mask.CopyInformation(t2)
    found = ixi.register_rigid(t2, t1, mask)
    assert max_error_mm(found, true) < 1.0


def write_ixi_tree(root: Path, subjects: dict[str, tuple], missing=()) -> None:
    """IXI-T1/, IXI-T2/, IXI-PD/ folders, each subject moved by its own transform for T1."""
    for seed, (subject, (angles, shift)) in enumerate(subjects.items()):
        for contrast in ("T1", "T2", "PD"):
            if (subject, contrast) in missing:
                continue
            grid, moved = (T1_GRID, rigid(angles, shift)) if contrast == "T1" else (T2_GRID, None)
            path = root / f"IXI-{contrast}" / f"{subject}-{contrast}.nii.gz"
            path.parent.mkdir(parents=True, exist_ok=True)
            noise_seed = 10 * seed + list(CONTRAST_COLUMN).index(contrast)
            sitk.WriteImage(make_image(grid, contrast, noise_seed, moved),
                            str(path), useCompression=True)


def assert_same_grid(path: Path, reference: Path) -> None:
    a, b = sitk.ReadImage(str(path)), sitk.ReadImage(str(reference))
    assert (a.GetSize(), a.GetSpacing(), a.GetOrigin(), a.GetDirection()) == \
        (b.GetSize(), b.GetSpacing(), b.GetOrigin(), b.GetDirection())
    assert np.array_equal(nib.load(str(path)).affine, nib.load(str(reference)).affine)


def test_ixi_conversion(tmp_path, capsys):
    root, out = tmp_path / "IXI", tmp_path / "raw"
    subjects = {"IXI002-Guys-0828": ((2.0, -3.0, 4.0), (3.0, -2.0, 1.0)),
                "IXI012-HH-1211": ((-4.0, 2.0, -3.0), (-2.0, 3.5, -1.5)),
                "IXI013-HH-1212": ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))}
    write_ixi_tree(root, subjects, missing={("IXI013-HH-1212", "PD")})
    assert ixi.main(["-i", str(root), "-d", "2", "-o", str(out), "-np", "2",
                     "--no-progress"]) == 0
    assert "skipping 1 subject(s) missing a contrast: IXI013-HH-1212 (no PD)" in \
        capsys.readouterr().err
    folder = out / "Dataset002_IXI"
    dataset = json.loads((folder / "dataset.json").read_text())
    assert dataset["channel_names"] == {"0": "T1", "1": "T2", "2": "PD"}
    assert dataset["numTraining"] == 2 and "labels" not in dataset
    assert "CC BY-SA" in dataset["licence"]
    ideal_t1 = phantom(grid_points(**T2_GRID), "T1")  # T1 as it would look on the T2 grid
    points = grid_points(**T2_GRID)
    head = np.sqrt((points ** 2 / np.array([34, 40, 32]) ** 2).sum(-1)) < 1
    brain = np.sqrt(((points - (0, 2, 1)) ** 2 / np.array([27, 33, 25]) ** 2).sum(-1)) < 0.9
    for subject in ("IXI002-Guys-0828", "IXI012-HH-1211"):
        t2 = root / "IXI-T2" / f"{subject}-T2.nii.gz"
        images = folder / "imagesTr"
        assert (images / f"{subject}_0001.nii.gz").read_bytes() == t2.read_bytes()
        assert (images / f"{subject}_0002.nii.gz").read_bytes() == \
            (root / "IXI-PD" / f"{subject}-PD.nii.gz").read_bytes()
        t1_path = images / f"{subject}_0000.nii.gz"
        assert_same_grid(t1_path, t2)
        t1 = sitk.GetArrayFromImage(sitk.ReadImage(str(t1_path)))
        assert np.corrcoef(t1[brain], ideal_t1[brain])[0, 1] > 0.99, "T1 not aligned with T2"
        mask_path = folder / "masksTr" / f"{subject}.nii.gz"
        assert_same_grid(mask_path, t2)
        mask = sitk.GetArrayFromImage(sitk.ReadImage(str(mask_path))).astype(bool)
        assert 2 * (mask & head).sum() / (mask.sum() + head.sum()) > 0.95
    assert not list(folder.rglob("IXI013*"))
    assert verify_dataset(folder, progress=False) == []

    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}
    report = ixi.convert_ixi(root, 2, output_root=out, progress=False)
    assert report.converted == [] and len(report.skipped) == 2
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()} == before


def test_flat_layout_and_duplicates(tmp_path):
    for name in ("IXI002-Guys-0828-T1.nii.gz", "IXI002-Guys-0828-T2.nii.gz",
                 "IXI002-Guys-0828-PD.nii.gz", "IXI002-Guys-0828-MRA.nii.gz", "README.txt"):
        (tmp_path / name).write_bytes(b"")
    found = ixi.find_ixi_subjects(tmp_path)
    assert list(found) == ["IXI002-Guys-0828"] and sorted(found["IXI002-Guys-0828"]) == \
        ["PD", "T1", "T2"]
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "IXI002-Guys-0828-T1.nii.gz").write_bytes(b"")
    with pytest.raises(ConversionError, match="already has a T1 file"):
        ixi.find_ixi_subjects(tmp_path)


def test_clear_errors_and_help(tmp_path, capsys):
    out = str(tmp_path / "raw")
    assert ixi.main(["-i", str(tmp_path / "nowhere"), "-d", "2", "-o", out]) == 1
    assert f"input folder not found: {tmp_path / 'nowhere'}" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert ixi.main(["-i", str(tmp_path / "empty"), "-d", "2", "-o", out]) == 1
    assert "no IXI file found under" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        ixi.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--input", "--dataset-id", "--name", "--output-root", "--num-processes",
                   "--contrasts", "--no-progress", "IXI-T1/"):
        assert option in text
