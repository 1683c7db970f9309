"""Segment one case with the trained tumour segmenter, on the case's own grid.

The segmenter reads every contrast on the normalised scale its plan defines. Its input is
handed over *already normalised* on the original grid, so that any one contrast can be
replaced by a synthetic image (a model's prediction is on that scale already) without a second
normalisation that would rescale it by its own statistics. The geometry steps are the
preprocessing's own (:func:`preprocess_case` with the ``none`` scheme), the class
probabilities are blended over sliding windows, restored with :func:`restore_to_original`
(linear) and the most probable class of each voxel is its label; outside the brain is 0.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from torch import nn

from autosynth import results_layout as layout
from autosynth.dataset.image_io import Geometry
from autosynth.experiment_planning.plans import PlansError
from autosynth.experiment_planning.segmenter_plan import SEGMENTER_PLAN_FILE, SegmenterPlan
from autosynth.inference.errors import PredictionError
from autosynth.inference.networks import load_network
from autosynth.inference.sliding_window import gaussian_weights, window_starts, windows
from autosynth.normalization import NormalizationPlan, get_scheme, normalization_parameters, normalize
from autosynth.preprocessing.case_preprocessing import (PreprocessingError, preprocess_case,
                                                        restore_to_original)
from autosynth.training.context import autocast

WINDOW_BATCH = 8
UNCHANGED = NormalizationPlan(scheme="none")


def class_probabilities(data: np.ndarray, patch: tuple[int, int], network: nn.Module,
                        device: torch.device, batch_size: int = WINDOW_BATCH) -> np.ndarray:
    """``(C, S, H, W)`` -> ``(K, S, H, W)`` softmax probabilities, windows of ``patch``
    blended with the Gaussian weights of the synthesis prediction."""
    shape = tuple(data.shape[1:])
    window_patch = (1, *patch)
    single = (len(window_starts(shape[1], patch[0])) == 1
              and len(window_starts(shape[2], patch[1])) == 1)
    weights = np.ones(window_patch, np.float32) if single else gaussian_weights(window_patch)
    all_windows = list(windows(shape, window_patch))
    out, total = None, np.zeros(shape, np.float32)
    with torch.inference_mode():
        for start in range(0, len(all_windows), batch_size):
            chunk = all_windows[start:start + batch_size]
            batch = np.stack([data[(slice(None), w[0].start, w[1], w[2])] for w in chunk])
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(device)
            with autocast(device):
                probabilities = torch.softmax(network(x).float(), dim=1).cpu().numpy()
            if out is None:
                out = np.zeros((probabilities.shape[1], *shape), np.float32)
            for w, p in zip(chunk, probabilities):
                out[(slice(None), *w)] += p[:, None] * weights
                total[w] += weights
    return out / total


class Segmenter:
    """A trained segmenter (one fold's checkpoint) and its plan."""

    def __init__(self, folder: str | Path, fold: str = "all", checkpoint: str = "final",
                 device: str | torch.device = "cpu"):
        self.folder = Path(folder)
        try:
            self.plan = SegmenterPlan.load(self.folder / SEGMENTER_PLAN_FILE)
        except PlansError as err:
            raise PredictionError(str(err)) from None
        path = layout.checkpoint_path(self.folder, fold, checkpoint)
        if not path.is_file():
            raise PredictionError(f"{path}: no trained segmenter there; train it with "
                                  f"autosynth_train_segmenter -d {self.plan.dataset_name} -c "
                                  f"{self.plan.configuration_name}")
        self.checkpoint = path
        self.device = torch.device(device)
        self.network = load_network(path, self.device)
        self.class_values = np.array(self.plan.class_values, dtype=np.uint8)

    @property
    def contrasts(self) -> list[str]:
        return self.plan.contrasts

    def normalise(self, images: np.ndarray, brain: np.ndarray) -> np.ndarray:
        """Raw ``(C, Z, Y, X)`` in :attr:`contrasts` order -> the plan's normalised scale."""
        out = np.empty(images.shape, np.float32)
        for c, contrast in enumerate(self.contrasts):
            plan = self.plan.plan.normalization[contrast]
            out[c] = normalize(images[c], brain, normalization_parameters(images[c], brain, plan))
        return out

    def segment(self, normalised: np.ndarray, brain: np.ndarray, geometry: Geometry,
                case_id: str = "case") -> np.ndarray:
        """Label map ``(Z, Y, X)`` uint8 (the dataset's label values) of a normalised case."""
        plan = self.plan.plan
        unchanged = dataclasses.replace(plan, normalization={c: UNCHANGED for c in self.contrasts})
        try:
            data, _, _, properties = preprocess_case(
                normalised, brain, geometry, unchanged, self.contrasts, case_id=case_id,
                configuration=self.plan.configuration_name, null_slice_fraction=0.0)
        except PreprocessingError as err:
            raise PredictionError(str(err)) from None
        if all(get_scheme(p.scheme).unit_range for p in plan.normalization.values()):
            np.clip(data, 0.0, 1.0, out=data)  # as the preprocessing of the training data
        probabilities = class_probabilities(data.astype(np.float32), tuple(plan.patch_size),
                                            self.network, self.device)
        restored = restore_to_original(probabilities, properties, order=1)
        labels = self.class_values[np.argmax(restored, axis=0)]
        return np.where(brain, labels, 0).astype(np.uint8)
