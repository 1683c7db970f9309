"""Training losses: values against independent computations, brain restriction, tumour weight,
gradients, the plan fields and the trainer's use of them."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from autosynth.architectures.residual_unet import ResidualUNet
from autosynth.evaluation.masked_ssim import masked_ssim
from autosynth.experiment_planning.fingerprint import extract_fingerprint
from autosynth.experiment_planning.configurations import plan_experiment
from autosynth.experiment_planning.plans import Plans, PlansError
from autosynth.training.context import TrainingRun
from autosynth.training.losses import LOSSES, build_loss, ssim_map
from autosynth.training.registry import get_trainer_class
from tests.builders import write_tiny_dataset


def pair(shape, seed=0, noise=0.1):
    generator = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=generator, dtype=torch.float64)
    output = (target + noise * torch.randn(shape, generator=generator, dtype=torch.float64))
    return output.clamp(0, 1), target


@pytest.mark.parametrize("shape", [(2, 1, 24, 20), (2, 1, 16, 18, 14)])
def test_l1_ssim_equals_l1_plus_one_minus_skimage_ssim(shape):
    output, target = pair(shape)
    ssim = np.mean([structural_similarity(target[b, 0].numpy(), output[b, 0].numpy(),
                                          data_range=1.0, gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False) for b in range(shape[0])])
    l1 = np.abs(output.numpy() - target.numpy()).mean()
    assert float(build_loss("l1_ssim")(output, target)) == pytest.approx(l1 + 1 - ssim, abs=1e-9)
    assert float(build_loss("l1_ssim")(target, target)) == pytest.approx(0.0, abs=1e-12)


def test_mse_and_l1_values():
    output, target = pair((2, 1, 8, 8))
    difference = (output - target).numpy()
    assert float(build_loss("mse")(output, target)) == pytest.approx((difference ** 2).mean())
    for name in ("l1", "mae", "L1"):
        assert float(build_loss(name)(output, target)) == pytest.approx(np.abs(difference).mean())
    with pytest.raises(ValueError, match="unknown loss 'ssim'"):
        build_loss("ssim")


def test_in_brain_ssim_equals_the_evaluations_masked_ssim():
    """A brain well inside the patch: every window of a brain voxel stays inside the valid part,
    so the normalised-convolution SSIM is the evaluation's masked SSIM exactly."""
    output, target = pair((1, 1, 40, 36), seed=3)
    mask = torch.zeros_like(target, dtype=torch.bool)
    mask[..., 12:28, 11:25] = True
    loss = build_loss("l1_ssim", in_brain=True)(output, target, mask)
    l1 = (output - target).abs()[mask].mean()
    expected = l1 + 1 - masked_ssim(output[0, 0], target[0, 0], mask[0, 0])
    assert float(loss) == pytest.approx(float(expected), abs=1e-9)


@pytest.mark.parametrize("name", LOSSES)
def test_in_brain_loss_ignores_out_of_brain_error_and_empty_mask_gives_zero(name):
    output, target = pair((2, 1, 24, 24), seed=1)
    mask = torch.zeros_like(target)
    mask[..., 6:18, 5:20] = 1
    loss = build_loss(name, in_brain=True)
    worse = output.clone()
    worse[mask == 0] = 1 - worse[mask == 0]           # any error outside the brain
    assert float(loss(worse, target, mask)) == pytest.approx(float(loss(output, target, mask)),
                                                             abs=1e-12)
    assert float(loss(worse, target, mask)) > 0
    assert float(build_loss(name)(worse, target)) > float(build_loss(name)(output, target))
    empty = output.clone().requires_grad_(True)
    value = loss(empty, target, torch.zeros_like(mask))
    value.backward()
    assert value.item() == 0.0 and torch.isfinite(empty.grad).all()
    with pytest.raises(ValueError, match="no brain mask"):
        loss(output, target)


