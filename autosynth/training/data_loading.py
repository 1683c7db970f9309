"""Batches of 2D patches from memory-mapped preprocessed cases, built in background workers.

A preprocessed case is ``CASE.npy`` of shape ``(C, S, H, W)``, H and W at least the patch.
A sample is a patch of one kept (non-null) slice, slices drawn uniformly; its position is
centred on a brain pixel of that slice (so patches hold brain), or, for a share
``tumour_oversampling`` of the samples of slices with tumour labels, on a tumour pixel (as
nnU-Net's foreground oversampling), then clipped into the slice. Batch ``k`` of a run is a pure
function of ``(seed, k)``: its slices, positions and augmentation come from generators seeded
by both. Batches therefore do not depend
on how many workers built them or on where a resumed run restarted, which is what makes ``--c``
exact. batchgenerators' ``MultiThreadedAugmenter`` returns worker outputs round-robin, so worker
``t`` of ``W`` builds batches ``start + t, start + t + W, ...`` and the order is preserved.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from batchgenerators.dataloading.data_loader import DataLoader

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
        self._data = self._mask = self._labels = None

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

    def patch(self, channels: list[int], slice_index: int, patch: Sequence[int] | None,
              rng: np.random.Generator, tumour_share: float) -> np.ndarray:
        """``(len(channels), ph, pw)`` float32 from slice ``slice_index`` (the whole slice
        when ``patch`` is None)."""
        data = self.data
        height, width = data.shape[2:]
        patch = (height, width) if patch is None else patch
        candidates = np.zeros(0, dtype=np.intp)
        if self._labels is not None and rng.random() < tumour_share:
            candidates = np.flatnonzero(self._labels[slice_index])
        if candidates.size == 0 and self._mask is not None:
            candidates = np.flatnonzero(self._mask[slice_index])
        if candidates.size:
            cy, cx = divmod(int(candidates[rng.integers(candidates.size)]), width)
        else:
            cy, cx = int(rng.integers(height)), int(rng.integers(width))
        y0 = int(np.clip(cy - patch[0] // 2, 0, height - patch[0]))
        x0 = int(np.clip(cx - patch[1] // 2, 0, width - patch[1]))
        return np.asarray(data[channels, slice_index, y0:y0 + patch[0], x0:x0 + patch[1]],
                          dtype=np.float32)


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
                 patch: Sequence[int] | None = None, tumour_oversampling: float = 0.0):
        super().__init__(index, batch_size, num_threads_in_multithreaded=num_threads,
                         shuffle=False, infinite=True)
        self.source_channels = list(source_channels)
        self.target_channel = int(target_channel)
        self.seed = int(seed)
        self.start_batch = int(start_batch)
        self.augment = augment
        self.rank, self.world_size = int(rank), int(world_size)
        self.patch = None if patch is None else [int(p) for p in patch]
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
            sample = self._cases[self._data.case_of_slice[picks[j]]].patch(
                channels, int(self._data.slice_of_slice[picks[j]]), self.patch, rng,
                self.tumour_oversampling)
            if self.augment:
                sample = augment_sample(sample, len(self.source_channels), rng)
            samples.append(sample)
        stacked = np.stack(samples)
        return {"data": np.ascontiguousarray(stacked[:, :-1]),
                "target": np.ascontiguousarray(stacked[:, -1:])}

    def generate_train_batch(self) -> dict[str, np.ndarray]:
        batch = self.make_batch(self.batch_number())
        self._batches_made += 1
        return batch


def fixed_validation_batches(index: SliceIndex, source_channels: Sequence[int],
                             target_channel: int, batch_size: int, max_batches: int,
                             seed: int, patch: Sequence[int]) -> list[dict[str, np.ndarray]]:
    """The same validation patches every epoch: one per slice (all slices, or a seeded sample
    of them), centred on a brain pixel drawn from a generator seeded by the slice."""
    if len(index) <= batch_size * max_batches:
        order = np.arange(len(index))
    else:
        order = np.sort(np.random.default_rng(seed).choice(len(index), batch_size * max_batches,
                                                           replace=False))
    channels = list(source_channels) + [target_channel]
    cases = [CaseArrays(f) for f in index.case_files]
    batches = []
    for start in range(0, len(order), batch_size):
        stacked = np.stack([cases[index.case_of_slice[p]].patch(
            channels, int(index.slice_of_slice[p]), patch, np.random.default_rng([seed, int(p)]),
            0.0) for p in order[start:start + batch_size]])
        batches.append({"data": stacked[:, :-1].copy(), "target": stacked[:, -1:].copy()})
    return batches
