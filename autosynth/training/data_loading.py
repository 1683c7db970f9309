"""Batches of 2D, 2.5D and 3D patches from memory-mapped preprocessed cases, built in
background workers.

A preprocessed case is ``CASE.npy`` of shape ``(C, S, H, W)``, H and W at least the patch.
A sample is a window of one kept (non-null) slice, slices drawn uniformly: one slice (2D), the
slice and its ``context_slices - 1`` neighbours as extra input channels (2.5D), or a 3D patch
around it. Its position is centred on a brain pixel of that slice (so patches hold brain), or,
for a share ``tumour_oversampling`` of the samples where tumour labels exist, on a tumour voxel
(as nnU-Net's foreground oversampling), then clipped into the case. Each batch also carries the
brain mask and (when the dataset has them) the tumour labels of its targets, for losses
restricted to the brain or weighting the tumour. Batch ``k`` of a run is a pure function of
``(seed, k)``: its slices, positions and augmentation come from generators seeded by both.
Batches therefore do not depend on how many workers built them or on where a resumed run
restarted, which is what makes ``--c`` exact. batchgenerators' ``MultiThreadedAugmenter``
returns worker outputs round-robin, so worker ``t`` of ``W`` builds batches ``start + t, start
+ t + W, ...`` and the order is preserved.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from batchgenerators.dataloading.data_loader import DataLoader

from autosynth.preprocessing.context_slices import as_channels, neighbour_block
from autosynth.preprocessing.storage import case_paths
from autosynth.training.augmentation import augment_sample
from autosynth.utils.parent_death import die_with_parent


@dataclass(frozen=True)
class SliceIndex:
    """Every (case, slice) pair of a set of cases; sampling is uniform over slices."""

    case_files: tuple[Path, ...]
    case_of_slice: np.ndarray
    slice_of_slice: np.ndarray

    @classmethod
    def build(cls, case_files: Sequence[Path]) -> "SliceIndex":
        counts = [np.load(path, mmap_mode="r").shape[1] for path in case_files]
        case_of = np.repeat(np.arange(len(counts)), counts)
        slice_of = np.concatenate([np.arange(n) for n in counts]) if counts else np.zeros(0, int)
        return cls(tuple(Path(p) for p in case_files), case_of, slice_of)

    def __len__(self) -> int:
        return len(self.case_of_slice)


class CaseArrays:
    """A case's data, mask and labels, memory-mapped on first use (so that each worker
    process maps the files itself)."""

    def __init__(self, data_file: Path):
        self.data_file = Path(data_file)
        self._data = self._mask = self._labels = self._tumour = None

    def _open(self) -> None:
        self._data = np.load(self.data_file, mmap_mode="r")
        folder, case = self.data_file.parent, self.data_file.stem
        paths = case_paths(folder, case)
        self._mask = np.load(paths["mask"], mmap_mode="r") if paths["mask"].is_file() else None
        self._labels = (np.load(paths["labels"], mmap_mode="r") if paths["labels"].is_file()
                        else None)

    @property
    def data(self) -> np.ndarray:
        if self._data is None:
            self._open()
        return self._data

    @property
    def has_labels(self) -> bool:
        return self.data is not None and self._labels is not None

    def tumour_voxels(self) -> np.ndarray:
        """Flat indices of the case's tumour voxels (3D oversampling), computed once."""
        if self._tumour is None:
            self._tumour = (np.flatnonzero(self._labels) if self._labels is not None
                            else np.zeros(0, dtype=np.intp))
        return self._tumour

    def block(self, channels: list[int], slice_index: int, window: Sequence[int],
              rng: np.random.Generator, tumour_share: float, centred: bool = False
              ) -> tuple[np.ndarray, np.ndarray]:
        """Image ``(len(channels), pd, ph, pw)`` and maps ``(2, pd, ph, pw)`` (brain mask,
        tumour labels; zeros where absent) float32 for ``window`` ``(pd, ph, pw)``.

        The window is centred in-plane on a tumour pixel (share ``tumour_share`` of samples,
        where labels exist) or a brain pixel of slice ``slice_index``; in depth it is centred
        on that slice, shifted inside the case (3D patches) or, ``centred``, kept there with
        zeros beyond the stored slices (2.5D neighbours). A 3D window with a tumour draw is
        centred on a tumour voxel of the whole case.
        """
        data = self.data
        count, height, width = data.shape[1:]
        depth, ph, pw = (int(w) for w in window)
        ph, pw = min(ph, height), min(pw, width)
        centre_slice, candidates = slice_index, np.zeros(0, dtype=np.intp)
        tumour_draw = self._labels is not None and rng.random() < tumour_share
        if tumour_draw and depth > 1 and not centred:
            voxels = self.tumour_voxels()
            if voxels.size:
                centre_slice, rest = divmod(int(voxels[rng.integers(voxels.size)]),
                                            height * width)
                candidates = np.array([rest])
        elif tumour_draw:
            candidates = np.flatnonzero(self._labels[slice_index])
        if candidates.size == 0 and self._mask is not None:
            candidates = np.flatnonzero(self._mask[centre_slice])
        if candidates.size:
            cy, cx = divmod(int(candidates[rng.integers(candidates.size)]), width)
        else:
            cy, cx = int(rng.integers(height)), int(rng.integers(width))
        y0 = int(np.clip(cy - ph // 2, 0, height - ph))
        x0 = int(np.clip(cx - pw // 2, 0, width - pw))
        rows, cols = slice(y0, y0 + ph), slice(x0, x0 + pw)
        if not centred:
            z0 = int(np.clip(centre_slice - depth // 2, 0, max(0, count - depth)))
            centre_slice = z0 + depth // 2
        image = neighbour_block(data, channels, centre_slice, depth, rows, cols)
        maps = np.zeros((2, *image.shape[1:]), dtype=np.float32)
        for row, array in enumerate((self._mask, self._labels)):
            if array is not None:
                maps[row] = neighbour_block(array[None], [0], centre_slice, depth, rows,
                                            cols)[0]
        return image, maps


def sample_of(case: CaseArrays, channels: list[int], n_sources: int, slice_index: int,
              window: Sequence[int], context: int, rng: np.random.Generator,
              tumour_share: float, augment: bool) -> tuple[np.ndarray, np.ndarray]:
    """One training sample: ``(inputs + 1, *spatial)`` image (target last) and ``(2,
    *spatial)`` maps, spatial ``(ph, pw)`` for slice-wise and ``(pd, ph, pw)`` for 3D windows.

    2.5D (``context`` k > 1): the block is k slices deep; after augmentation (the same for all
    k slices) the sources become ``n_sources * k`` channels (:mod:`context_slices`) and the
    target, mask and labels keep the centre slice.
    """
    volumetric = window[0] > 1
    depth = window[0] if volumetric else context
    image, maps = case.block(channels, slice_index, (depth, *window[1:]), rng, tumour_share,
                             centred=not volumetric)
    if depth == 1:
        image, maps = image[:, 0], maps[:, 0]
    if augment:
        image, maps = augment_sample(image, n_sources, rng, maps)
    if volumetric or depth == 1:
        return image, maps
    centre = depth // 2
    sources = as_channels(np.ascontiguousarray(image[:n_sources]))
    return (np.concatenate([sources, image[n_sources:, centre]]),
            np.ascontiguousarray(maps[:, centre]))


def batch_arrays(samples: list[tuple[np.ndarray, np.ndarray]], has_labels: bool
                 ) -> dict[str, np.ndarray]:
    """``data``, ``target``, ``mask`` (and ``labels`` when the cases have them) of a batch."""
    images = np.stack([s[0] for s in samples])
    maps = np.stack([s[1] for s in samples])
    batch = {"data": np.ascontiguousarray(images[:, :-1]),
             "target": np.ascontiguousarray(images[:, -1:]),
             "mask": np.ascontiguousarray(maps[:, :1] > 0.5, dtype=np.float32)}
    if has_labels:
        batch["labels"] = np.ascontiguousarray(np.rint(maps[:, 1:]), dtype=np.uint8)
    return batch


class SliceBatchLoader(DataLoader):
    """batchgenerators loader of ``{"data": (B, C_in, h, w), "target": (B, 1, h, w)}`` float32,
    (h, w) the patch.

    Under data parallelism rank ``r`` of ``R`` returns samples ``r, r + R, ...`` of each global
    batch, so ``R`` processes together see exactly the batches one process would (batch norm,
    in the BatchNorm variant, still normalises over each rank's share).
    """

    def __init__(self, index: SliceIndex, source_channels: Sequence[int], target_channel: int,
                 batch_size: int, seed: int, start_batch: int = 0, augment: bool = False,
                 num_threads: int = 1, rank: int = 0, world_size: int = 1,
                 patch: Sequence[int] | None = None, tumour_oversampling: float = 0.0,
                 context_slices: int = 1):
        super().__init__(index, batch_size, num_threads_in_multithreaded=num_threads,
                         shuffle=False, infinite=True)
        self.source_channels = list(source_channels)
        self.target_channel = int(target_channel)
        self.seed = int(seed)
        self.start_batch = int(start_batch)
        self.augment = augment
        self.rank, self.world_size = int(rank), int(world_size)
        self.window = window_of(patch)
        self.context_slices = int(context_slices)
        self.tumour_oversampling = float(tumour_oversampling)
        self._batches_made = 0
        self._cases = [CaseArrays(f) for f in index.case_files]
        self._owner_pid = os.getpid()

    def set_thread_id(self, thread_id: int) -> None:
        """Called by batchgenerators first thing in each worker: tie the worker's life to the
        trainer's, so a killed trainer leaves no worker behind."""
        super().set_thread_id(thread_id)
        if os.getpid() != self._owner_pid:
            die_with_parent(self._owner_pid)

    def batch_number(self) -> int:
        return (self.start_batch + self.thread_id
                + self.number_of_threads_in_multithreaded * self._batches_made)

    def make_batch(self, number: int) -> dict[str, np.ndarray]:
        """This rank's share of global batch ``number`` (a pure function of seed and number)."""
        picks = np.random.default_rng([self.seed, number]).integers(0, len(self._data),
                                                                     self.batch_size)
        channels = self.source_channels + [self.target_channel]
        samples = []
        for j in range(self.rank, self.batch_size, self.world_size):
            rng = np.random.default_rng([self.seed, number, j])
            samples.append(sample_of(
                self._cases[self._data.case_of_slice[picks[j]]], channels,
                len(self.source_channels), int(self._data.slice_of_slice[picks[j]]),
                self.window, self.context_slices, rng, self.tumour_oversampling, self.augment))
        return batch_arrays(samples, any(case.has_labels for case in self._cases))

    def generate_train_batch(self) -> dict[str, np.ndarray]:
        batch = self.make_batch(self.batch_number())
        self._batches_made += 1
        return batch


def window_of(patch: Sequence[int] | None) -> tuple[int, ...]:
    """The ``(pd, ph, pw)`` block a patch reads: 2D patches are one slice deep; None (whole
    slices) is a window larger than any slice, cut to the slice."""
    if patch is None:
        return (1, 2 ** 30, 2 ** 30)
    patch = [int(p) for p in patch]
    return tuple(patch) if len(patch) == 3 else (1, *patch)


def fixed_validation_batches(index: SliceIndex, source_channels: Sequence[int],
                             target_channel: int, batch_size: int, max_batches: int,
                             seed: int, patch: Sequence[int], context_slices: int = 1
                             ) -> list[dict[str, np.ndarray]]:
    """The same validation patches every epoch: one per slice (all slices, or a seeded sample
    of them), centred on a brain pixel drawn from a generator seeded by the slice."""
    if len(index) <= batch_size * max_batches:
        order = np.arange(len(index))
    else:
        order = np.sort(np.random.default_rng(seed).choice(len(index), batch_size * max_batches,
                                                           replace=False))
    channels = list(source_channels) + [target_channel]
    cases = [CaseArrays(f) for f in index.case_files]
    has_labels = any(case.has_labels for case in cases)
    window = window_of(patch)
    batches = []
    for start in range(0, len(order), batch_size):
        batches.append(batch_arrays([sample_of(
            cases[index.case_of_slice[p]], channels, len(source_channels),
            int(index.slice_of_slice[p]), window, context_slices,
            np.random.default_rng([seed, int(p)]), 0.0, False)
            for p in order[start:start + batch_size]], has_labels))
    return batches