@pytest.mark.parametrize("name", ["mse", "l1", "mae"])
@pytest.mark.parametrize("in_brain", [False, True])
def test_tumour_weight_scales_tumour_error_exactly(name, in_brain):
    _, target = pair((2, 1, 24, 24), seed=2)
    labels = torch.zeros_like(target, dtype=torch.int64)
    labels[..., 10:14, 9:15] = 2
    mask = torch.ones_like(target)
    output = target.clone()
    output[labels > 0] += 0.2                         # error only in the tumour
    one = build_loss(name, in_brain, 1.0)(output, target, mask, labels)
    three = build_loss(name, in_brain, 3.0)(output, target, mask, labels)
    assert float(three) == pytest.approx(3 * float(one), rel=1e-12) and float(one) > 0
    healthy = target.clone()
    healthy[..., 2:4, 2:4] += 0.2                     # error only outside the tumour
    assert float(build_loss(name, in_brain, 3.0)(healthy, target, mask, labels)) == \
        pytest.approx(float(build_loss(name, in_brain, 1.0)(healthy, target, mask, labels)))
    # without labels (a dataset without them) the weight has nothing to act on
    assert float(build_loss(name, in_brain, 3.0)(output, target, mask)) == pytest.approx(
        float(one))


@pytest.mark.parametrize("in_brain", [False, True])
def test_tumour_weight_of_l1_ssim_weighs_the_tumour_voxels_of_both_terms(in_brain):
    """SSIM spreads a tumour error over its windows; the weight applies where the window's
    centre is a tumour voxel, so the loss grows by exactly (w - 1) x the tumour voxels' share."""
    output, target = pair((2, 1, 24, 24), seed=2)
    labels = torch.zeros_like(target, dtype=torch.int64)
    labels[..., 10:14, 9:15] = 1
    mask = torch.ones_like(target)
    mask[..., 20:, :] = 0
    tumour = labels > 0
    region = mask if in_brain else torch.ones_like(mask)
    l1_share = (output - target).abs()[tumour].sum() / region.sum()
    inner = (slice(None), slice(None), slice(5, -5), slice(5, -5))
    s_map = ssim_map(output, target, region if in_brain else None)
    ssim_share = (1 - s_map)[tumour[inner]].sum() / region[inner].sum()
    one = build_loss("l1_ssim", in_brain, 1.0)(output, target, mask, labels)
    three = build_loss("l1_ssim", in_brain, 3.0)(output, target, mask, labels)
    assert float(three - one) == pytest.approx(2 * float(l1_share + ssim_share), rel=1e-10)


@pytest.mark.parametrize("shape", [(2, 1, 16, 16), (1, 1, 12, 16, 14)])
def test_l1_ssim_gradient_is_finite_and_lowers_the_loss(shape):
    output, target = pair(shape, seed=4)
    output = output.float().requires_grad_(True)
    target = target.float()
    mask = torch.ones_like(target)
    mask[..., :3] = 0
    labels = (target > 0.9).long()
    loss = build_loss("l1_ssim", True, 2.0)
    value = loss(output, target, mask, labels)
    value.backward()
    assert torch.isfinite(output.grad).all() and output.grad.abs().sum() > 0
    with torch.no_grad():
        assert float(loss(output - 1e-2 * output.grad.sign(), target, mask, labels)) < value.item()


def test_ssim_needs_patches_wider_than_its_window():
    output, target = pair((1, 1, 10, 32))
    with pytest.raises(ValueError, match="patch side > 10"):
        build_loss("l1_ssim")(output, target)


@pytest.fixture
def planned(tmp_path):
    raw = write_tiny_dataset(tmp_path / "raw" / "Dataset042_Tiny", n_cases=3)
    extract_fingerprint(raw, tmp_path / "pre", progress=False)
    plan_experiment(tmp_path / "pre")
    return tmp_path / "pre" / "plans.json"


