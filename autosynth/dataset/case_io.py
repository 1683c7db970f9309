"""Reading a raw case with its brain mask (from masksTr, or derived from the images)."""
from __future__ import annotations

import numpy as np

from autosynth.dataset.cases import CaseFiles
from autosynth.dataset.image_io import Geometry, ImageIOError, read_case, read_image_on_grid
from autosynth.dataset.brain_mask import MASK_DERIVED, MASK_FROM_FILE, derive_brain_mask


class CaseReadError(RuntimeError):
    """A raw case cannot be used; the message names the case and the file."""


def load_case_with_mask(case: CaseFiles, channels) -> tuple[np.ndarray, np.ndarray, str, Geometry]:
    """Images ``(C, Z, Y, X)`` float32, boolean brain mask, its source and the geometry."""
    missing = [c for c in channels if c not in case.channels]
    if missing:
        raise CaseReadError(f"case {case.case_id}: no image for channel(s) {missing}")
    try:
        images, geometry = read_case([case.channels[c] for c in channels])
        if case.mask is not None:
            mask = read_image_on_grid(case.mask, geometry, "the images") > 0
            source = MASK_FROM_FILE
        else:
            mask, source = derive_brain_mask(images), MASK_DERIVED
    except ImageIOError as err:
        raise CaseReadError(str(err)) from None
    if not mask.any():
        where = case.mask if case.mask is not None else case.channels[channels[0]]
        raise CaseReadError(f"{where}: case {case.case_id} has no brain voxel "
                            f"({'empty mask' if case.mask else 'all images are zero'})")
    return images, mask, source, geometry


def load_labels(case: CaseFiles, geometry: Geometry) -> np.ndarray | None:
    """The case's labels as uint8 ``(Z, Y, X)``, or None when it has none."""
    if case.label is None:
        return None
    try:
        labels = read_image_on_grid(case.label, geometry, "the images")
    except ImageIOError as err:
        raise CaseReadError(str(err)) from None
    return np.rint(labels).astype(np.uint8)
