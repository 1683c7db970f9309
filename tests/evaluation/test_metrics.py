"""Metrics against scikit-image / scipy / numpy: SSIM (2D, 3D, per slice), PSNR, MAE, MSE."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage.metrics import structural_similarity

from autosynth.evaluation import compute_metrics, mae, mse, psnr, ssim, ssim_maps
from autosynth.evaluation.gaussian import gaussian_filter
from autosynth.evaluation.masked_ssim import masked_ssim_map

SK = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)


def skimage_ssim(ref, pred, data_range=1.0, full=False):
    return structural_similarity(ref, pred, data_range=data_range, full=full, **SK)


def random_pair(shape, seed=0):
    rng = np.random.default_rng(seed)
    ref = rng.random(shape)
    return np.clip(ref + 0.1 * rng.standard_normal(shape), 0, 1), ref


def phantom_pair(shape, seed=0):
    """A bright ellipsoid on a zero background, slightly noisy, and a blurred, offset 'synthesis'
    of it: flat bright regions are where float32 SSIM is least accurate."""
    rng = np.random.default_rng(seed)
    grid = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    ref = np.where(sum(g ** 2 for g in grid) < 0.6, 0.9, 0.0)
    ref = ref + np.where(sum(g ** 2 for g in grid) < 0.1, -0.4, 0.0)   # a darker 'lesion'
    ref = np.clip(ref + 0.003 * rng.standard_normal(shape), 0, 1)
    return np.clip(ndimage.gaussian_filter(ref, 1.0) + 0.01, 0, 1), ref


PAIRS = [random_pair, phantom_pair]
SHAPES_2D = [(11, 11), (37, 50), (64, 63)]
SHAPES_3D = [(11, 12, 13), (23, 31, 19), (30, 41, 37)]


@pytest.mark.parametrize("make", PAIRS)
@pytest.mark.parametrize("shape", SHAPES_2D + SHAPES_3D)
def test_ssim_equals_skimage(make, shape):
    pred, ref = make(shape)
    expected, expected_map = skimage_ssim(ref, pred, full=True)
    value64, map64 = ssim(pred, ref, full=True, dtype=torch.float64)
    assert value64 == pytest.approx(expected, abs=1e-12)
    np.testing.assert_allclose(map64, expected_map, atol=1e-10)
    value32, map32 = ssim(pred, ref, full=True)
    assert value32 == pytest.approx(expected, abs=1e-4)
    assert abs(value32 - expected) < 1e-6   # in practice far inside the 1e-4 asked for
    np.testing.assert_allclose(map32, expected_map, atol=1e-3)


@pytest.mark.parametrize("slice_axis", [0, 1, 2])
def test_per_slice_ssim_is_the_mean_of_skimage_2d(slice_axis):
    pred, ref = phantom_pair((14, 17, 15))
    slices = [skimage_ssim(np.take(ref, i, slice_axis), np.take(pred, i, slice_axis), full=True)
              for i in range(ref.shape[slice_axis])]
    value, s_map = ssim(pred, ref, per_slice=True, slice_axis=slice_axis, full=True)
    assert value == pytest.approx(np.mean([s[0] for s in slices]), abs=1e-6)
    np.testing.assert_allclose(s_map, np.stack([s[1] for s in slices], slice_axis), atol=1e-3)
    maps = ssim_maps(pred, ref, slice_axis=slice_axis, dtype=torch.float64)
    np.testing.assert_allclose(maps.per_slice_means().numpy(), [s[0] for s in slices], atol=1e-12)


@pytest.mark.parametrize("data_range", [2.0, 255.0])
def test_ssim_data_range(data_range):
    pred, ref = random_pair((20, 16, 24), seed=3)
    pred, ref = pred * data_range, ref * data_range
    assert ssim(pred, ref, data_range=data_range) == pytest.approx(
        skimage_ssim(ref, pred, data_range), abs=1e-6)


def test_identical_images():
    _, ref = phantom_pair((16, 20, 18))
    assert ssim(ref, ref) == pytest.approx(1.0, abs=1e-6)
    assert ssim(ref, ref, dtype=torch.float64) == pytest.approx(1.0, abs=1e-12)
    assert mse(ref, ref) == 0 and mae(ref, ref) == 0
    assert psnr(ref, ref) == math.inf
    metrics = compute_metrics(ref, ref)
    assert metrics["psnr"] == math.inf and metrics["ssim_per_slice"] == pytest.approx(1, abs=1e-6)


def test_mae_mse_psnr_hand_computed():
    ref = np.zeros((4, 5))
    pred = np.full((4, 5), 0.1)
    assert mae(pred, ref) == pytest.approx(0.1)
    assert mse(pred, ref) == pytest.approx(0.01)
    assert psnr(pred, ref) == pytest.approx(20.0)                     # 10 log10(1 / 0.01)
    assert psnr(pred, ref, data_range=2.0) == pytest.approx(20.0 + 20 * math.log10(2))
    pred[0, 0] = 1.1                                                  # one error of 1.1
    assert mae(pred, ref) == pytest.approx((19 * 0.1 + 1.1) / 20)
    assert mse(pred, ref) == pytest.approx((19 * 0.01 + 1.21) / 20)


def test_masked_metrics_equal_numpy_on_the_mask():
    pred, ref = random_pair((13, 22, 25), seed=5)
    mask = np.zeros(ref.shape, bool)
    mask[2:10, 3:20, 5:21] = True
    error = (pred - ref)[mask]
    assert mae(pred, ref, mask) == pytest.approx(np.abs(error).mean(), rel=1e-12)
    assert mse(pred, ref, mask) == pytest.approx(np.square(error).mean(), rel=1e-12)
    assert psnr(pred, ref, mask=mask) == pytest.approx(10 * np.log10(1 / np.square(error).mean()))
    _, expected_map = skimage_ssim(ref, pred, full=True)
    assert ssim(pred, ref, mask=mask) == pytest.approx(expected_map[mask].mean(), abs=1e-6)
    assert math.isnan(mae(pred, ref, np.zeros_like(mask)))


def test_compute_metrics_regions_and_keys():
    pred, ref = phantom_pair((20, 24, 22), seed=2)
    mask = ref > 0.05
    labels = np.zeros(ref.shape, np.uint8)
    labels[8:12, 10:14, 9:13] = 2
    labels[0, 0, 0] = 1                      # outside the brain: not tumour
    metrics = compute_metrics(pred, ref, mask=mask, labels=labels)
    _, s_map = skimage_ssim(ref, pred, full=True)
    tumour = (labels > 0) & mask
    regions = {"": None, "_brain": mask, "_tumour": tumour, "_non_tumour_brain": mask & ~tumour}
    for suffix, region in regions.items():
        select = (lambda a: a.ravel()) if region is None else (lambda a, r=region: a[r])
        error = select(pred - ref)
        assert metrics["mae" + suffix] == pytest.approx(np.abs(error).mean(), rel=1e-12)
        assert metrics["mse" + suffix] == pytest.approx(np.square(error).mean(), rel=1e-12)
        assert metrics["psnr" + suffix] == pytest.approx(-10 * np.log10(np.square(error).mean()))
        if region is not None:   # windows see the brain only (test_masked_ssim.py)
            windows_in_brain = masked_ssim_map(pred, ref, mask).numpy()
            assert metrics["ssim" + suffix] == pytest.approx(windows_in_brain[region].mean(),
                                                             abs=1e-6)
    assert metrics["ssim_brain_unmasked_windows"] == pytest.approx(s_map[mask].mean(), abs=1e-6)
    assert metrics["ssim"] == pytest.approx(skimage_ssim(ref, pred), abs=1e-6)
    brain_slices = [i for i in range(ref.shape[0]) if mask[i].any()]
    assert len(brain_slices) < ref.shape[0]
    assert metrics["ssim_per_slice"] == pytest.approx(
        np.mean([skimage_ssim(ref[i], pred[i]) for i in brain_slices]), abs=1e-6)

    assert set(compute_metrics(pred, ref)) == {"mae", "mse", "psnr", "ssim", "ssim_per_slice"}
    only_labels = compute_metrics(pred, ref, labels=labels)
    assert "ssim_tumour" in only_labels and "ssim_brain" not in only_labels
    assert only_labels["ssim_tumour"] == pytest.approx(s_map[labels > 0].mean(), abs=1e-6)
    assert "mae_non_tumour_brain" not in only_labels
    no_tumour = compute_metrics(pred, ref, mask=mask, labels=np.zeros_like(labels))
    assert "mae_tumour" not in no_tumour and "mae_non_tumour_brain" in no_tumour
    two_d = compute_metrics(pred[10], ref[10], mask=mask[10])
    assert "ssim_per_slice" not in two_d
    assert two_d["ssim"] == pytest.approx(skimage_ssim(ref[10], pred[10]), abs=1e-6)


def test_inputs_torch_float32_and_big_endian():
    pred, ref = random_pair((12, 15, 14), seed=4)
    expected = skimage_ssim(ref, pred)
    as_torch = ssim(torch.from_numpy(pred).float(), torch.from_numpy(ref))
    assert as_torch == pytest.approx(expected, abs=1e-5)
    assert ssim(pred.astype(">f8"), ref.astype(">f4")) == pytest.approx(expected, abs=1e-5)
    assert compute_metrics(pred.astype(">f8"), ref, labels=(ref > 0.9).astype(">u2"))["mae"] == \
        pytest.approx(np.abs(pred - ref).mean())


def test_errors():
    with pytest.raises(ValueError, match="shape"):
        ssim(np.zeros((12, 12)), np.zeros((12, 13)))
    with pytest.raises(ValueError, match="at least 11"):
        ssim(np.zeros((10, 12, 12)), np.zeros((10, 12, 12)))
    assert ssim(np.zeros((3, 12, 12)), np.zeros((3, 12, 12)), per_slice=True) == pytest.approx(1)
    with pytest.raises(ValueError, match="mask"):
        compute_metrics(np.zeros((12, 12)), np.zeros((12, 12)), mask=np.ones((12, 11), bool))


@pytest.mark.parametrize("shape,axes", [((7,), None), ((30, 41), None), ((13, 60, 5), (0,)),
                                        ((20, 11, 16), (-1,)), ((9, 12, 14), (0, 2))])
def test_gaussian_filter_equals_scipy(shape, axes):
    data = np.random.default_rng(1).random(shape)
    expected = ndimage.gaussian_filter(data, 1.5, truncate=3.5, mode="reflect", axes=axes)
    got = gaussian_filter(torch.from_numpy(data), 1.5, 3.5, axes=axes).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-14)