def _edit(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def test_plan_fields_default_load_from_old_plans_and_bad_values_are_named(planned):
    plans = Plans.load(planned)
    training = plans.configurations["2d"].training
    assert (training.loss_in_brain, training.tumour_weight) == (False, 1.0)
    _edit(planned, lambda d: [d["configurations"]["2d"]["training"].pop(k)
                              for k in ("loss_in_brain", "tumour_weight")])
    assert Plans.load(planned) == plans               # a plan written before these fields
    for field, value in (("tumour_weight", 0), ("tumour_weight", "3"), ("loss_in_brain", "yes")):
        _edit(planned, lambda d: d["configurations"]["2d"]["training"].update({field: value}))
        with pytest.raises(PlansError, match=rf"plans.json.*configurations.2d.*training.{field}"):
            Plans.load(planned)
        _edit(planned, lambda d: d["configurations"]["2d"]["training"].pop(field))


def _trainer_with(autosynth_env, name="SynthesisTrainer", **training):
    plans_file = autosynth_env / "preprocessed" / "Dataset042_Tiny" / "plans.json"
    _edit(plans_file, lambda d: d["configurations"]["2d"]["training"].update(training))
    cls = get_trainer_class(name)
    run = TrainingRun.create("42", "2d", 0, ["T1"], "FLAIR", cls.__name__)
    trainer = cls(run, device="cpu", num_workers=0, progress=False)
    trainer.initialize()
    return trainer


def test_the_trainer_passes_the_batch_mask_and_labels_to_the_plans_loss(preprocessed_tiny):
    trainer = _trainer_with(preprocessed_tiny, loss="l1", loss_in_brain=True, tumour_weight=3.0)
    assert (trainer.loss.name, trainer.loss.in_brain, trainer.loss.tumour_weight) == \
        ("l1", True, 3.0)
    batch = next(iter(trainer._train_loader()))
    before = {k: v.clone() for k, v in trainer.network.state_dict().items()}
    empty = np.zeros_like(batch["target"], dtype=bool)
    assert trainer.train_step({**batch, "mask": empty, "labels": empty.astype(np.int16)}) == 0.0
    after = trainer.network.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # nothing in the brain: no step
    assert trainer.train_step({**batch, "mask": ~empty}) > 0
    assert "mask" in batch                 # the loaders carry the brain mask ...
    with pytest.raises(ValueError, match="no brain mask"):  # ... and a batch without it fails
        trainer.train_step({k: v for k, v in batch.items() if k != "mask"})


def test_block_and_loss_variants_reach_the_trainer(preprocessed_tiny):
    trainer = _trainer_with(preprocessed_tiny, name="SynthesisTrainer_ResidualBlock")
    planned = Plans.load(preprocessed_tiny / "preprocessed" / "Dataset042_Tiny").configurations[
        "2d"].network
    assert isinstance(trainer.network, ResidualUNet)
    assert trainer.network_config.features_per_stage == planned.features_per_stage
    assert trainer.train_step(next(iter(trainer._train_loader()))) > 0
    back = get_trainer_class("SynthesisTrainer_PaperBlock")(trainer.run).configure_network(
        trainer.network_config)
    assert back == dataclasses.replace(planned, input_channels=1, output_channels=1)
    ssim = get_trainer_class("SynthesisTrainer_L1SSIMLoss")(trainer.run)
    assert ssim.schedule.loss == "l1_ssim"


def test_a_plans_patch_is_checked_against_per_axis_strides(planned):
    network = json.loads(planned.read_text())["configurations"]["2d"]["network"]
    n = network["n_stages"]

    def strides(patch):
        def change(d):
            d["configurations"]["2d"]["network"]["pool_strides"] = [[2, 1]] * (n - 1)
            d["configurations"]["2d"]["patch_size"] = patch
        return change

    _edit(planned, strides([3 * 2 ** (n - 1), 7]))        # axis 1 is never pooled: 7 is fine
    assert Plans.load(planned).configurations["2d"].network.shape_divisors == (2 ** (n - 1), 1)
    _edit(planned, strides([3 * 2 ** (n - 1) + 1, 7]))
    with pytest.raises(PlansError, match=r"plans.json.*divisible by \[%d, 1\]" % 2 ** (n - 1)):
        Plans.load(planned)
