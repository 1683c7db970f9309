"""Several predictions of one case combined: the mean of an ensemble, the spread of its passes.

One owner for the arithmetic, so that ``autosynth_predict`` with several model folders,
``autosynth_find_best_configuration`` (the validation predictions of several models) and
``autosynth_ensemble`` (finished prediction folders) give the same bits for the same inputs.
Both are computed in float64 and stored as float32; the mean of one prediction is that
prediction, unchanged.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from autosynth.inference.errors import PredictionError
from autosynth.inference.networks import SlicePredictor


def average_predictions(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Voxel-wise mean of predictions on one grid (members in the given order)."""
    if not arrays:
        raise PredictionError("no prediction to average")
    if len(arrays) == 1:
        return np.asarray(arrays[0], dtype=np.float32)
    shapes = {tuple(a.shape) for a in arrays}
    if len(shapes) != 1:
        raise PredictionError(f"predictions of different shapes cannot be averaged: {shapes}")
    total = np.zeros(arrays[0].shape, np.float64)
    for array in arrays:
        total += array
    return (total / len(arrays)).astype(np.float32)


def std_over_passes(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Voxel-wise population standard deviation (numpy's ``std``, ddof 0) of the passes."""
    if not arrays:
        raise PredictionError("no pass to take the standard deviation of")
    return np.std(np.stack([np.asarray(a, np.float64) for a in arrays]), axis=0
                  ).astype(np.float32)


class MirroredNetwork(nn.Module):
    """A network applied to the left-right mirrored input, its output mirrored back: the
    mirrored pass of ``--tta`` on its own (the axis :class:`SlicePredictor` flips)."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network
        self.config = getattr(network, "config", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = x.ndim - 1  # W, for 2D and 3D windows alike
        return self.network(torch.flip(x, dims=(last,))).float().flip(dims=(last,))


def single_passes(predictor: SlicePredictor) -> list[SlicePredictor]:
    """Each fold (and, with ``mirror``, each fold's mirrored pass) as its own predictor: the
    passes whose spread ``--save-std`` reports."""
    if hasattr(predictor, "single_passes"):  # the ONNX Runtime predictor
        return predictor.single_passes()
    passes = []
    for network in predictor.networks:
        variants = [network, MirroredNetwork(network)] if predictor.mirror else [network]
        for one in variants:
            passes.append(SlicePredictor([one], predictor.device, predictor.batch_size,
                                         mirror=False, patch=predictor.patch,
                                         channels_last=predictor.memory_format
                                         != torch.contiguous_format,
                                         context_slices=predictor.context_slices))
    return passes
