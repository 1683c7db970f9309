"""The brain mask and what is measured from it: bounding box, slice occupancy, null slices.

When a dataset has no ``masksTr``, the mask is derived from the images (non-zero in any
contrast, largest connected component, holes filled): skull-stripped data such as BraTS are
zero outside the brain, so this recovers the brain without a segmentation model.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

MASK_FROM_FILE = "file"
MASK_DERIVED = "derived"

# A derived mask beyond these shares is the head or the noise, not a brain: a skull-stripped
# brain fills at most about half of even a tightly cropped field of view (an ellipsoid fills
# pi/6 = 52 % of its box) and meets the volume border only where it is cropped.
MAX_DERIVED_MASK_SHARE = 0.7         # of the field of view
MAX_DERIVED_MASK_BORDER_SHARE = 0.5  # of the voxels on the faces of the volume


def derive_brain_mask(images: np.ndarray) -> np.ndarray:
    """Brain mask of a ``(C, Z, Y, X)`` case: non-zero in any contrast, largest component, filled."""
    foreground = np.any(images != 0, axis=0)
    if not foreground.any():
        return foreground
    labelled, n = ndimage.label(foreground)
    if n > 1:
        sizes = np.bincount(labelled.ravel())
        sizes[0] = 0
        foreground = labelled == int(np.argmax(sizes))
    return ndimage.binary_fill_holes(foreground)


def not_skull_stripped(mask: np.ndarray) -> str | None:
    """Why a derived ``mask`` looks like a whole head or noise rather than a brain, or None.

    Derivation assumes zero outside the brain; a head with its skull, or a noisy background,
    makes the "brain" the whole field of view and every result inside it meaningless.
    """
    share = float(np.count_nonzero(mask)) / max(mask.size, 1)
    inner = mask[tuple(slice(1, -1) for _ in range(mask.ndim))]
    border_voxels = mask.size - inner.size
    border_share = ((np.count_nonzero(mask) - np.count_nonzero(inner)) / border_voxels
                    if border_voxels else 0.0)
    if share <= MAX_DERIVED_MASK_SHARE and border_share <= MAX_DERIVED_MASK_BORDER_SHARE:
        return None
    return (f"the brain mask derived from it covers {share:.0%} of the field of "
            f"view and {border_share:.0%} of the volume border (limits "
            f"{MAX_DERIVED_MASK_SHARE:.0%}, {MAX_DERIVED_MASK_BORDER_SHARE:.0%}): the image looks "
            "not skull-stripped")


def bounding_box(mask: np.ndarray) -> list[list[int]]:
    """Half-open ``[[start, stop], ...]`` per axis of the non-zero region (whole array if empty)."""
    box = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(mask.any(axis=other))
        box.append([int(hits[0]), int(hits[-1]) + 1] if hits.size else [0, mask.shape[axis]])
    return box


def brain_voxels_per_slice(mask: np.ndarray, axis: int) -> np.ndarray:
    """Number of brain voxels in each slice perpendicular to ``axis``."""
    other = tuple(a for a in range(mask.ndim) if a != axis)
    return np.count_nonzero(mask, axis=other)


def kept_slice_indices(voxels_per_slice, null_fraction: float) -> np.ndarray:
    """Indices of the slices that are not "null".

    A slice is null when it holds no brain, or fewer brain voxels than ``null_fraction`` times
    the case's largest brain cross-section along the same axis. A relative threshold is used so
    that the rule means the same at any resolution.
    """
    counts = np.asarray(voxels_per_slice)
    if counts.size == 0 or counts.max() == 0:
        return np.zeros(0, dtype=int)
    return np.flatnonzero((counts > 0) & (counts >= null_fraction * counts.max()))


def index_runs(indices) -> list[list[int]]:
    """``[2, 3, 4, 7]`` -> ``[[2, 5], [7, 8]]``: sorted indices as half-open runs."""
    runs: list[list[int]] = []
    for i in (int(v) for v in indices):
        if runs and runs[-1][1] == i:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    return runs
