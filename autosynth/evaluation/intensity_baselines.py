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

from autosynth.dataset.cases import CaseFiles
from autosynth.dataset.image_io import write_image_like
from autosynth.experiment_planning.plans import ConfigurationPlan
from autosynth.preprocessing.case_io import load_case_with_mask
from autosynth.preprocessing.normalization import normalization_parameters, normalize
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


def normalised_source(case: CaseFiles, source_channel_number: int, config: ConfigurationPlan,
                      source_name: str) -> tuple[np.ndarray, np.ndarray]:
    """The case's source contrast normalised as the model normalises it, on its own grid."""
    images, mask, _, _ = load_case_with_mask(case, [source_channel_number])
    params = normalization_parameters(images[0], mask, config.normalization[source_name])
    return normalize(images[0], mask, params), mask


def write_baseline_predictions(cases: list[CaseFiles], source_channel_number: int,
                               source_name: str, config: ConfigurationPlan,
                               mapping: HistogramMapping, identity_folder: Path,
                               matched_folder: Path) -> None:
    """``CASE.nii.gz`` of both baselines for every case, on the source image's grid."""
    for case in cases:
        source, mask = normalised_source(case, source_channel_number, config, source_name)
        reference = case.channels[source_channel_number]
        write_image_like(source, reference, identity_folder / f"{case.case_id}.nii.gz")
        matched = np.where(mask, mapping(source), 0).astype(np.float32)
        write_image_like(matched, reference, matched_folder / f"{case.case_id}.nii.gz")


def score_in_preprocessed_space(preprocessed_folder: Path, cases: list[str],
                                source_channel: int, target_channel: int,
                                mapping: HistogramMapping) -> dict[str, dict[str, dict]]:
    """Per-case metrics of both baselines on the model's grid and [0, 1] scale.

    The same space and code as the trainer's validation summary, so the rows are comparable.
    """
    from autosynth.evaluation.metrics import compute_metrics

    rows: dict[str, dict[str, dict]] = {"identity (normalised source)": {},
                                        "histogram matching": {}}
    for case in cases:
        data, mask, labels, _ = load_case(preprocessed_folder, case)
        brain = np.asarray(mask) > 0
        source = np.asarray(data[source_channel], dtype=np.float32) * brain
        reference = np.asarray(data[target_channel], dtype=np.float32) * brain
        labels = None if labels is None else np.array(labels)
        for name, prediction in (("identity (normalised source)", source),
                                 ("histogram matching", mapping(source) * brain)):
            metrics = compute_metrics(prediction, reference, mask=brain, labels=labels)
            rows[name][case] = {k: float(v) for k, v in metrics.items() if np.isscalar(v)}
    return rows
