"""Two baselines a synthesis model must beat to show that it learned more than intensities.

(a) **identity**: the normalised source image itself, as if the target were the source.
(b) **histogram matching**: the source mapped through the best global monotone intensity
mapping fitted on the training cases: the quantile function of the pooled in-brain target
intensities composed with the distribution function of the pooled source intensities. It is
what a contrast-agnostic intensity transfer can do without looking at anatomy or lesions.

Both are written as NIfTI files on the source's grid and normalised [0, 1] scale, exactly like
a model's predictions, so the same evaluation code scores all three.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autosynth.dataset.image_io import read_image, read_image_on_grid, write_image_like
from autosynth.normalization import NormalizationPlan, normalization_parameters, normalize
from autosynth.preprocessing.storage import load_case

N_QUANTILES = 1001
MAX_VOXELS_PER_CASE = 200_000


@dataclass
class HistogramMapping:
    """A monotone map from normalised source to normalised target intensities."""

    source_quantiles: np.ndarray
    target_quantiles: np.ndarray

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return np.interp(values, self.source_quantiles, self.target_quantiles).astype(np.float32)


def fit_histogram_mapping(preprocessed_folder: Path, cases: list[str], source_channel: int,
                          target_channel: int, seed: int = 0) -> HistogramMapping:
    """Match the pooled in-brain histograms of the training cases' normalised contrasts."""
    rng = np.random.default_rng(seed)
    sources, targets = [], []
    for case in cases:
        data, mask, _, _ = load_case(preprocessed_folder, case)
        brain = np.asarray(mask) > 0
        for out, channel in ((sources, source_channel), (targets, target_channel)):
            voxels = np.asarray(data[channel])[brain]
            if voxels.size > MAX_VOXELS_PER_CASE:
                voxels = rng.choice(voxels, MAX_VOXELS_PER_CASE, replace=False)
            out.append(voxels)
    levels = np.linspace(0, 100, N_QUANTILES)
    source_q = np.percentile(np.concatenate(sources), levels)
    target_q = np.percentile(np.concatenate(targets), levels)
    source_q = np.maximum.accumulate(source_q + np.arange(N_QUANTILES) * 1e-9)  # strictly rising
    return HistogramMapping(source_q, target_q)


def normalised_source(source_file: Path, mask_file: Path,
                      plan: NormalizationPlan) -> tuple[np.ndarray, np.ndarray]:
    """The source image normalised as the model normalises it, on its own grid, and the brain."""
    image, geometry = read_image(source_file)
    brain = read_image_on_grid(mask_file, geometry, str(source_file)) > 0
    return normalize(image, brain, normalization_parameters(image, brain, plan)), brain


def write_baseline_predictions(sources: dict[str, Path], masks: dict[str, Path],
                               plan: NormalizationPlan, mapping: HistogramMapping,
                               identity_folder: Path, matched_folder: Path,
                               file_ending: str = ".nii.gz") -> None:
    """Both baselines of every case (``sources``/``masks``: case id -> file), on its grid."""
    for case, source_file in sorted(sources.items()):
        source, brain = normalised_source(source_file, masks[case], plan)
        write_image_like(source, source_file, identity_folder / f"{case}{file_ending}")
        matched = np.where(brain, mapping(source), 0).astype(np.float32)
        write_image_like(matched, source_file, matched_folder / f"{case}{file_ending}")
