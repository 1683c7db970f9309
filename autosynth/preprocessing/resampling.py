"""In-plane resampling of slice stacks onto the patch grid, and back.

torch's ``interpolate`` is used (cubic convolution, a = -0.75, like OpenCV's INTER_CUBIC):
about ten times faster than scipy's spline zoom on a BraTS case, on one core. With
``align_corners=False`` and an explicit output size, the pixel edges of input and output
coincide, so resizing back to the input size uses the exact inverse mapping.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

MODES = {3: "bicubic", 1: "bilinear", 0: "nearest-exact"}


def resize_stack(stack: np.ndarray, size: tuple[int, int], order: int = 3) -> np.ndarray:
    """Resize the last two axes of ``stack`` (``(..., A, B)``) to ``size``; float32 out.

    ``order`` 3 = cubic (images), 1 = linear, 0 = nearest (masks, labels).
    """
    if order not in MODES:
        raise ValueError(f"order must be one of {sorted(MODES)}, got {order}")
    stack = np.asarray(stack)
    size = (int(size[0]), int(size[1]))
    if stack.shape[-2:] == size:
        return stack.astype(np.float32, copy=True)
    lead = stack.shape[:-2]
    values = np.ascontiguousarray(stack, dtype=np.float32)
    if not values.flags.writeable:  # a read-only memory map: torch wants its own buffer
        values = values.copy()
    flat = torch.from_numpy(values).reshape(1, -1, *stack.shape[-2:])
    kwargs = {} if order == 0 else {"align_corners": False}
    with torch.no_grad():
        out = F.interpolate(flat, size=size, mode=MODES[order], **kwargs)
    return out.reshape(*lead, *size).numpy()


def fit_and_pad_layout(cropped: tuple[int, int], spacing: tuple[float, float],
                       target_spacing: tuple[float, float], patch: tuple[int, int]
                       ) -> tuple[list[int], list[int]]:
    """Resampled size and padding that put a cropped brain on the patch grid.

    The brain is resampled to ``target_spacing``; when it is then larger than the patch, it is
    shrunk by one factor for both axes (aspect ratio kept) just enough to fit. The result is
    centred in the patch and zero-padded. Returns (resampled size, padding before).
    """
    natural = [c * s / t for c, s, t in zip(cropped, spacing, target_spacing)]
    shrink = min(1.0, patch[0] / natural[0], patch[1] / natural[1])
    size = [int(min(p, max(1, round(n * shrink)))) for n, p in zip(natural, patch)]
    return size, [(p - s) // 2 for p, s in zip(patch, size)]


def place_in_patch(stack: np.ndarray, patch: tuple[int, int], pad_before) -> np.ndarray:
    """Zero-pad the last two axes of ``stack`` to ``patch``, with ``pad_before`` in front."""
    h, w = stack.shape[-2:]
    out = np.zeros(stack.shape[:-2] + tuple(patch), dtype=stack.dtype)
    out[..., pad_before[0]:pad_before[0] + h, pad_before[1]:pad_before[1] + w] = stack
    return out
