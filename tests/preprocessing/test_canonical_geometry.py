"""One geometry core: mixed orientations plan one slice axis, every case keeps the planned
spacing, and cases larger or smaller than the patch are predicted without seams."""
import numpy as np
import pytest
import SimpleITK as sitk
import torch
from torch import nn

from autosynth.cli.plan_and_preprocess import main as plan_main
from autosynth.cli.predict import main as predict_main
from autosynth.dataset.image_io import read_image
from autosynth.experiment_planning.fingerprint import load_fingerprint
from autosynth.experiment_planning.plans import NormalizationPlan, Plans
from autosynth.inference import networks
from autosynth.normalization import normalization_parameters, normalize
from autosynth.preprocessing.storage import load_case
from tests.builders import write_tiny_dataset
from tests.inference.model_builders import make_model_folder, tiny_plan, write_cohort


def _restore_as(folder, case, source_case, code):
    """Overwrite ``case``'s files with ``source_case``'s anatomy stored in orientation ``code``."""
    for sub in ("imagesTr", "masksTr", "labelsTr"):
        for path in sorted((folder / sub).glob(f"{source_case}*.nii.gz")):
            image = sitk.DICOMOrient(sitk.ReadImage(str(path)), code)
            sitk.WriteImage(image, str(path).replace(source_case, case))


def test_mixed_orientations_plan_one_axis_and_keep_the_spacing(autosynth_env):
    raw = write_tiny_dataset(autosynth_env / "raw" / "Dataset043_Mixed", n_cases=4,
                             spacing=(0.9, 1.0, 1.25))
    _restore_as(raw, "case_001", "case_000", "LPS")
    _restore_as(raw, "case_002", "case_000", "LIA")     # axes permuted, as FreeSurfer's
    assert plan_main(["-d", "43", "-c", "2d", "-np", "1", "--no-progress"]) == 0
    pre = autosynth_env / "preprocessed" / "Dataset043_Mixed"
    fingerprint = load_fingerprint(pre)
    stored = {c: r["orientation"] for c, r in fingerprint["cases"].items()}
    assert stored == {"case_000": "RAS", "case_001": "LPS", "case_002": "LIA",
                      "case_003": "RAS"}
    assert fingerprint["cases"]["case_002"]["spacing_zyx"] == \
        fingerprint["cases"]["case_000"]["spacing_zyx"] == pytest.approx([1.25, 1.0, 0.9])
    config = Plans.load(pre).configuration("2d")
    assert config.orientation == "RAS" and config.slice_axis == 0   # head-foot, the 1.25 mm axis
    reference = load_case(pre / "2d", "case_000")
    for case in ("case_000", "case_001", "case_002", "case_003"):
        data, _, _, properties = load_case(pre / "2d", case)
        assert properties.stored_spacing == config.inplane_spacing   # exactly, no shrinking
        assert data.shape[2] >= config.patch_size[0] and data.shape[3] >= config.patch_size[1]
        if case in ("case_001", "case_002"):  # the same anatomy as case_000, stored otherwise
            assert properties.orientation.stored in ("LPS", "LIA")
            np.testing.assert_array_equal(data, reference[0])
            np.testing.assert_array_equal(load_case(pre / "2d", case)[2], reference[2])


class FirstChannel(nn.Module):
    """Identity on the source: the output must be the normalised input, windows or not."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :1]


def test_cases_larger_and_smaller_than_the_patch_have_no_seams(tmp_path, autosynth_env,
                                                               monkeypatch):
    monkeypatch.setattr(networks, "load_network", lambda path, device: FirstChannel())
    spacing = (1.0, 1.0, 2.0)
    model = make_model_folder(autosynth_env / "results",
                              plans=tiny_plan(patch=(16, 16), inplane_spacing=(1.0, 1.0)))
    write_cohort(tmp_path / "big", n_cases=1, spacing=spacing, shape_zyx=(6, 30, 34),
                 mask_folder=tmp_path / "big_masks")
    write_cohort(tmp_path / "small", n_cases=1, spacing=spacing, shape_zyx=(6, 12, 12),
                 mask_folder=tmp_path / "small_masks")
    plan = NormalizationPlan("brain_zscore_01", z_low=-3.0, z_high=3.0)
    for name, min_extent in (("big", 21), ("small", 0)):
        assert predict_main(["-i", str(tmp_path / name), "-o", str(tmp_path / f"{name}_out"),
                             "-m", str(model), "--masks", str(tmp_path / f"{name}_masks"),
                             "--no-progress"]) == 0
        source, geometry = read_image(tmp_path / name / "sub00_0000.nii.gz")
        output, out_geometry = read_image(tmp_path / f"{name}_out" / "sub00.nii.gz")
        mask = read_image(tmp_path / f"{name}_masks" / "sub00.nii.gz")[0] > 0
        assert out_geometry == geometry
        extent = np.ptp(np.argwhere(mask)[:, 1:], axis=0) + 1
        assert extent.min() >= min_extent and (name == "big" or extent.max() < 16)
        expected = np.where(mask, normalize(source, mask, normalization_parameters(source, mask,
                                                                                   plan)), 0)
        np.testing.assert_allclose(output, expected, atol=1e-5, err_msg=name)
