"""Batches for the tumour segmenter: every contrast as input, the label map as integer classes.

The same sampling as :mod:`autosynth.training.data_loading` (slices drawn uniformly, a patch
centred on a tumour pixel for a share of the samples and on a brain pixel otherwise), and the
same property that makes ``--c`` exact: batch ``k`` is a pure function of ``(seed, k)``, so it
does not depend on the number of workers or on where a resumed run restarted. Augmentation is
geometric only (rotation/scaling and a left-right flip; images cubic, labels nearest), so the
segmenter learns anatomy, not a tolerance for intensity changes it would then forgive in a
synthetic image.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from autosynth.training.augmentation import (P_SPATIAL, ROTATION_DEGREES, SCALE_RANGE,
                                             affine_inplane)
from autosynth.training.data_loading import CaseArrays, SliceBatchLoader, SliceIndex


def class_lookup(class_values: Sequence[int]) -> np.ndarray:
    """uint8 label value -> class index (values not listed map to background)."""
    table = np.zeros(256, dtype=np.int64)
    for k, value in enumerate(class_values):
        table[int(value)] = k
    return table


class LabelledCase(CaseArrays):
    """A preprocessed case with its labels, sampled as a (images, classes) patch pair."""

    @property
    def labels(self) -> np.ndarray | None:
        self.data  # opens the files
        return self._labels

    def labelled_patch(self, channels: list[int], slice_index: int, patch: Sequence[int],
                       rng: np.random.Generator, tumour_share: float, lookup: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
        """``(C, ph, pw)`` float32 images and ``(ph, pw)`` int64 classes, placed by the
        synthesis loader's rule (:meth:`CaseArrays.block`)."""
        if self.labels is None:
            raise ValueError(f"{self.data_file}: no labels next to this case "
                             "(CASE_labels.npy); the segmenter trains on labelled cases only")
        images, maps = self.block(channels, slice_index, (1, *patch), rng, tumour_share,
                                  centred=True)
        return images[:, 0], lookup[np.rint(maps[1, 0]).astype(np.uint8)]


def augment_pair(images: np.ndarray, classes: np.ndarray, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The synthesis augmentation's geometry, images cubic and classes nearest."""
    unit_range = images.min() >= 0  # cubic overshoot below 0 is clipped on a [0, 1] scale
    images, classes = images.copy(), classes.copy()
    if rng.random() < P_SPATIAL:
        angle = np.deg2rad(rng.uniform(-ROTATION_DEGREES, ROTATION_DEGREES))
        scale = rng.uniform(*SCALE_RANGE)
        for c in range(images.shape[0]):
            images[c] = affine_inplane(images[c], angle, scale, order=3)
        classes = affine_inplane(classes.astype(np.float32), angle, scale, order=0).astype(np.int64)
    if rng.random() < 0.5:
        images, classes = images[:, :, ::-1], classes[:, ::-1]
    images = np.ascontiguousarray(images)
    return (np.clip(images, 0.0, None) if unit_range else images), np.ascontiguousarray(classes)


class SegmentationBatchLoader(SliceBatchLoader):
    """``{"data": (B, C, h, w) float32, "target": (B, 1, h, w) int64 classes}``."""

    def __init__(self, index: SliceIndex, channels: Sequence[int], class_values: Sequence[int],
                 batch_size: int, seed: int, patch: Sequence[int], start_batch: int = 0,
                 augment: bool = False, num_threads: int = 1, tumour_oversampling: float = 0.5):
        super().__init__(index, channels, 0, batch_size, seed, start_batch=start_batch,
                         augment=augment, num_threads=num_threads, patch=patch,
                         tumour_oversampling=tumour_oversampling)
        self.lookup = class_lookup(class_values)
        self.patch = [int(p) for p in patch]
        self._cases = [LabelledCase(f) for f in index.case_files]

    def make_batch(self, number: int) -> dict[str, np.ndarray]:
        """Global batch ``number``: a pure function of the seed and the number."""
        picks = np.random.default_rng([self.seed, number]).integers(0, len(self._data),
                                                                     self.batch_size)
        images, classes = [], []
        for j in range(self.batch_size):
            rng = np.random.default_rng([self.seed, number, j])
            x, y = self._cases[self._data.case_of_slice[picks[j]]].labelled_patch(
                self.source_channels, int(self._data.slice_of_slice[picks[j]]), self.patch,
                rng, self.tumour_oversampling, self.lookup)
            if self.augment:
                x, y = augment_pair(x, y, rng)
            images.append(x)
            classes.append(y)
        return {"data": np.ascontiguousarray(np.stack(images)),
                "target": np.ascontiguousarray(np.stack(classes)[:, None])}


def fixed_segmentation_batches(index: SliceIndex, channels: Sequence[int],
                               class_values: Sequence[int], batch_size: int, max_batches: int,
                               seed: int, patch: Sequence[int],
                               tumour_share: float = 0.5) -> list[dict[str, np.ndarray]]:
    """The same validation patches every epoch (half of them centred on tumour, where a
    slice has any), from generators seeded by the slice."""
    if len(index) <= batch_size * max_batches:
        order = np.arange(len(index))
    else:
        order = np.sort(np.random.default_rng(seed).choice(len(index), batch_size * max_batches,
                                                           replace=False))
    lookup = class_lookup(class_values)
    cases = [LabelledCase(f) for f in index.case_files]
    batches = []
    for start in range(0, len(order), batch_size):
        pairs = [cases[index.case_of_slice[p]].labelled_patch(
            list(channels), int(index.slice_of_slice[p]), patch,
            np.random.default_rng([seed, int(p)]), tumour_share, lookup)
            for p in order[start:start + batch_size]]
        batches.append({"data": np.stack([x for x, _ in pairs]),
                        "target": np.stack([y for _, y in pairs])[:, None]})
    return batches
