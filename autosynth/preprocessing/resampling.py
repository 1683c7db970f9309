"""In-plane resampling of slice stacks onto a grid of given spacing, and exactly back.

The output grid is centred on the input: both cover the same physical extent up to less than one
output pixel, and output pixel ``j`` samples the input at continuous index
``((j + 0.5) * out_spacing + shift) / in_spacing - 0.5`` with ``shift = (n_in * in_spacing -
n_out * out_spacing) / 2``. Going back swaps the two grids in the same formula, so the inverse
mapping is exact whatever the rounding of the sizes. Sampling is torch's ``grid_sample``
(cubic convolution, a = -0.75, for images; nearest for masks and labels).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

MODES = {3: "bicubic", 1: "bilinear", 0: "nearest"}
CHUNK = 64  # slices per grid_sample call: bounds the temporary memory of large stacks


def size_at_spacing(shape: tuple[int, int], in_spacing, out_spacing) -> list[int]:
    """Pixels per axis that cover ``shape`` pixels of ``in_spacing`` at ``out_spacing``."""
    return [max(1, int(round(n * si / so))) for n, si, so in zip(shape, in_spacing, out_spacing)]


def sample_positions(n_out: int, out_spacing: float, n_in: int, in_spacing: float) -> np.ndarray:
    """Continuous input indices of the output pixel centres (grids centred on each other)."""
    shift = (n_in * in_spacing - n_out * out_spacing) / 2
    return ((np.arange(n_out) + 0.5) * out_spacing + shift) / in_spacing - 0.5


def resample_stack(stack: np.ndarray, size: tuple[int, int], order: int = 3,
                   in_spacing=(1.0, 1.0), out_spacing=None) -> np.ndarray:
    """Resample the last two axes of ``stack`` (``(..., A, B)``) to ``size`` pixels; float32.

    Without ``out_spacing`` the output covers the input's extent exactly (a stretch); with it,
    the output pixels have that spacing. ``order`` 3 cubic (images), 1 linear, 0 nearest.
    """
    if order not in MODES:
        raise ValueError(f"order must be one of {sorted(MODES)}, got {order}")
    stack = np.asarray(stack)
    size = (int(size[0]), int(size[1]))
    shape = stack.shape[-2:]
    if out_spacing is None:
        out_spacing = [si * n / s for si, n, s in zip(in_spacing, shape, size)]
    if tuple(shape) == size and all(abs(a - b) < 1e-12 for a, b in zip(in_spacing, out_spacing)):
        return stack.astype(np.float32, copy=True)
    rows = sample_positions(size[0], out_spacing[0], shape[0], in_spacing[0])
    cols = sample_positions(size[1], out_spacing[1], shape[1], in_spacing[1])
    # grid_sample, align_corners=False: normalised x = (2 * index + 1) / n - 1
    gy = torch.from_numpy((2 * rows + 1) / shape[0] - 1).float()
    gx = torch.from_numpy((2 * cols + 1) / shape[1] - 1).float()
    grid = torch.stack(torch.meshgrid(gx, gy, indexing="xy"), dim=-1)  # (A', B', 2): x, y
    lead = stack.shape[:-2]
    flat = np.ascontiguousarray(stack, dtype=np.float32).reshape(-1, 1, *shape)
    out = np.empty((flat.shape[0], *size), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, flat.shape[0], CHUNK):
            part = torch.from_numpy(flat[start:start + CHUNK].copy())
            batch_grid = grid.expand(part.shape[0], *grid.shape)
            out[start:start + part.shape[0]] = F.grid_sample(
                part, batch_grid, mode=MODES[order], padding_mode="border",
                align_corners=False)[:, 0].numpy()
    return out.reshape(*lead, *size)


def pad_to_at_least(stack: np.ndarray, minimum: tuple[int, int]) -> tuple[np.ndarray, list[int]]:
    """Zero-pad the last two axes of ``stack`` to at least ``minimum``, centred; returns the
    padded stack and the padding before each axis."""
    h, w = stack.shape[-2:]
    target = (max(h, int(minimum[0])), max(w, int(minimum[1])))
    before = [(target[0] - h) // 2, (target[1] - w) // 2]
    if target == (h, w):
        return stack, [0, 0]
    out = np.zeros(stack.shape[:-2] + target, dtype=stack.dtype)
    out[..., before[0]:before[0] + h, before[1]:before[1] + w] = stack
    return out, before


def resample_slices(stack: np.ndarray, n_out: int, order: int, in_spacing: float,
                    out_spacing: float) -> np.ndarray:
    """Resample axis 1 of ``(C, S, H, W)`` to ``n_out`` slices of ``out_spacing`` (3D patches).

    The same centred-grid rule as :func:`resample_stack`, applied to the (S, H) plane with H
    sampled at its own pixel centres (where cubic and linear weights are exactly 0 and 1), so
    H is unchanged and the inverse with the grids swapped is exact in the same way.
    """
    stack = np.asarray(stack)
    height = stack.shape[2]
    planes = np.ascontiguousarray(np.transpose(stack, (0, 3, 1, 2)))  # (C, W, S, H)
    out = resample_stack(planes, (n_out, height), order, (in_spacing, 1.0), (out_spacing, 1.0))
    return np.ascontiguousarray(np.transpose(out, (0, 2, 3, 1)))


def pad_slices_to_at_least(stack: np.ndarray, minimum: int) -> tuple[np.ndarray, int]:
    """Zero-pad axis 1 of ``(C, S, H, W)`` to at least ``minimum`` slices, centred; returns
    the padded stack and the slices added before."""
    count = stack.shape[1]
    if count >= minimum:
        return stack, 0
    before = (minimum - count) // 2
    out = np.zeros((stack.shape[0], minimum, *stack.shape[2:]), dtype=stack.dtype)
    out[:, before:before + count] = stack
    return out, before
