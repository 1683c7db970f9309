"""Data augmentation for synthesis: geometry shared by input and target, intensity on input only.

Spatial changes must move input and target together (they are one co-registered pair), so the
target travels as the last channel through the spatial transform. Intensity changes simulate
scanner variation of the acquired contrast; applying them to the target would teach the network
to reproduce noise it cannot know. Each sample is augmented from its own seeded generator, so a
sample is reproducible whatever process, or rank, builds it.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

ROTATION_DEGREES = 15.0
SCALE_RANGE = (0.9, 1.1)
P_SPATIAL = 0.3
GAMMA_RANGE = (0.8, 1.25)
P_GAMMA = 0.3
BRIGHTNESS_RANGE = (0.9, 1.1)
P_BRIGHTNESS = 0.3


def _affine_2d(image: np.ndarray, angle: float, scale: float, order: int) -> np.ndarray:
    """Rotate and scale one (H, W) image about its centre, zero outside."""
    c, s = np.cos(angle), np.sin(angle)
    matrix = np.array([[c, -s], [s, c]]) / scale
    centre = (np.array(image.shape) - 1) / 2
    offset = centre - matrix @ centre
    return ndimage.affine_transform(image, matrix, offset, order=order, mode="constant", cval=0)


def augment_sample(sample: np.ndarray, n_inputs: int, rng: np.random.Generator) -> np.ndarray:
    """Augment one ``(n_inputs + 1, H, W)`` sample; the last channel is the target."""
    out = sample.copy()
    if rng.random() < P_SPATIAL:
        angle = np.deg2rad(rng.uniform(-ROTATION_DEGREES, ROTATION_DEGREES))
        scale = rng.uniform(*SCALE_RANGE)
        for c in range(out.shape[0]):
            out[c] = _affine_2d(out[c], angle, scale, order=3)
    if rng.random() < 0.5:
        out = out[:, :, ::-1]
    for c in range(n_inputs):
        if rng.random() < P_BRIGHTNESS:
            out[c] *= rng.uniform(*BRIGHTNESS_RANGE)
        if rng.random() < P_GAMMA:
            image = np.clip(out[c], 0, None)
            peak = image.max()
            if peak > 0:
                out[c] = peak * (image / peak) ** rng.uniform(*GAMMA_RANGE)
    return np.clip(out, 0.0, None) if sample.min() >= 0 else out
