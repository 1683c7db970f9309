"""Image-quality metrics of a synthetic image against its reference (paper section 2.5).

All metrics take the data range explicitly: images are compared on the scale they were
normalised to ([0, 1] in the paper, so R = 1 by default), never on a range guessed from the data.

- MAE = mean |pred - ref|, MSE = mean (pred - ref)^2, accumulated in float64;
- PSNR = 10 log10(R^2 / MSE); identical images give MSE = 0 and PSNR = +inf (float('inf')),
  which JSON writers must handle (json.dumps writes ``Infinity``);
- SSIM: see :mod:`autosynth.evaluation.ssim` (skimage-equal, 3D window or per slice).

Regions, when a brain mask and/or tumour labels are given: ``brain`` (mask), ``tumour``
(labels > 0, inside the mask when there is one) and ``non_tumour_brain`` (mask and labels == 0).
A region's keys are present only when its inputs are given and it has at least one voxel.
"""
from __future__ import annotations

import math

import torch

from autosynth.evaluation.masked_ssim import masked_ssim_map
from autosynth.evaluation.ssim import ArrayLike, _as_tensor, masked_mean, ssim, ssim_maps

__all__ = ["mae", "mse", "psnr", "psnr_from_mse", "ssim", "compute_metrics", "region_masks"]

CHUNK_VOXELS = 2 ** 20   # float64 work per chunk along axis 0 (8 MiB per array)


