"""The same anatomy stored in six orientations gives the same prediction, with a network that
is not invariant to flips, rotations or axis order (a pointwise stand-in could not tell)."""
import math

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from torch import nn

from autosynth.cli.predict import main as predict_main
from autosynth.dataset.image_io import read_image
from autosynth.inference import networks
from tests.inference.model_builders import make_model_folder, smooth_case, tiny_plan

RAS = (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)
CODES = ("RAS", "LPS", "LAS", "LIA", "PIL")


class AsymmetricConv(nn.Module):
    """A fixed 3x3 kernel with no symmetry, squashed into (0, 1): every flip, rotation or
    transposition of the slice changes its output."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([[[[0.9, -0.3, 0.1], [0.4, 0.2, -0.7],
                                                   [0.05, 0.6, -0.25]]]]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 + 0.5 * torch.tanh(4 * (self.conv(x[:, :1]) - 0.2))


@pytest.fixture
def asymmetric(monkeypatch):
    monkeypatch.setattr(networks, "load_network", lambda path, device: AsymmetricConv().eval())


def _rotation_z(degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    return np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])


def _write_storages(folder, masks):
    """One RAS image (and mask) stored as RAS, LPS, LAS, LIA, PIL and 5-degree oblique RAS."""
    image, mask = smooth_case((16, 26, 30), seed=4)
    image = image + np.random.default_rng(1).normal(0, 3, image.shape).astype(np.float32) * mask
    for array, out, dtype in ((image, folder, sitk.sitkFloat32), (mask, masks, sitk.sitkUInt8)):
        itk = sitk.Cast(sitk.GetImageFromArray(array), dtype)
        itk.SetSpacing((1.1, 1.3, 1.7))
        itk.SetOrigin((20.0, -14.5, 3.25))
        itk.SetDirection(RAS)
        for code in CODES:
            name = f"{code.lower()}_0000.nii.gz" if out is folder else f"{code.lower()}.nii.gz"
            sitk.WriteImage(sitk.DICOMOrient(itk, code), str(out / name))
        oblique = sitk.Image(itk)
        oblique.SetDirection(tuple((_rotation_z(5.0) @ np.array(RAS).reshape(3, 3)).ravel()))
        name = "oblique_0000.nii.gz" if out is folder else "oblique.nii.gz"
        sitk.WriteImage(oblique, str(out / name))


def outputs_on_the_ras_grid(out, cohort) -> dict:
    """Each storage's prediction, checked to carry its input's own header, put back onto the
    RAS file's voxel grid (the inverse of how the file was stored)."""
    outputs = {}
    for name in [c.lower() for c in CODES] + ["oblique"]:
        written = sitk.ReadImage(str(out / f"{name}.nii.gz"))
        source = sitk.ReadImage(str(cohort / f"{name}_0000.nii.gz"))
        assert read_image(out / f"{name}.nii.gz")[1] == \
            read_image(cohort / f"{name}_0000.nii.gz")[1]            # the input's own header
        assert written.GetDirection() == source.GetDirection()
        outputs[name] = sitk.GetArrayFromImage(written if name == "oblique"
                                               else sitk.DICOMOrient(written, "RAS"))
    return outputs


def predict_six_storages(tmp_path, model) -> dict:
    """``autosynth_predict`` of the six storages of one case with ``model``; each output read
    back on the RAS grid."""
    cohort, masks = tmp_path / "in", tmp_path / "masks"
    cohort.mkdir()
    masks.mkdir()
    _write_storages(cohort, masks)
    assert predict_main(["-i", str(cohort), "-o", str(tmp_path / "out"), "-m", str(model),
                         "--masks", str(masks), "--no-progress"]) == 0
    return outputs_on_the_ras_grid(tmp_path / "out", cohort)


def test_six_storages_give_one_prediction(tmp_path, autosynth_env, asymmetric):
    model = make_model_folder(autosynth_env / "results",
                              plans=tiny_plan(patch=(16, 16), inplane_spacing=(1.2, 1.2)))
    outputs = predict_six_storages(tmp_path, model)
    reference = outputs["ras"]
    assert reference.std() > 0.05                                      # not a flat output
    for name, output in outputs.items():
        np.testing.assert_allclose(output, reference, atol=1e-5, err_msg=name)
    # the network really is orientation-sensitive: it does not commute with flips or transposes
    net, x = AsymmetricConv(), torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        for change in (lambda t: t.flip(-1), lambda t: t.flip(-2), lambda t: t.transpose(-1, -2)):
            assert (change(net(change(x))) - net(x)).abs().max() > 0.05
