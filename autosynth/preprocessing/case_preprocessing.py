"""One case from its original grid to 2D training samples, and back: pure functions.

The trainer reads what :func:`preprocess_case` produced; the predictor calls the same function
on new cohorts and :func:`restore_to_original` on the network's output, so training and
inference can never disagree on a preprocessing step.

Order of the steps: brain mask (given or derived) -> normalisation on the original grid (so
statistics do not depend on resampling) -> canonical orientation (axes permuted and flipped, no
interpolation) -> slice axis moved first -> null slices dropped -> in-plane crop to the brain
-> in-plane resampling (``spacing``: to the plan's spacing, never rescaled to fit a patch;
``stretch``: the whole crop to the patch, the paper's 224 x 224) -> zero-padding up to the patch
when smaller -> background zeroed. A case larger than the patch stays larger: training samples
patches from it and prediction covers it with sliding windows.
"""
from __future__ import annotations

import numpy as np

import autosynth
from autosynth.dataset.image_io import Geometry
from autosynth.dataset.orientation import Reorientation
from autosynth.experiment_planning.plans import ConfigurationPlan
from autosynth.normalization import get_scheme, normalization_parameters, normalize
from autosynth.dataset.brain_mask import (MASK_DERIVED, MASK_FROM_FILE, bounding_box,
                                                brain_voxels_per_slice, derive_brain_mask,
                                                kept_slice_indices)
from autosynth.preprocessing.properties import CaseProperties
from autosynth.preprocessing.resampling import (pad_slices_to_at_least, pad_to_at_least,
                                                resample_slices, resample_stack,
                                                size_at_spacing)


class PreprocessingError(RuntimeError):
    """A case cannot be preprocessed; the message names the case (and file when known)."""


def _check_inputs(images, mask, labels, geometry: Geometry, case_id: str) -> None:
    if images.ndim != 4:
        raise PreprocessingError(f"case {case_id}: images must be (C, Z, Y, X), got shape "
                                 f"{images.shape}")
    expected = tuple(geometry.shape_zyx)
    for name, array in (("images", images[0]), ("mask", mask), ("labels", labels)):
        if array is not None and tuple(array.shape) != expected:
            raise PreprocessingError(f"case {case_id}: {name} shape {tuple(array.shape)} does "
                                     f"not match the geometry's (Z, Y, X) size {expected}")


