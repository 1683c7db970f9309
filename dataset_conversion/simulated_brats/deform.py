"""Per-subject shape: a random affine, a smooth elastic warp and the mass effect of a tumour.

Everything is a *backward* map (output voxel -> the template position its tissue comes from),
evaluated in voxel units of the isotropic simulation grid, so every tissue map is deformed by
the one same map with ``scipy.ndimage.map_coordinates`` and the maps stay consistent.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from dataset_conversion.simulated_brats.fields import rotation_matrix, smooth_field

ROTATION_DEG = 10.0
SCALE = 0.10
TRANSLATION_MM = 5.0
ELASTIC_SD_MM = (1.0, 3.0)
ELASTIC_CELL_MM = 24.0
MASS_EFFECT_FADE = (1.5, 3.5)  # full push within 1.5 tumour radii, none beyond 3.5


@dataclass(frozen=True)
class AffineParameters:
    """Rotation (degrees about the Z, Y, X array axes), scale per axis, translation (mm)."""

    rotation_deg: tuple[float, float, float]
    scale: tuple[float, float, float]
    translation_mm: tuple[float, float, float]
    elastic_sd_mm: float

    def to_dict(self) -> dict:
        return {k: (np.round(v, 4).tolist()) for k, v in self.__dict__.items()}


def draw_affine(rng: np.random.Generator) -> AffineParameters:
    return AffineParameters(
        tuple(rng.uniform(-ROTATION_DEG, ROTATION_DEG, 3).tolist()),
        tuple(rng.uniform(1 - SCALE, 1 + SCALE, 3).tolist()),
        tuple(rng.uniform(-TRANSLATION_MM, TRANSLATION_MM, 3).tolist()),
        float(rng.uniform(*ELASTIC_SD_MM)))


def subject_to_template(shape: tuple[int, int, int], spacing: float, centre: np.ndarray,
                        affine: AffineParameters, rng: np.random.Generator) -> np.ndarray:
    """(3, Z, Y, X) float32 template coordinates of every output voxel (before mass effect).

    The subject is the template rotated and scaled about ``centre`` (voxel index), shifted,
    and warped by a smooth random displacement field (SD ``elastic_sd_mm``, scale 24 mm).
    """
    inverse = np.diag(1.0 / np.asarray(affine.scale)) @ rotation_matrix(
        np.radians(affine.rotation_deg)).T
    shift = centre + np.asarray(affine.translation_mm) / spacing
    displacement = smooth_field(rng, shape, ELASTIC_CELL_MM / spacing, count=3)
    displacement *= affine.elastic_sd_mm / spacing
    axes = [np.arange(n, dtype=np.float32).reshape([-1 if a == i else 1 for a in range(3)])
            for i, n in enumerate(shape)]
    for j in range(3):  # displaced output position, relative to the shifted centre
        displacement[j] += axes[j] - np.float32(shift[j])
    coords = np.einsum("ij,j...->i...", inverse.astype(np.float32), displacement)
    coords += centre.astype(np.float32).reshape(3, 1, 1, 1)
    return coords


@dataclass(frozen=True)
class MassEffect:
    """A tumour pushing tissue radially, as if ``inserted`` x its volume were added at its centre.

    Tissue first at distance ``rho`` from the centre ends at ``r = (rho^3 + k R^3)^(1/3)``
    (volume is conserved outside the inserted sphere); the push fades out between 1.5 and 3.5
    radii so that the skull (brain outline) does not move.
    """

    centre: np.ndarray  # voxel index (Z, Y, X)
    radius: float  # voxels
    inserted: float  # k: inserted volume / tumour volume

    def pull(self, coords: np.ndarray) -> np.ndarray:
        """Template coordinates of tissue found at ``coords`` after the push (in place)."""
        if self.inserted <= 0:
            return coords
        offset = coords - self.centre.astype(np.float32).reshape(3, *([1] * (coords.ndim - 1)))
        r = np.sqrt(np.einsum("i...,i...->...", offset, offset))
        inserted = self.inserted * self.radius ** 3
        rho = np.cbrt(np.maximum(r ** 3 - inserted, 0.0))
        near, far = (f * self.radius for f in MASS_EFFECT_FADE)
        fade = np.clip((far - r) / (far - near), 0.0, 1.0)
        fade = fade * fade * (3 - 2 * fade)  # smoothstep: no kink at either end
        shrink = 1.0 - (r - rho) * fade / np.maximum(r, 1e-6)
        offset *= shrink
        offset += self.centre.astype(np.float32).reshape(offset.shape[:1] + (1,) * r.ndim)
        return offset


def sample(volume: np.ndarray, coords: np.ndarray, order: int = 1,
           origin: np.ndarray | None = None) -> np.ndarray:
    """``volume`` at ``coords`` (voxel units, minus ``origin`` when ``volume`` is a crop); 0
    outside."""
    if origin is not None:
        coords = coords - origin.astype(np.float32).reshape(3, *([1] * (coords.ndim - 1)))
    return ndimage.map_coordinates(volume, coords, order=order, mode="constant", cval=0.0,
                                   output=np.float32, prefilter=False)
