"""Sliding-window prediction over a preprocessed case, for 2D and 3D patches alike.

A case ``(C, S, H, W)`` is covered by windows of the patch ``(pd, ph, pw)`` (``pd`` = 1 for
2D configurations: one slice per window) whose starts are at most half a patch apart along every
axis; overlapping outputs are blended with Gaussian importance weights (sigma = 1/8 of the patch,
as nnU-Net), which favour each window's centre, where the network saw the most context. Where
one window covers an axis the weights cancel, so a case no larger than the patch is predicted in
one pass per slice, exactly as without windows.
"""
from __future__ import annotations

import math
from typing import Callable, Iterator

import numpy as np

SIGMA_SCALE = 1 / 8
STEP_FRACTION = 0.5
MIN_WEIGHT = 1e-3  # relative to the centre: no window edge ever gets a zero weight


def window_starts(size: int, patch: int, step_fraction: float = STEP_FRACTION) -> list[int]:
    """Evenly spread starts, the first at 0 and the last at ``size - patch``, at most
    ``step_fraction * patch`` apart."""
    if size < patch:
        raise ValueError(f"the case ({size}) is smaller than the patch ({patch}); pad it first")
    if size == patch:
        return [0]
    steps = math.ceil((size - patch) / max(1.0, step_fraction * patch))
    return [int(round(i * (size - patch) / steps)) for i in range(steps + 1)]


def gaussian_weights(patch: tuple[int, ...], sigma_scale: float = SIGMA_SCALE) -> np.ndarray:
    """Separable Gaussian over the patch, 1 at the centre, never below ``MIN_WEIGHT``."""
    weights = np.ones(patch, dtype=np.float64)
    for axis, n in enumerate(patch):
        if n == 1:
            continue
        x = np.arange(n) - (n - 1) / 2
        profile = np.exp(-0.5 * (x / (sigma_scale * n)) ** 2)
        shape = [1] * len(patch)
        shape[axis] = n
        weights = weights * profile.reshape(shape)
    return np.maximum(weights / weights.max(), MIN_WEIGHT).astype(np.float32)


def windows(shape: tuple[int, int, int], patch: tuple[int, int, int]
            ) -> Iterator[tuple[slice, slice, slice]]:
    """Every window of ``patch`` over ``shape`` (S, H, W)."""
    starts = [window_starts(n, p, 1.0 / p if p == 1 else STEP_FRACTION)
              for n, p in zip(shape, patch)]
    for d in starts[0]:
        for y in starts[1]:
            for x in starts[2]:
                yield (slice(d, d + patch[0]), slice(y, y + patch[1]), slice(x, x + patch[2]))


def predict_sliding_window(volume: np.ndarray, patch: tuple[int, int, int],
                           predict: Callable[[np.ndarray], np.ndarray],
                           batch_size: int) -> np.ndarray:
    """Blend ``predict`` over every window of ``volume`` ``(C, S, H, W)`` -> ``(S, H, W)``.

    ``predict`` maps ``(B, C, pd, ph, pw)`` float32 to ``(B, pd, ph, pw)``.
    """
    shape = tuple(volume.shape[1:])
    patch = tuple(int(p) for p in patch)
    if len(patch) != 3 or any(p > n for p, n in zip(patch, shape)):
        raise ValueError(f"patch {patch} does not fit the case {shape}")
    all_windows = list(windows(shape, patch))
    single = len(window_starts(shape[1], patch[1])) == 1 and \
        len(window_starts(shape[2], patch[2])) == 1 and patch[0] == 1
    weights = np.ones(patch, np.float32) if single else gaussian_weights(patch)
    out = np.zeros(shape, dtype=np.float32)
    total = None if single else np.zeros(shape, dtype=np.float32)
    for start in range(0, len(all_windows), batch_size):
        chunk = all_windows[start:start + batch_size]
        batch = np.stack([volume[(slice(None), *w)] for w in chunk]).astype(np.float32)
        prediction = predict(batch)
        for w, value in zip(chunk, prediction):
            if single:
                out[w] = value
            else:
                out[w] += value * weights
                total[w] += weights
    return out if single else out / total
