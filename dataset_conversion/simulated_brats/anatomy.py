"""Real anatomy for the demo cohort: MNI ICBM152 tissue fractions on a BraTS-like grid.

The grey- and white-matter probability maps and the brain mask of the MNI ICBM152 2009
template ship inside the ``nilearn`` wheel, so they are available offline. CSF is what is left
of the brain: ``clip(brain - GM - WM, 0, 1)``. The maps are *population* probabilities (the
average of 152 brains), not one brain's partial volumes: at a cortical voxel "GM 0.6, CSF 0.4"
means that 60 % of the brains have grey matter there, while each has nearly pure tissue at
1 mm. Used as fractions they mix CSF into most of the cortex and make grey matter on FLAIR (where
CSF is nulled) about as bright as white matter. So the probabilities are sharpened towards the
likeliest tissue (``p^2``, renormalised to the brain), which keeps partial volume at boundaries
and makes the cortex grey matter. The maps are then resampled (after a Gaussian
anti-alias whose FWHM is the new voxel size, so fractions stay partial volumes) onto an
isotropic grid centred on the brain, in LPS orientation like BraTS (direction diag(-1, -1, 1)).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from autosynth.dataset.image_io import Geometry

LPS_DIRECTION = (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)
FIELD_OF_VIEW_MM = (192.0, 232.0, 192.0)  # x, y, z: the brain scaled by 10 % and rotated fits
NOTICE_FILE = "MNI_ICBM152_NOTICE.txt"
SHARPENING_POWER = 2.0  # population probabilities -> one brain's fractions (see above)
INSTALL_HINT = ("the demo cohort needs nilearn (it ships the MNI ICBM152 templates): "
                "pip install nilearn  (or: pip install 'autosynth[demo]')")


class MissingDemoDependencyError(ImportError):
    """nilearn, the optional 'demo' extra, is not installed."""


@dataclass(frozen=True)
class Anatomy:
    """Tissue fractions (Z, Y, X) float32 on ``geometry``; ``spacing`` in mm (isotropic)."""

    gm: np.ndarray
    wm: np.ndarray
    csf: np.ndarray
    brain: np.ndarray
    geometry: Geometry

    @property
    def spacing(self) -> float:
        return float(self.geometry.spacing[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.gm.shape

    @functools.cached_property
    def depth_mm(self) -> np.ndarray:
        """Distance (mm) from each brain voxel to the brain outline; computed once."""
        return (ndimage.distance_transform_edt(self.brain > 0.5) * self.spacing).astype(
            np.float32)


def mni_notice() -> str:
    """The ICBM152 copyright notice, which must accompany anything derived from the templates."""
    return resources.files(__package__).joinpath(NOTICE_FILE).read_text(encoding="utf-8").strip()


def _nilearn_templates():
    try:
        from nilearn import datasets
    except ImportError:
        raise MissingDemoDependencyError(INSTALL_HINT) from None
    return (datasets.load_mni152_gm_template(), datasets.load_mni152_wm_template(),
            datasets.load_mni152_brain_mask())


def individual_fractions(probabilities: np.ndarray, brain: np.ndarray,
                         power: float = SHARPENING_POWER) -> np.ndarray:
    """(n, ...) tissue probabilities -> fractions ``p^power / sum p^power`` that sum to ``brain``.

    ``power`` 1 keeps the probabilities (renormalised); larger values move each voxel towards
    its likeliest tissue while a 50/50 boundary voxel stays 50/50.
    """
    sharpened = np.clip(probabilities, 0.0, 1.0) ** np.float32(power)
    total = sharpened.sum(axis=0)
    return (sharpened / np.maximum(total, 1e-12) * (brain * (total > 0))).astype(np.float32)


def _to_sitk_lps(array_ras_xyz: np.ndarray, affine: np.ndarray) -> sitk.Image:
    """A nibabel (x, y, z) RAS array with a diagonal affine as an LPS SimpleITK image."""
    if not np.allclose(affine[:3, :3], np.diag(np.diag(affine[:3, :3]))) \
            or np.any(np.diag(affine)[:3] <= 0):
        raise ValueError("expected the MNI templates on a positive diagonal (RAS) grid")
    image = sitk.GetImageFromArray(np.ascontiguousarray(array_ras_xyz.transpose(2, 1, 0),
                                                        dtype=np.float32))
    image.SetSpacing(tuple(float(s) for s in np.diag(affine)[:3]))
    image.SetOrigin((-float(affine[0, 3]), -float(affine[1, 3]), float(affine[2, 3])))
    image.SetDirection(LPS_DIRECTION)
    return image


def _brain_centre_lps(brain: sitk.Image) -> np.ndarray:
    """The brain's centroid in LPS mm, rounded to whole millimetres (a tidy grid origin)."""
    index = np.argwhere(sitk.GetArrayViewFromImage(brain) > 0.5).mean(axis=0)[::-1]
    return np.round(brain.TransformContinuousIndexToPhysicalPoint(index.tolist()))


def output_geometry(centre_lps: np.ndarray, spacing: float) -> Geometry:
    """The simulation grid: ``FIELD_OF_VIEW_MM`` at ``spacing``, centred on ``centre_lps``."""
    size = tuple(int(round(fov / spacing)) for fov in FIELD_OF_VIEW_MM)
    half = (np.asarray(size) - 1) / 2.0 * spacing
    origin = centre_lps - np.diag(np.reshape(LPS_DIRECTION, (3, 3))) * half
    return Geometry(size, (float(spacing),) * 3, tuple(float(round(o, 3)) for o in origin),
                    LPS_DIRECTION)


def _resample(image: sitk.Image, geometry: Geometry) -> np.ndarray:
    spacing = geometry.spacing[0]
    if spacing > image.GetSpacing()[0]:
        fwhm_extra = np.sqrt(spacing ** 2 - image.GetSpacing()[0] ** 2)
        image = sitk.SmoothingRecursiveGaussian(image, float(fwhm_extra / 2.3548))
    reference = sitk.Image(list(geometry.size), sitk.sitkFloat32)
    geometry.apply_to(reference)
    resampled = sitk.Resample(image, reference, sitk.Transform(), sitk.sitkLinear, 0.0,
                              sitk.sitkFloat32)
    return np.clip(sitk.GetArrayFromImage(resampled), 0.0, 1.0)


@functools.lru_cache(maxsize=2)
def load_anatomy(spacing: float) -> Anatomy:
    """GM, WM, CSF and brain fractions at ``spacing`` mm (cached: the same for every subject).

    Raises :class:`MissingDemoDependencyError` (``pip install nilearn``) without nilearn.
    """
    if not 0.5 <= spacing <= 8.0:
        raise ValueError(f"spacing must be 0.5-8 mm, got {spacing}")
    gm_img, wm_img, brain_img = _nilearn_templates()
    affine = brain_img.affine
    gm = np.asarray(gm_img.get_fdata(dtype=np.float32))
    wm = np.asarray(wm_img.get_fdata(dtype=np.float32))
    brain = (np.asarray(brain_img.dataobj) > 0).astype(np.float32)
    csf = np.clip(brain - gm - wm, 0.0, 1.0)
    gm, wm, csf = individual_fractions(np.stack([gm * brain, wm * brain, csf]), brain)
    images = {name: _to_sitk_lps(array, affine)
              for name, array in (("gm", gm), ("wm", wm), ("csf", csf), ("brain", brain))}
    geometry = output_geometry(_brain_centre_lps(images["brain"]), float(spacing))
    return Anatomy(geometry=geometry, **{name: _resample(image, geometry)
                                         for name, image in images.items()})
