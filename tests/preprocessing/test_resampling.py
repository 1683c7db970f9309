"""The numpy resampler gives what torch's grid_sample gave (the sampler it replaced, kept
here as the reference), without torch, and the same bits whatever the BLAS thread count."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

from autosynth.preprocessing.resampling import resample_stack, sample_positions

MODES = {3: "bicubic", 1: "bilinear", 0: "nearest"}


def torch_reference(stack, size, order, in_spacing, out_spacing=None):
    shape = stack.shape[-2:]
    if out_spacing is None:
        out_spacing = [si * n / s for si, n, s in zip(in_spacing, shape, size)]
    rows = sample_positions(size[0], out_spacing[0], shape[0], in_spacing[0])
    cols = sample_positions(size[1], out_spacing[1], shape[1], in_spacing[1])
    gy = torch.from_numpy((2 * rows + 1) / shape[0] - 1).float()
    gx = torch.from_numpy((2 * cols + 1) / shape[1] - 1).float()
    grid = torch.stack(torch.meshgrid(gx, gy, indexing="xy"), dim=-1)
    flat = torch.from_numpy(stack.reshape(-1, 1, *shape).astype(np.float32))
    out = F.grid_sample(flat, grid.expand(flat.shape[0], *grid.shape), mode=MODES[order],
                        padding_mode="border", align_corners=False)[:, 0].numpy()
    return out.reshape(*stack.shape[:-2], *size)


@pytest.mark.parametrize("order", [0, 1, 3])
def test_matches_torch_grid_sample(order):
    rng = np.random.default_rng(order)
    for trial in range(25):
        a, b = rng.integers(5, 50, 2)
        size = tuple(int(n) for n in rng.integers(3, 60, 2))
        stack = rng.normal(size=(2, a, b)).astype(np.float32)
        spacing = tuple(float(s) for s in rng.uniform(0.5, 2.0, 2))
        target = None if trial % 2 else tuple(float(s) for s in rng.uniform(0.5, 2.0, 2))
        ours = resample_stack(stack, size, order, spacing, target)
        reference = torch_reference(stack, size, order, spacing, target)
        if order == 0:
            np.testing.assert_array_equal(ours, reference)   # ties fall the same way
        else:
            np.testing.assert_allclose(ours, reference, atol=2e-5)


def test_bits_do_not_depend_on_the_blas_thread_count():
    stack = np.random.default_rng(0).normal(size=(3, 20, 30, 28)).astype(np.float32)
    with threadpool_limits(2, user_api="blas"):
        two = resample_stack(stack, (224, 224), 3)
    with threadpool_limits(1, user_api="blas"):
        one = resample_stack(stack, (224, 224), 3)
    np.testing.assert_array_equal(one, two)
