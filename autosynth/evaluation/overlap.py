"""Overlap of two label maps per BraTS region: Dice and the 95 % Hausdorff distance (mm).

Regions are unions of label values, as BraTS scores them: whole tumour = 1+2+3, tumour core =
1+3, enhancing tumour = 3 (1 necrosis, 2 oedema, 3 enhancing). A region is scored only where the
dataset's ``labels`` name at least one of its values.

Empty masks follow the challenge's convention (the BraTS / BraSyn evaluation code):

- reference and prediction both empty: Dice 1, HD95 0 (nothing to find, nothing found);
- exactly one empty: Dice 0 and HD95 = the diagonal of the image's physical extent, the worst
  distance the image allows; on the BraTS grid (240 x 240 x 155 at 1 mm) that is the 373.13 mm
  the challenge uses, and on other grids it scales with them instead of being a BraTS constant.

HD95 as MedPy's ``hd95``, which most BraTS evaluation code calls: the surface of a mask is its
voxels with a 6-connected neighbour outside it; the distances (in mm, with the voxel spacing)
from each surface voxel of one mask to the nearest surface voxel of the other are pooled over
both directions, and the 95th percentile (NumPy's linear interpolation) is taken.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

BRATS_REGIONS: dict[str, tuple[int, ...]] = {
    "whole tumour": (1, 2, 3),
    "tumour core": (1, 3),
    "enhancing tumour": (3,),
}
REGION_KEYS = {"whole tumour": "wt", "tumour core": "tc", "enhancing tumour": "et"}
PERCENTILE = 95.0


def regions_of(label_values: list[int] | set[int]) -> dict[str, tuple[int, ...]]:
    """The BraTS regions that the dataset's label values can form (each reduced to them)."""
    values = set(int(v) for v in label_values) - {0}
    return {name: tuple(v for v in members if v in values)
            for name, members in BRATS_REGIONS.items() if values & set(members)}


def region_mask(labels: np.ndarray, members: tuple[int, ...]) -> np.ndarray:
    return np.isin(labels, members)


def dice(reference: np.ndarray, prediction: np.ndarray) -> float:
    """2|A and B| / (|A| + |B|); 1 when both are empty."""
    reference, prediction = np.asarray(reference, bool), np.asarray(prediction, bool)
    total = int(reference.sum()) + int(prediction.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(reference, prediction).sum()) / total


def empty_penalty(shape: tuple[int, ...], spacing: tuple[float, ...]) -> float:
    """The image's physical diagonal in mm (373.13 for 240 x 240 x 155 at 1 mm)."""
    return float(np.linalg.norm(np.asarray(shape, float) * np.asarray(spacing, float)))


def _surface(mask: np.ndarray) -> np.ndarray:
    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    return mask & ~ndimage.binary_erosion(mask, structure, border_value=0)


def hd95(reference: np.ndarray, prediction: np.ndarray,
         spacing: tuple[float, ...] | None = None) -> float:
    """95th percentile of the pooled surface distances (mm); see the module for empty masks.

    ``spacing`` per array axis (default 1)."""
    reference, prediction = np.asarray(reference, bool), np.asarray(prediction, bool)
    if reference.shape != prediction.shape:
        raise ValueError(f"reference {reference.shape} and prediction {prediction.shape} "
                         "differ in shape")
    spacing = tuple(float(s) for s in (spacing or (1.0,) * reference.ndim))
    has_ref, has_pred = bool(reference.any()), bool(prediction.any())
    if not has_ref and not has_pred:
        return 0.0
    if has_ref != has_pred:
        return empty_penalty(reference.shape, spacing)
    ref_surface, pred_surface = _surface(reference), _surface(prediction)
    to_ref = ndimage.distance_transform_edt(~ref_surface, sampling=spacing)
    to_pred = ndimage.distance_transform_edt(~pred_surface, sampling=spacing)
    distances = np.concatenate([to_ref[pred_surface], to_pred[ref_surface]])
    return float(np.percentile(distances, PERCENTILE))


def overlap_metrics(reference: np.ndarray, prediction: np.ndarray,
                    spacing: tuple[float, ...], regions: dict[str, tuple[int, ...]]
                    ) -> dict[str, float]:
    """``{"dice_wt": ..., "hd95_wt": ..., ...}`` for each region of two label maps."""
    reference, prediction = np.asarray(reference), np.asarray(prediction)
    out = {}
    for name, members in regions.items():
        key = REGION_KEYS[name]
        ref, pred = region_mask(reference, members), region_mask(prediction, members)
        out[f"dice_{key}"] = dice(ref, pred)
        out[f"hd95_{key}"] = hd95(ref, pred, spacing)
    return out