def _slice_resampling(config: ConfigurationPlan, kept: int, spacing: float) -> dict | None:
    """For 3D patches: the kept slices resampled to the plan's ``slice_spacing`` and padded up
    to the patch depth; None for slice-wise configurations (slices stay as acquired)."""
    if not config.volumetric:
        return None
    target = float(config.slice_spacing) if config.slice_spacing else float(spacing)
    resampled = size_at_spacing([kept], [spacing], [target])[0]
    stored = max(resampled, int(config.patch_size[0]))
    return {"spacing": float(spacing), "stored_spacing": target, "resampled_slices": resampled,
            "stored_slices": stored, "pad_before": (stored - resampled) // 2}


def preprocess_case(images: np.ndarray, mask: np.ndarray | None, geometry: Geometry,
                    config: ConfigurationPlan, contrasts: list[str],
                    labels: np.ndarray | None = None, case_id: str = "case",
                    configuration: str = "", null_slice_fraction: float | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, CaseProperties]:
    """Preprocess one case for ``config``.

    images ``(C, Z, Y, X)`` in the order of ``contrasts``; mask ``(Z, Y, X)`` or None (then
    derived from the images); labels ``(Z, Y, X)`` or None. ``null_slice_fraction`` overrides
    the plan's (a predictor may pass 0 to keep every slice that holds brain). Returns
    data ``(C, S, H, W)`` (storage dtype), mask and labels ``(S, H, W)`` uint8, properties.
    """
    images = np.asarray(images, dtype=np.float32)
    _check_inputs(images, mask, labels, geometry, case_id)
    if len(contrasts) != images.shape[0]:
        raise PreprocessingError(f"case {case_id}: {images.shape[0]} images for "
                                 f"{len(contrasts)} contrasts {contrasts}")
    source = MASK_FROM_FILE if mask is not None else MASK_DERIVED
    brain = np.asarray(mask) > 0 if mask is not None else derive_brain_mask(images)
    if not brain.any():
        raise PreprocessingError(f"case {case_id}: the brain mask is empty")
    norm = {}
    normalized = np.empty_like(images)
    for c, contrast in enumerate(contrasts):
        if contrast not in config.normalization:
            raise PreprocessingError(f"case {case_id}: the plan has no normalisation for "
                                     f"contrast '{contrast}'")
        norm[contrast] = normalization_parameters(images[c], brain, config.normalization[contrast])
        normalized[c] = normalize(images[c], brain, norm[contrast])

    reorientation = Reorientation.of(geometry.direction, config.orientation)
    normalized = reorientation.to_canonical(normalized)
    brain = reorientation.to_canonical(brain)
    axis = config.slice_axis
    normalized = np.moveaxis(normalized, 1 + axis, 1)
    brain_s = np.moveaxis(brain, axis, 0)
    fraction = config.null_slice_fraction if null_slice_fraction is None else null_slice_fraction
    kept = kept_slice_indices(brain_voxels_per_slice(brain_s, 0), fraction)
    if config.contiguous_slices:  # neighbours are read together: one unbroken run
        kept = np.arange(kept.min(), kept.max() + 1)
    brain_s = brain_s[kept]
    if config.crop_to_brain:
        crop = bounding_box(brain_s)[1:]
    else:
        crop = [[0, brain_s.shape[1]], [0, brain_s.shape[2]]]
    window = (slice(crop[0][0], crop[0][1]), slice(crop[1][0], crop[1][1]))
    cropped = [crop[0][1] - crop[0][0], crop[1][1] - crop[1][0]]
    canonical_spacing = reorientation.canonical_zyx(list(reversed(geometry.spacing)))
    spacing = [canonical_spacing[a] for a in range(3) if a != axis]
    patch = tuple(int(p) for p in config.patch_size[-2:])
    slices = _slice_resampling(config, len(kept), canonical_spacing[axis])
    if config.resize == "spacing":
        target = list(config.inplane_spacing)
        size = size_at_spacing(cropped, spacing, target)
    else:  # stretch: the whole crop onto the patch
        size = list(patch)
        target = [s * c / n for s, c, n in zip(spacing, cropped, size)]

    def to_stored(stack: np.ndarray, order: int) -> np.ndarray:
        stack = pad_to_at_least(resample_stack(stack, size, order, spacing, target), patch)[0]
        if slices is None:
            return stack
        lead = stack.ndim == 3  # masks and labels: (S, H, W)
        stack = stack[None] if lead else stack
        stack = resample_slices(stack, slices["resampled_slices"], order, slices["spacing"],
                                slices["stored_spacing"])
        stack = pad_slices_to_at_least(stack, slices["stored_slices"])[0]
        return stack[0] if lead else stack

    data = to_stored(normalized[:, kept, window[0], window[1]], 3)
    out_mask = to_stored(brain_s[:, window[0], window[1]], 0) > 0.5
    pad = pad_to_at_least(np.zeros((1, *size)), patch)[1]
    data *= out_mask
    if all(get_scheme(p["scheme"]).unit_range for p in norm.values()):
        np.clip(data, 0.0, 1.0, out=data)
    out_labels = None
    if labels is not None:
        labels_s = np.moveaxis(reorientation.to_canonical(np.asarray(labels)), axis, 0)[kept]
        out_labels = to_stored(labels_s[:, window[0], window[1]], 0).round().astype(np.uint8)
    properties = CaseProperties(
        case_id=case_id, configuration=configuration, contrasts=list(contrasts),
        geometry=geometry.to_dict(), shape_zyx=list(geometry.shape_zyx), mask_source=source,
        slice_axis=axis, kept_slices=[int(k) for k in kept], crop_box=crop,
        resampled_shape=list(size), pad_before=list(pad), patch_size=list(patch),
        scale_factors=[s / t for s, t in zip(spacing, target)], stored_spacing=target,
        normalization=norm, storage_dtype=config.storage_dtype,
        has_labels=labels is not None, autosynth_version=autosynth.__version__,
        reorientation=reorientation.to_dict(), stored_shape=list(data.shape[2:]),
        canonical_shape_zyx=[int(n) for n in brain.shape], original_spacing=spacing,
        slice_resampling=slices)
    return (data.astype(config.storage_dtype, copy=False), out_mask.astype(np.uint8),
            out_labels, properties)


def restore_to_original(array: np.ndarray, properties: CaseProperties, order: int = 3
                        ) -> np.ndarray:
    """Put stored ``(S, H, W)`` (or ``(C, S, H, W)``) data back on the original grid.

    Returns ``(Z, Y, X)`` (or ``(C, Z, Y, X)``) float32 with zeros in the dropped slices and
    outside the crop box. ``order`` 3 for images, 0 for masks and labels.
    """
    array = np.asarray(array, dtype=np.float32)
    squeeze = array.ndim == 3
    if squeeze:
        array = array[None]
    slices = properties.slice_resampling
    expected = (slices["stored_slices"] if slices else len(properties.kept_slices),
                *properties.stored_shape)
    if array.ndim != 4 or tuple(array.shape[1:]) != expected:
        raise PreprocessingError(f"case {properties.case_id}: array of shape "
                                 f"{tuple(array.shape)} does not match the stored (S, H, W) "
                                 f"{expected}")
    if slices:  # 3D: back to the kept slices' own spacing first
        start = slices["pad_before"]
        array = resample_slices(array[:, start:start + slices["resampled_slices"]],
                                len(properties.kept_slices), order, slices["stored_spacing"],
                                slices["spacing"])
    (ph, pw), (h, w) = properties.pad_before, properties.resampled_shape
    (a0, a1), (b0, b1) = properties.crop_box
    region = resample_stack(array[..., ph:ph + h, pw:pw + w], (a1 - a0, b1 - b0), order,
                            properties.stored_spacing, properties.original_spacing)
    axis = properties.slice_axis
    canonical = properties.canonical_shape_zyx
    shape_s = [canonical[axis]] + [canonical[a] for a in range(3) if a != axis]
    out = np.zeros((array.shape[0], *shape_s), dtype=np.float32)
    out[:, properties.kept_slices, a0:a1, b0:b1] = region
    out = properties.orientation.to_stored(np.moveaxis(out, 1, 1 + axis))
    out = np.ascontiguousarray(out)
    return out[0] if squeeze else out
