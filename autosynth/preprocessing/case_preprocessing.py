"""One case from its original grid to 2D training samples, and back: pure functions.

The trainer reads what :func:`preprocess_case` produced; the predictor calls the same function
on new cohorts and :func:`restore_to_original` on the network's output, so training and
inference can never disagree on a preprocessing step.

Order of the steps: brain mask (given or derived) -> normalisation on the original grid (so
statistics do not depend on resampling) -> slice axis moved first -> null slices dropped ->
in-plane crop to the brain -> in-plane resampling onto the patch grid -> background zeroed.
"""
from __future__ import annotations

import numpy as np

import autosynth
from autosynth.dataset.image_io import Geometry
from autosynth.experiment_planning.plans import ConfigurationPlan
from autosynth.normalization import get_scheme, normalization_parameters, normalize
from autosynth.preprocessing.brain_mask import (MASK_DERIVED, MASK_FROM_FILE, bounding_box,
                                                brain_voxels_per_slice, derive_brain_mask,
                                                kept_slice_indices)
from autosynth.preprocessing.properties import CaseProperties
from autosynth.preprocessing.resampling import fit_and_pad_layout, place_in_patch, resize_stack


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

    axis = config.slice_axis
    normalized = np.moveaxis(normalized, 1 + axis, 1)
    brain_s = np.moveaxis(brain, axis, 0)
    fraction = config.null_slice_fraction if null_slice_fraction is None else null_slice_fraction
    kept = kept_slice_indices(brain_voxels_per_slice(brain_s, 0), fraction)
    brain_s = brain_s[kept]
    if config.crop_to_brain:
        crop = bounding_box(brain_s)[1:]
    else:
        crop = [[0, brain_s.shape[1]], [0, brain_s.shape[2]]]
    window = (slice(crop[0][0], crop[0][1]), slice(crop[1][0], crop[1][1]))
    cropped = [crop[0][1] - crop[0][0], crop[1][1] - crop[1][0]]
    spacing_zyx = list(reversed(geometry.spacing))
    inplane = [a for a in range(3) if a != axis]
    spacing = [spacing_zyx[a] for a in inplane]
    patch = tuple(int(p) for p in config.patch_size)
    if config.resize == "fit_and_pad":
        size, pad = fit_and_pad_layout(cropped, spacing, config.inplane_spacing, patch)
    else:
        size, pad = list(patch), [0, 0]

    data = place_in_patch(resize_stack(normalized[:, kept, window[0], window[1]], size, 3),
                          patch, pad)
    out_mask = place_in_patch(resize_stack(brain_s[:, window[0], window[1]], size, 0),
                              patch, pad) > 0.5
    data *= out_mask
    if all(get_scheme(p["scheme"]).unit_range for p in norm.values()):
        np.clip(data, 0.0, 1.0, out=data)
    out_labels = None
    if labels is not None:
        labels_s = np.moveaxis(np.asarray(labels), axis, 0)[kept]
        out_labels = place_in_patch(resize_stack(labels_s[:, window[0], window[1]], size, 0),
                                    patch, pad).round().astype(np.uint8)
    factors = [s / c for s, c in zip(size, cropped)]
    properties = CaseProperties(
        case_id=case_id, configuration=configuration, contrasts=list(contrasts),
        geometry=geometry.to_dict(), shape_zyx=list(geometry.shape_zyx), mask_source=source,
        slice_axis=axis, kept_slices=[int(k) for k in kept], crop_box=crop,
        resampled_shape=list(size), pad_before=list(pad), patch_size=list(patch),
        scale_factors=factors, stored_spacing=[s / f for s, f in zip(spacing, factors)],
        normalization=norm, storage_dtype=config.storage_dtype,
        has_labels=labels is not None, autosynth_version=autosynth.__version__)
    return (data.astype(config.storage_dtype, copy=False), out_mask.astype(np.uint8),
            out_labels, properties)


def restore_to_original(array: np.ndarray, properties: CaseProperties, order: int = 3
                        ) -> np.ndarray:
    """Put ``(S, H, W)`` (or ``(C, S, H, W)``) patch-grid data back on the original grid.

    Returns ``(Z, Y, X)`` (or ``(C, Z, Y, X)``) float32 with zeros in the dropped slices and
    outside the crop box. ``order`` 3 for images, 0 for masks and labels.
    """
    array = np.asarray(array, dtype=np.float32)
    squeeze = array.ndim == 3
    if squeeze:
        array = array[None]
    expected = (len(properties.kept_slices), *properties.patch_size)
    if array.ndim != 4 or tuple(array.shape[1:]) != expected:
        raise PreprocessingError(f"case {properties.case_id}: array of shape "
                                 f"{tuple(array.shape)} does not match the stored (S, H, W) "
                                 f"{expected}")
    (ph, pw), (h, w) = properties.pad_before, properties.resampled_shape
    (a0, a1), (b0, b1) = properties.crop_box
    region = resize_stack(array[..., ph:ph + h, pw:pw + w], (a1 - a0, b1 - b0), order)
    axis = properties.slice_axis
    shape_s = [properties.shape_zyx[axis]] + [properties.shape_zyx[a]
                                              for a in properties.inplane_axes]
    out = np.zeros((array.shape[0], *shape_s), dtype=np.float32)
    out[:, properties.kept_slices, a0:a1, b0:b1] = region
    out = np.moveaxis(out, 1, 1 + axis)
    return out[0] if squeeze else out
