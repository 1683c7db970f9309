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


def affine_inplane(image: np.ndarray, angle: float, scale: float, order: int) -> np.ndarray:
    """Rotate and scale an (H, W) image, or each slice of a (D, H, W) patch, about its centre
    in the (H, W) plane; zero outside."""
    c, s = np.cos(angle), np.sin(angle)
    matrix = np.array([[c, -s], [s, c]]) / scale
    if image.ndim == 3:
        matrix = np.block([[np.ones((1, 1)), np.zeros((1, 2))], [np.zeros((2, 1)), matrix]])
    centre = (np.array(image.shape) - 1) / 2
    offset = centre - matrix @ centre
    return ndimage.affine_transform(image, matrix, offset, order=order, mode="constant", cval=0)


def augment_sample(sample: np.ndarray, n_inputs: int, rng: np.random.Generator,
                   maps: np.ndarray | None = None):
    """Augment one ``(n_inputs + 1, H, W)`` (or ``(n_inputs + 1, D, H, W)``) sample; the last
    channel is the target.

    ``maps`` (brain mask, tumour labels: same spatial shape) follow the spatial changes with
    nearest-neighbour sampling and no intensity change; with maps the result is
    ``(sample, maps)``. The random draws do not depend on ``maps``.
    """
    out = sample.copy()
    maps_out = None if maps is None else maps.copy()
    if rng.random() < P_SPATIAL:
        angle = np.deg2rad(rng.uniform(-ROTATION_DEGREES, ROTATION_DEGREES))
        scale = rng.uniform(*SCALE_RANGE)
        for c in range(out.shape[0]):
            out[c] = affine_inplane(out[c], angle, scale, order=3)
        if maps_out is not None:
            for c in range(maps_out.shape[0]):
                maps_out[c] = affine_inplane(maps_out[c], angle, scale, order=0)
    if rng.random() < 0.5:
        out = out[..., ::-1]
        maps_out = None if maps_out is None else maps_out[..., ::-1]
    for c in range(n_inputs):
        if rng.random() < P_BRIGHTNESS:
            out[c] *= rng.uniform(*BRIGHTNESS_RANGE)
        if rng.random() < P_GAMMA:
            image = np.clip(out[c], 0, None)
            peak = image.max()
            if peak > 0:
                out[c] = peak * (image / peak) ** rng.uniform(*GAMMA_RANGE)
    out = np.clip(out, 0.0, None) if sample.min() >= 0 else out
    return out if maps is None else (out, maps_out)
