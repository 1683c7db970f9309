"""Several predictions of one case combined: the mean of an ensemble, the spread of its passes.

One owner for the arithmetic, so that ``autosynth_predict`` with several model folders,
``autosynth_find_best_configuration`` (the validation predictions of several models) and
``autosynth_ensemble`` (finished prediction folders) give the same bits for the same inputs.
Both are computed in float64 and stored as float32; the mean of one prediction is that
prediction, unchanged. (The single passes of one predictor are its ``single_passes()``.)
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from autosynth.inference.errors import PredictionError


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
