"""2.5D and 3D prediction: the network really receives the neighbouring slices, and a 3D model
lands on the input's grid whatever the file's orientation (with a 3D network that is not
pointwise and not invariant to flips or axis order)."""
import dataclasses

import numpy as np
import SimpleITK as sitk
import torch
from torch import nn

from autosynth.cli.predict import main as predict_main
from autosynth.dataset.image_io import read_image
from autosynth.experiment_planning.plans import NormalizationPlan
from autosynth.inference import networks
from autosynth.normalization import normalization_parameters, normalize
from autosynth.preprocessing.context_slices import stack_neighbours
from tests.inference.model_builders import (RAS, make_model_folder, smooth_case, tiny_plan,
                                            tiny_plan_3d)
from tests.inference.test_orientation_invariance import predict_six_storages


class SliceAbove(nn.Module):
    """Outputs channel 2 of a 3-slice context: the source's slice above the target slice."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 2:3]


class AsymmetricConv3d(nn.Module):
    """A fixed 3x3x3 kernel with no symmetry, squashed into (0, 1)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(1, 1, 3, padding=1, bias=False)
        weights = torch.linspace(-0.7, 0.9, 27).reshape(1, 1, 3, 3, 3)
        with torch.no_grad():
            self.conv.weight.copy_(weights[..., torch.randperm(3, generator=torch.Generator()
                                                                .manual_seed(3))] * 0.6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 + 0.5 * torch.tanh(4 * (self.conv(x[:, :1]) - 0.1))


def test_stacked_neighbours_follow_the_channel_rule():
    data = np.arange(2 * 4 * 1 * 1, dtype=np.float32).reshape(2, 4, 1, 1) + 1
    stacked = stack_neighbours(data, 3)
    assert stacked.shape == (6, 4, 1, 1)
    # channel c*3 + j is source c at offset j - 1; zeros beyond the ends
    np.testing.assert_array_equal(stacked[:3, :, 0, 0], [[0, 1, 2, 3], [1, 2, 3, 4],
                                                         [2, 3, 4, 0]])
    np.testing.assert_array_equal(stacked[3:, :, 0, 0], [[0, 5, 6, 7], [5, 6, 7, 8],
                                                         [6, 7, 8, 0]])


def test_a_2_5d_network_that_outputs_the_slice_above_predicts_the_shifted_source(
        tmp_path, autosynth_env, monkeypatch):
    plans = tiny_plan(patch=(32, 32), inplane_spacing=(1.0, 1.0))
    config = dataclasses.replace(plans.configurations["2d"], data_folder="2.5d",
                                 context_slices=3, null_slice_fraction=0.0)
    plans = dataclasses.replace(plans, configurations={"2.5d": config})
    model = make_model_folder(autosynth_env / "results", plans=plans)
    monkeypatch.setattr(networks, "load_network", lambda path, device: SliceAbove())
    image, mask = smooth_case((14, 30, 34), seed=2)
    for array, path in ((image, tmp_path / "in" / "c_0000.nii.gz"),
                        (mask, tmp_path / "masks" / "c.nii.gz")):
        path.parent.mkdir(exist_ok=True)
        itk = sitk.GetImageFromArray(array.astype(np.float32))
        itk.SetDirection(RAS)  # stored as RAS: array axis 0 is the canonical head-foot axis
        sitk.WriteImage(itk, str(path))
    assert predict_main(["-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-m",
                         str(model), "--masks", str(tmp_path / "masks"), "--no-progress"]) == 0
    output, _ = read_image(tmp_path / "out" / "c.nii.gz")
    brain = mask > 0
    params = normalization_parameters(image, brain,
                                      NormalizationPlan("brain_zscore_01", z_low=-3.0, z_high=3.0))
    source = np.where(brain, np.clip(normalize(image, brain, params), 0, 1), 0.0)
    above = np.zeros_like(source)
    above[:-1] = source[1:]                      # slice z shows the source's slice z + 1
    assert np.abs(source[1:] - source[:-1]).max() > 0.1   # the shift is visible
    np.testing.assert_allclose(output, above * brain, atol=1e-5)


def test_3d_model_gives_one_prediction_for_six_storages(tmp_path, autosynth_env, monkeypatch):
    model = make_model_folder(autosynth_env / "results", plans=tiny_plan_3d())
    monkeypatch.setattr(networks, "load_network",
                        lambda path, device: AsymmetricConv3d().eval())
    outputs = predict_six_storages(tmp_path, model)
    reference = outputs["ras"]
    assert reference.std() > 0.05
    for name, output in outputs.items():
        np.testing.assert_allclose(output, reference, atol=1e-5, err_msg=name)
    net, x = AsymmetricConv3d(), torch.rand(1, 1, 8, 8, 8)
    with torch.no_grad():
        for change in (lambda t: t.flip(-1), lambda t: t.flip(-3),
                       lambda t: t.transpose(-1, -3)):
            assert (change(net(change(x))) - net(x)).abs().max() > 0.05
