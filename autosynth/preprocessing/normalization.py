"""Intensity normalisation per contrast, and its exact inverse.

``brain_zscore_01`` (the paper): z = (x - mean) / std with mean and std over the case's brain,
then the plan's fixed window [z_low, z_high] (pooled 0.5 / 99.5 percentiles of z over the
dataset) is mapped linearly to [0, 1]: y = (clip(z, z_low, z_high) - z_low) / (z_high - z_low).
``percentile_01``: the case's 0.5-99.5 % brain percentiles are mapped to [0, 1], clipped.
``none``: intensities unchanged. Every scheme sets the background (outside the mask) to 0.
The parameters returned by :func:`normalization_parameters` are all that
:func:`denormalize` needs; voxels inside the window are restored exactly.
"""
from __future__ import annotations

import numpy as np

from autosynth.experiment_planning.plans import NormalizationPlan

EPSILON = 1e-8


def normalization_parameters(image: np.ndarray, mask: np.ndarray,
                             plan: NormalizationPlan) -> dict:
    """The per-case numbers of ``plan`` for one contrast, measured inside ``mask``."""
    if plan.scheme == "none":
        return {"scheme": "none"}
    values = image[mask]
    if values.size == 0:
        raise ValueError("the brain mask is empty")
    if plan.scheme == "brain_zscore_01":
        return {"scheme": plan.scheme, "mean": float(values.mean(dtype=np.float64)),
                "std": float(max(values.std(dtype=np.float64), EPSILON)),
                "z_low": float(plan.z_low), "z_high": float(plan.z_high)}
    if plan.scheme == "percentile_01":
        low, high = np.percentile(values, (plan.percentile_low, plan.percentile_high))
        return {"scheme": plan.scheme, "low": float(low), "high": float(max(high, low + EPSILON)),
                "percentile_low": plan.percentile_low, "percentile_high": plan.percentile_high}
    raise ValueError(f"unknown normalisation scheme '{plan.scheme}'")


def _window(params: dict) -> tuple[float, float]:
    """The intensity interval mapped to [0, 1] (None for 'none')."""
    if params["scheme"] == "brain_zscore_01":
        return (params["mean"] + params["z_low"] * params["std"],
                params["mean"] + params["z_high"] * params["std"])
    return params["low"], params["high"]


def normalize(image: np.ndarray, mask: np.ndarray, params: dict, clip: bool = True
              ) -> np.ndarray:
    """Apply ``params`` to one contrast; float32, 0 outside ``mask``. ``clip=False`` keeps the
    linear map beyond the window (evaluation: lesions above the window keep their value)."""
    if params["scheme"] == "none":
        out = image.astype(np.float32, copy=True)
    else:
        low, high = _window(params)
        out = ((image.astype(np.float32) - low) / (high - low)).astype(np.float32)
        if clip:
            np.clip(out, 0.0, 1.0, out=out)
    out[~mask] = 0
    return out


def denormalize(array: np.ndarray, params: dict, mask: np.ndarray | None = None) -> np.ndarray:
    """Original intensities from normalised ones (0 outside ``mask`` when one is given)."""
    array = np.asarray(array, dtype=np.float32)
    if params["scheme"] == "none":
        out = array.copy()
    else:
        low, high = _window(params)
        out = (array * (high - low) + low).astype(np.float32)
    if mask is not None:
        out[~np.asarray(mask, dtype=bool)] = 0
    return out
