"""Masked SSIM: window statistics from mask voxels only, checked against explicit loops."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from autosynth.evaluation.gaussian import gaussian_kernel1d, reflect_index
from autosynth.evaluation.masked_ssim import masked_ssim, masked_ssim_map
from autosynth.evaluation.metrics import compute_metrics

C1, C2 = 0.01 ** 2, 0.03 ** 2


def hand_masked_ssim(pred: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Voxel by voxel: the Gaussian weights of the window's mask voxels (reflected at the
    border as scipy does), normalised to sum 1, give the weighted means, variances and
    covariance; SSIM from those at every mask voxel, 0 elsewhere."""
    taps = gaussian_kernel1d(1.5, 3.5)
    radius = len(taps) // 2
    out = np.zeros(ref.shape)
    for centre in zip(*np.nonzero(mask)):
        total = ux = uy = uxx = uyy = uxy = 0.0
        for offsets in itertools.product(range(-radius, radius + 1), repeat=ref.ndim):
            index = tuple(int(reflect_index(np.array([c + o]), n)[0])
                          for c, o, n in zip(centre, offsets, ref.shape))
            weight = np.prod([taps[o + radius] for o in offsets]) * mask[index]
            x, y = ref[index], pred[index]
            total += weight
            ux, uy = ux + weight * x, uy + weight * y
            uxx, uyy, uxy = uxx + weight * x * x, uyy + weight * y * y, uxy + weight * x * y
        ux, uy, uxx, uyy, uxy = (v / total for v in (ux, uy, uxx, uyy, uxy))
        vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
        out[centre] = ((2 * ux * uy + C1) * (2 * vxy + C2)) / (
            (ux * ux + uy * uy + C1) * (vx + vy + C2))
    return out


@pytest.mark.parametrize("shape", [(40,), (14, 16)])
def test_masked_ssim_equals_the_hand_computation(shape):
    rng = np.random.default_rng(3)
    ref = rng.random(shape)
    pred = np.clip(ref + 0.2 * rng.standard_normal(shape), 0, 1)
    mask = np.zeros(shape, bool)
    mask[tuple(slice(3, n - 4) for n in shape)] = True
    mask.flat[rng.choice(mask.size, 5)] = False            # holes inside
    ref, pred = ref * mask, pred * mask                     # background 0, as in the brain case
    expected = hand_masked_ssim(pred, ref, mask)
    np.testing.assert_allclose(masked_ssim_map(pred, ref, mask).numpy(), expected, atol=1e-10)
    assert masked_ssim(pred, ref, mask) == pytest.approx(expected[mask].mean(), abs=1e-10)


def test_mask_of_ones_gives_scikit_image_full_map():
    rng = np.random.default_rng(0)
    ref = rng.random((13, 14, 15))
    pred = np.clip(ref + 0.1 * rng.standard_normal(ref.shape), 0, 1)
    _, expected = structural_similarity(ref, pred, data_range=1.0, gaussian_weights=True,
                                        sigma=1.5, use_sample_covariance=False, full=True)
    np.testing.assert_allclose(masked_ssim_map(pred, ref, np.ones(ref.shape, bool)).numpy(),
                               expected, atol=1e-12)


def test_right_at_the_edge_and_wrong_inside_scores_lower_than_before():
    """A 'brain' ball on a zero background; the prediction is exact in a 3-voxel shell at the
    edge and noise inside. The edge windows of the ordinary map see the zero background in
    both images and score near 1; the masked windows do not."""
    rng = np.random.default_rng(1)
    grid = np.indices((28, 28, 28)) - 13.5
    radius = np.sqrt((grid ** 2).sum(axis=0))
    brain = radius < 12
    ref = np.where(brain, 0.5 + 0.1 * rng.standard_normal(brain.shape), 0.0)
    interior = radius < 9
    pred = np.where(interior, np.clip(ref + 0.3 * rng.standard_normal(ref.shape), 0, 1), ref)
    metrics = compute_metrics(pred, ref, mask=brain)
    before, now = metrics["ssim_brain_unmasked_windows"], metrics["ssim_brain"]
    assert now < before - 0.03, (now, before)
    # and a prediction that is right everywhere still scores 1
    assert compute_metrics(ref, ref, mask=brain)["ssim_brain"] == pytest.approx(1.0, abs=1e-6)


def test_working_on_the_mask_box_changes_nothing():
    """The map is computed on the mask's bounding box grown by the window radius; a small
    mask far from the border gives the same map as the whole image."""
    import torch

    from autosynth.evaluation.masked_ssim import _masked_map

    rng = np.random.default_rng(5)
    ref = rng.random((30, 31, 32))
    pred = np.clip(ref + 0.1 * rng.standard_normal(ref.shape), 0, 1)
    mask = np.zeros(ref.shape, bool)
    mask[12:17, 10:20, 14:19] = True
    whole = _masked_map(torch.from_numpy(ref), torch.from_numpy(pred), torch.from_numpy(mask),
                        1.0, torch.float64)
    np.testing.assert_allclose(masked_ssim_map(pred, ref, mask).numpy(), whole.numpy(),
                               atol=1e-12)
    assert not masked_ssim_map(pred, ref, np.zeros_like(mask)).any()
