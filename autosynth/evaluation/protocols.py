"""Three ways to score one case, side by side: ours (``corrected``), BraSyn's and the paper's.

- ``corrected`` (the default): the reference on the model's scale **without** clipping at the
  window, data range 1, per volume, inside the brain, the tumour and the rest of the brain;
  SSIM windows see brain voxels only (:mod:`autosynth.evaluation.masked_ssim`). Keys without a
  prefix (``psnr_brain``, ``ssim_tumour``, ...), as :func:`metrics.compute_metrics` names them.
- ``brasyn``: the BraSyn 2023 challenge's ``compute_metrics``: prediction and reference each
  clipped to their **own** 0.5 / 99.5 percentiles (over the whole volume, the lower bound
  raised to 0) and scaled to [0, 1]; the tumour and non-tumour scores come from the two images
  multiplied by the region mask, over the **whole** volume (PSNR with data range 1; SSIM the
  mean of the 3D Gaussian SSIM map, window 11, sigma 1.5, without its 5-voxel border, as
  torchmetrics reduces it). Keys ``brasyn_<metric>[_tumour|_non_tumour_brain]``.
- ``paper``: Osman & Tamam 2022: every slice (along the model's slice axis) that contains brain
  is scored as a whole 2D image on the model's own (clipped) [0, 1] scale with data range 1,
  and the per-slice values are averaged. ``paper_ssim_data_range_2`` is what the paper's
  published code would give with scikit-image's old default data range for float images
  (the dtype range -1..1, R = 2). Keys ``paper_<metric>``.

Both other protocols forgive errors the corrected one counts; they are reported beside it,
never instead of it (documentation/evaluation.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from autosynth.evaluation.metrics import compute_metrics, psnr_from_mse
from autosynth.evaluation.reference_scale import ReferenceScale, normalise_reference
from autosynth.evaluation.ssim import ssim_maps

DEFAULT_PROTOCOL = "corrected"
PREFIX = {"corrected": "", "brasyn": "brasyn_", "paper": "paper_"}
PROTOCOLS = tuple(PREFIX)
PROTOCOL_TITLES = {"corrected": "Corrected protocol (default): in the brain, masked SSIM, "
                                "unclipped reference, data range 1, per volume",
                   "brasyn": "BraSyn 2023 protocol: each image clipped to its own 0.5-99.5 "
                             "percentiles, regions by masking both images, whole volume",
                   "paper": "Paper protocol (Osman & Tamam 2022): whole 2D slices with brain, "
                            "averaged, data range 1"}
PROTOCOL_REGIONS = {"corrected": ("brain", "tumour", "non-tumour brain"),
                    "brasyn": ("whole image", "tumour", "non-tumour brain"),
                    "paper": ("whole image",)}
BRASYN_PERCENTILES = (0.5, 99.5)
DATA_RANGE = 1.0


@dataclass
class CaseImages:
    """One case on one grid: the prediction on the model's scale, the raw reference."""

    prediction: np.ndarray
    reference: np.ndarray
    brain: np.ndarray
    labels: np.ndarray | None
    scale: ReferenceScale
    slice_axis: int


def corrected(case: CaseImages) -> dict[str, float]:
    reference = normalise_reference(case.reference, case.brain, case.scale, clip=False)
    return compute_metrics(case.prediction, reference, mask=case.brain, labels=case.labels,
                           data_range=DATA_RANGE, slice_axis=case.slice_axis)


def percentile_clip(image: np.ndarray, low: float = BRASYN_PERCENTILES[0],
                    high: float = BRASYN_PERCENTILES[1]) -> np.ndarray:
    """BraSyn's ``__percentile_clip``: the image's own percentiles over every voxel, a negative
    lower bound raised to 0, clipped and mapped to [0, 1]."""
    image = np.asarray(image, dtype=np.float64)
    v_min, v_max = np.percentile(image, (low, high))
    v_min = max(float(v_min), 0.0)
    span = float(v_max) - v_min
    return (np.clip(image, v_min, v_max) - v_min) / (span if span > 0 else 1.0)


def _whole_volume_scores(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    error = pred - ref
    mse_value = float(np.mean(error ** 2))
    s_maps = ssim_maps(pred, ref, DATA_RANGE, volume=True, slices=False, dtype=torch.float64)
    return {"mae": float(np.mean(np.abs(error))), "mse": mse_value,
            "psnr": psnr_from_mse(mse_value, DATA_RANGE), "ssim": s_maps.mean("volume")}


def brasyn(case: CaseImages) -> dict[str, float]:
    """Both images masked to the brain first (the challenge's images are skull-stripped, and
    a prediction is defined only there), then the challenge's computation."""
    pred = percentile_clip(np.where(case.brain, case.prediction, 0))
    ref = percentile_clip(np.where(case.brain, case.reference, 0))
    results = _whole_volume_scores(pred, ref)
    if case.labels is not None and np.any(case.labels > 0):
        tumour = case.labels > 0
        for suffix, region in (("_tumour", tumour), ("_non_tumour_brain", ~tumour)):
            scores = _whole_volume_scores(pred * region, ref * region)
            results.update({k + suffix: v for k, v in scores.items()})
    return {PREFIX["brasyn"] + k: v for k, v in results.items()}


def paper(case: CaseImages) -> dict[str, float]:
    reference = normalise_reference(case.reference, case.brain, case.scale, clip=True)
    pred = np.asarray(case.prediction, dtype=np.float64)
    axis = case.slice_axis
    keep = np.moveaxis(case.brain, axis, 0).reshape(case.brain.shape[axis], -1).any(axis=1)
    error = np.moveaxis(pred - reference, axis, 0)[keep].reshape(int(keep.sum()), -1)
    mse_slices = (error ** 2).mean(axis=1)
    psnr_slices = np.array([psnr_from_mse(float(m), DATA_RANGE) for m in mse_slices])
    results = {"mae": float(np.abs(error).mean(axis=1).mean()),
               "mse": float(mse_slices.mean()),
               "psnr": float(psnr_slices[np.isfinite(psnr_slices)].mean())
               if np.isfinite(psnr_slices).any() else float("inf")}
    for key, data_range in (("ssim", DATA_RANGE), ("ssim_data_range_2", 2.0)):
        maps = ssim_maps(pred, reference, data_range, axis, volume=False, slices=True,
                         dtype=torch.float64)
        results[key] = float(maps.per_slice_means()[torch.from_numpy(keep)].mean())
    return {PREFIX["paper"] + k: v for k, v in results.items()}


SCORERS = {"corrected": corrected, "brasyn": brasyn, "paper": paper}


def score_case(case: CaseImages, protocols: tuple[str, ...] = (DEFAULT_PROTOCOL,)
               ) -> dict[str, float]:
    """The metrics of every protocol in ``protocols``, in one flat dict (prefixed keys)."""
    results: dict[str, float] = {}
    for name in protocols:
        results.update(SCORERS[name](case))
    return results