def _pair(pred: ArrayLike, ref: ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
    p, r = _as_tensor(pred), _as_tensor(ref)
    if p.shape != r.shape:
        raise ValueError(f"pred {tuple(p.shape)} and ref {tuple(r.shape)} differ in shape")
    return p, r


def _region_sums(pred: torch.Tensor, ref: torch.Tensor, extra: torch.Tensor | None,
                 regions: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Sums of |e|, e^2 (and ``extra``, e.g. the SSIM map) over the whole image and each region:
    a (k, 1 + len(regions)) float64 matrix, and the voxel counts. Works in float64 chunks along
    axis 0, so no whole-volume float64 copy is made (fresh large buffers cost page faults)."""
    rows = 2 if extra is None else 3
    sums = torch.zeros(rows, 1 + len(regions), dtype=torch.float64)
    counts = torch.zeros(1 + len(regions), dtype=torch.float64)
    plane = max(1, pred[0].numel()) if pred.ndim else 1
    step = max(1, CHUNK_VOXELS // plane)
    size = min(step, pred.shape[0]) * plane
    values = torch.empty(rows, size, dtype=torch.float64)         # reused: no page faults
    weights = torch.empty(1 + len(regions), size, dtype=torch.float64)
    weights[0] = 1.0
    for start in range(0, pred.shape[0], step):
        part = slice(start, start + step)
        error = pred[part].to(torch.float64) - ref[part].to(torch.float64)
        n = error.numel()
        torch.abs(error.view(-1), out=values[0, :n])
        torch.square(error.view(-1), out=values[1, :n])
        if extra is not None:
            values[2, :n].view(error.shape).copy_(extra[part])
        for index, region in enumerate(regions, start=1):
            weights[index, :n].view(error.shape).copy_(region[part])
        sums += values[:, :n] @ weights[:, :n].T
        counts += weights[:, :n].sum(dim=1)
    return sums, counts


def _masked_stat(pred: ArrayLike, ref: ArrayLike, mask: ArrayLike | None, row: int) -> float:
    p, r = _pair(pred, ref)
    regions = [] if mask is None else [_checked_mask(mask, p.shape, "mask")]
    sums, counts = _region_sums(p, r, None, regions)
    column = 0 if mask is None else 1
    return float(sums[row, column] / counts[column]) if counts[column] else float("nan")


def mae(pred: ArrayLike, ref: ArrayLike, mask: ArrayLike | None = None) -> float:
    """Mean absolute error (inside ``mask`` if given; NaN for an empty mask)."""
    return _masked_stat(pred, ref, mask, 0)


def mse(pred: ArrayLike, ref: ArrayLike, mask: ArrayLike | None = None) -> float:
    """Mean squared error (inside ``mask`` if given; NaN for an empty mask)."""
    return _masked_stat(pred, ref, mask, 1)


def psnr_from_mse(mse_value: float, data_range: float = 1.0) -> float:
    """10 log10(R^2 / MSE); +inf when MSE is 0 (identical images)."""
    if math.isnan(mse_value):
        return float("nan")
    if mse_value == 0:
        return float("inf")
    return 10.0 * math.log10(data_range ** 2 / mse_value)


def psnr(pred: ArrayLike, ref: ArrayLike, data_range: float = 1.0,
         mask: ArrayLike | None = None) -> float:
    """Peak signal-to-noise ratio in dB with an explicit data range R."""
    return psnr_from_mse(mse(pred, ref, mask), data_range)


def _checked_mask(mask: ArrayLike, shape: torch.Size, name: str) -> torch.Tensor:
    tensor = _as_tensor(mask)
    tensor = tensor if tensor.dtype == torch.bool else tensor != 0
    if tensor.shape != shape:
        raise ValueError(f"{name} {tuple(tensor.shape)} != image {tuple(shape)}")
    return tensor


def region_masks(shape: torch.Size | tuple[int, ...], mask: ArrayLike | None = None,
                 labels: ArrayLike | None = None) -> dict[str, torch.Tensor]:
    """Boolean region masks by name ('brain', 'tumour', 'non_tumour_brain'), empty ones left
    out. The whole image is implicit (no mask)."""
    shape = torch.Size(shape)
    regions: dict[str, torch.Tensor] = {}
    brain = None if mask is None else _checked_mask(mask, shape, "mask")
    if brain is not None:
        regions["brain"] = brain
    if labels is not None:
        lesion = _as_tensor(labels) > 0
        if lesion.shape != shape:
            raise ValueError(f"labels {tuple(lesion.shape)} != image {tuple(shape)}")
        regions["tumour"] = lesion if brain is None else lesion & brain
        if brain is not None:
            regions["non_tumour_brain"] = brain & ~lesion
    return {name: region for name, region in regions.items() if bool(region.any())}


def compute_metrics(pred: ArrayLike, ref: ArrayLike, mask: ArrayLike | None = None,
                    labels: ArrayLike | None = None, data_range: float = 1.0,
                    slice_axis: int = 0, dtype: torch.dtype = torch.float32) -> dict[str, float]:
    """All metrics of one case: whole image, then per region (suffix ``_brain``, ``_tumour``,
    ``_non_tumour_brain``).

    ``ssim`` is skimage's SSIM of the whole array (a 3D window for a volume); ``ssim_<region>``
    the mean inside the region of the **masked** SSIM map, whose windows take their statistics
    from brain voxels only (:mod:`autosynth.evaluation.masked_ssim`); without a brain mask, of
    the ordinary map. ``ssim_brain_unmasked_windows`` keeps the ordinary map's brain mean (the
    edge-inflated number reported before), for comparison only. For a volume, ``ssim_per_slice`` is the paper's
    mean of 2D SSIMs over the slices along ``slice_axis`` - over the slices that contain brain
    when a mask is given (the paper removed the empty slices), over all slices otherwise.
    ``dtype`` is the SSIM computation's (see :mod:`autosynth.evaluation.ssim`).
    """
    p, r = _pair(pred, ref)
    if p.ndim not in (2, 3):
        raise ValueError(f"need 2D or 3D images, got shape {tuple(p.shape)}")
    regions = region_masks(p.shape, mask, labels)
    three_d = p.ndim == 3
    maps = ssim_maps(p, r, data_range, slice_axis, volume=True, slices=three_d, dtype=dtype)
    region_map = maps.volume
    if "brain" in regions:
        region_map = masked_ssim_map(p, r, regions["brain"], data_range).to(maps.volume.dtype)
    sums, counts = _region_sums(p, r, region_map, list(regions.values()))
    means = sums / counts

    results: dict[str, float] = {}
    for column, name in enumerate(["", *regions]):
        suffix = "_" + name if name else ""
        mse_value = float(means[1, column])
        results["mae" + suffix] = float(means[0, column])
        results["mse" + suffix] = mse_value
        results["psnr" + suffix] = psnr_from_mse(mse_value, data_range)
        # whole image: skimage's cropped mean; regions: the full map inside the region
        results["ssim" + suffix] = maps.mean("volume") if not name else float(means[2, column])
    if "brain" in regions:
        results["ssim_brain_unmasked_windows"] = masked_mean(maps.volume, regions["brain"])
    if three_d:
        per_slice = maps.per_slice_means()
        if "brain" in regions:
            per_slice = per_slice[regions["brain"].movedim(slice_axis, 0).flatten(1).any(dim=1)]
        results["ssim_per_slice"] = float(per_slice.mean())
    return results
