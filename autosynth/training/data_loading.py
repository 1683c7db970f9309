"""Batches of 2D slices from memory-mapped preprocessed cases, built in background workers.

A preprocessed case is ``CASE.npy`` of shape ``(C, S, H, W)``: every kept (non-null) slice
``s`` is one training sample. Batch ``k`` of a run is a pure function of ``(seed, k)``: its
slices are drawn and augmented with a generator seeded by both. Batches therefore do not depend
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


class SliceBatchLoader(DataLoader):
    """batchgenerators loader of ``{"data": (B, C_in, H, W), "target": (B, 1, H, W)}`` float32.

    Under data parallelism rank ``r`` of ``R`` returns samples ``r, r + R, ...`` of each global
    batch, so ``R`` processes together see exactly the batches one process would (batch norm,
    in the BatchNorm variant, still normalises over each rank's share).
    """

    def __init__(self, index: SliceIndex, source_channels: Sequence[int], target_channel: int,
                 batch_size: int, seed: int, start_batch: int = 0, augment: bool = False,
                 num_threads: int = 1, rank: int = 0, world_size: int = 1):
        super().__init__(index, batch_size, num_threads_in_multithreaded=num_threads,
                         shuffle=False, infinite=True)
        self.source_channels = list(source_channels)
        self.target_channel = int(target_channel)
        self.seed = int(seed)
        self.start_batch = int(start_batch)
        self.augment = augment
        self.rank, self.world_size = int(rank), int(world_size)
        self._batches_made = 0
        self._arrays: dict[int, np.ndarray] = {}
        self._owner_pid = os.getpid()

    def set_thread_id(self, thread_id: int) -> None:
        """Called by batchgenerators first thing in each worker: tie the worker's life to the
        trainer's, so a killed trainer leaves no worker behind."""
        super().set_thread_id(thread_id)
        if os.getpid() != self._owner_pid:
            die_with_parent(self._owner_pid)

    def _array(self, case: int) -> np.ndarray:
        """Opened lazily, so that each worker process maps the files itself."""
        if case not in self._arrays:
            self._arrays[case] = np.load(self._data.case_files[case], mmap_mode="r")
        return self._arrays[case]

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
            sample = self._array(self._data.case_of_slice[picks[j]])[
                channels, self._data.slice_of_slice[picks[j]]].astype(np.float32)
            if self.augment:
                sample = augment_sample(sample, len(self.source_channels),
                                        np.random.default_rng([self.seed, number, j]))
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
                             seed: int) -> list[dict[str, np.ndarray]]:
    """The same validation slices every epoch: all of them, or a seeded sample of them."""
    loader = SliceBatchLoader(index, source_channels, target_channel, batch_size, seed)
    if len(index) <= batch_size * max_batches:
        order = np.arange(len(index))
    else:
        order = np.sort(np.random.default_rng(seed).choice(len(index), batch_size * max_batches,
                                                           replace=False))
    channels = list(source_channels) + [target_channel]
    batches = []
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        stacked = np.stack([loader._array(index.case_of_slice[p])[channels, index.slice_of_slice[p]]
                            for p in chunk]).astype(np.float32)
        batches.append({"data": stacked[:, :-1].copy(), "target": stacked[:, -1:].copy()})
    return batches
