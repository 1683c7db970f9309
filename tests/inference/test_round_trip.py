"""Prediction lands on the input's grid, aligned with the source, for RAS, LPS and oblique."""
import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from autosynth.cli.predict import main as predict_main
from autosynth.dataset.image_io import read_image
from autosynth.experiment_planning.plans import NormalizationPlan
from autosynth.inference import networks
from autosynth.normalization import normalization_parameters, normalize
from tests.inference.model_builders import (LPS, RAS, OneMinus, make_model_folder, oblique,
                                            write_cohort)


@pytest.fixture
def one_minus(monkeypatch):
    """Replace every fold's network by the known function 1 - x."""
    monkeypatch.setattr(networks, "load_network", lambda path, device: OneMinus())


def _expected(source: np.ndarray, mask: np.ndarray) -> np.ndarray:
    plan = NormalizationPlan("brain_zscore_01", z_low=-3.0, z_high=3.0)
    params = normalization_parameters(source, mask, plan)
    return np.where(mask, 1.0 - normalize(source, mask, params), 0.0)


@pytest.mark.parametrize("direction", [RAS, LPS, oblique(4.0)], ids=["RAS", "LPS", "oblique"])
def test_output_has_the_input_geometry_and_the_known_target(tmp_path, autosynth_env, one_minus,
                                                            direction):
    model = make_model_folder(autosynth_env / "results")
    write_cohort(tmp_path / "in", n_cases=1, direction=direction, mask_folder=tmp_path / "masks")
    code = predict_main(["-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-m",
                         str(model), "--masks", str(tmp_path / "masks"), "--no-progress"])
    assert code == 0
    source_file = tmp_path / "in" / "sub00_0000.nii.gz"
    output_file = tmp_path / "out" / "sub00.nii.gz"
    source, geometry = read_image(source_file)
    output, out_geometry = read_image(output_file)
    assert out_geometry == geometry                                # bit-for-bit, via SimpleITK
    a, b = nib.load(str(source_file)).header, nib.load(str(output_file)).header
    for field in ("dim", "pixdim", "qform_code", "sform_code", "quatern_b", "quatern_c",
                  "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z", "srow_x", "srow_y",
                  "srow_z"):
        assert np.array_equal(a[field], b[field]), field
    mask = read_image(tmp_path / "masks" / "sub00.nii.gz")[0] > 0
    expected = _expected(source, mask)
    assert np.all(output[~mask] == 0)
    inner = ndimage.binary_erosion(mask, np.ones((1, 5, 5), bool))   # away from the brain edge
    error = np.abs(output - expected)[inner]
    assert error.mean() < 0.005 and error.max() < 0.05, (error.mean(), error.max())
    # misalignment by one voxel would be far worse than the resampling error
    shifted = np.abs(np.roll(output, 1, axis=2) - expected)[inner]
    assert shifted.mean() > 10 * error.mean()


def test_derived_mask_plain_names_and_every_brain_slice_predicted(tmp_path, autosynth_env,
                                                                  one_minus):
    model = make_model_folder(autosynth_env / "results")
    write_cohort(tmp_path / "in", n_cases=1, plain=True)
    assert predict_main(["-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-m",
                         str(model), "--no-progress"]) == 0
    source, _ = read_image(tmp_path / "in" / "sub00.nii.gz")
    output, _ = read_image(tmp_path / "out" / "sub00.nii.gz")
    mask = source > 0
    brain_slices = np.flatnonzero(mask.any(axis=(1, 2)))
    assert all(output[s][mask[s]].max() > 0 for s in brain_slices)  # even the thinnest slices
    assert np.all(output[~mask] == 0) and output.max() <= 1.0
