"""Tiny synthetic datasets in the raw layout, for tests (3 contrasts of 24x32x32 by default).

Each case holds an ellipsoidal "brain" with three smooth intensity patterns (one per contrast,
related to one another by known monotone maps plus a spatial term) and, optionally, a small
spherical "lesion" in labels. Volumes are written with LPS geometry like BraTS.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from autosynth.dataset.dataset_json import DatasetJson
from autosynth.dataset.image_io import Geometry, write_image

LPS_DIRECTION = (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)


def brain_mask(shape_zyx: tuple[int, int, int], shift=(0.0, 0.0, 0.0)) -> np.ndarray:
    z, y, x = np.meshgrid(*[np.linspace(-1, 1, s) for s in shape_zyx], indexing="ij")
    return ((z - shift[0]) ** 2 / 0.7 + (y - shift[1]) ** 2 / 0.8 + (x - shift[2]) ** 2 / 0.7) < 1


def make_case_arrays(shape_zyx=(24, 32, 32), seed: int = 0, n_channels: int = 3,
                     lesion: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(C, Z, Y, X) float32 images, (Z, Y, X) uint8 mask and uint8 labels."""
    rng = np.random.default_rng(seed)
    mask = brain_mask(shape_zyx, shift=rng.uniform(-0.05, 0.05, 3))
    z, y, x = np.meshgrid(*[np.linspace(0, 1, s) for s in shape_zyx], indexing="ij")
    base = 0.5 + 0.3 * np.sin(3 * x + rng.uniform(0, 1)) * np.cos(2 * y) + 0.2 * z
    labels = np.zeros(shape_zyx, np.uint8)
    if lesion:
        centre = np.array(shape_zyx) // 2 + rng.integers(-2, 3, 3)
        zz, yy, xx = np.indices(shape_zyx)
        r = np.sqrt((zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2)
        labels[(r < 5) & mask] = 2
        labels[(r < 3) & mask] = 3
        labels[(r < 1.5) & mask] = 1
    images = []
    for c in range(n_channels):
        img = (100 * (c + 1)) * (base ** (1 + c) + 0.3 * (labels > 0) * (c - 1))
        img = img + rng.normal(0, 1.0, shape_zyx)
        images.append(np.where(mask, np.abs(img), 0).astype(np.float32))
    return np.stack(images), mask.astype(np.uint8), labels


def write_tiny_dataset(folder: Path, n_cases: int = 3, shape_zyx=(24, 32, 32),
                       contrasts=("T1", "T2", "FLAIR"), spacing=(1.0, 1.0, 1.0),
                       direction=LPS_DIRECTION, with_masks: bool = True,
                       with_labels: bool = True, seed: int = 0) -> Path:
    """Write a dataset folder (dataset.json, imagesTr, masksTr, labelsTr) and return it."""
    folder = Path(folder)
    geometry = Geometry(tuple(reversed(shape_zyx)), tuple(spacing), (-10.0, 12.5, -3.0),
                        tuple(direction))
    for i in range(n_cases):
        case = f"case_{i:03d}"
        images, mask, labels = make_case_arrays(shape_zyx, seed + i, len(contrasts))
        for c, image in enumerate(images):
            write_image(image, geometry, folder / "imagesTr" / f"{case}_{c:04d}.nii.gz")
        if with_masks:
            write_image(mask, geometry, folder / "masksTr" / f"{case}.nii.gz")
        if with_labels:
            write_image(labels, geometry, folder / "labelsTr" / f"{case}.nii.gz")
    DatasetJson(name=folder.name, channel_names=dict(enumerate(contrasts)), numTraining=n_cases,
                labels={"background": 0, "necrosis": 1, "oedema": 2, "enhancing": 3}
                if with_labels else None,
                description="tiny synthetic test dataset").save(folder / "dataset.json")
    return folder
