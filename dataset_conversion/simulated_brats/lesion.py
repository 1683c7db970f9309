"""A glioma-like lesion: necrotic core, enhancing rim and oedema spreading along white matter.

The lesion is built in template space *after* the tumour's mass effect (the tissue around it
already pushed aside), in a box around its centre:

* tumour = an irregular ellipsoid (random axes, smooth random radius modulation); partial
  volumes over one voxel at the edges;
* necrosis = the tumour eroded by the enhancing rim, whose thickness (modulated by its own
  smooth field) is measured in millimetres from the tumour surface (a Euclidean distance
  transform) and is never thinner than a voxel, so that the rim encloses the necrotic core on
  the grid as it does on real T1ce images (a rim defined in the ellipsoid's scaled distance
  was thinner than a voxel where the tumour is flattened, and the core touched the oedema);
* oedema = where the white-matter-weighted geodesic distance from the tumour (travel cost per
  mm ``1 / (0.1 + WM fraction)``, so ~1 in white matter and ~10 in grey matter or CSF) is
  below the subject's oedema reach: vasogenic oedema spreads along fibre tracts and spares the
  cortex, giving the finger-like shape seen on FLAIR.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.graph import MCP_Geometric

from dataset_conversion.simulated_brats.anatomy import Anatomy
from dataset_conversion.simulated_brats.deform import MassEffect, sample
from dataset_conversion.simulated_brats.fields import rotation_matrix, smooth_field

LESION_PROBABILITY = 0.8
RADIUS_MM = (10.0, 24.0)
RIM_MM = (2.5, 6.0)  # thickness of the enhancing rim around the necrotic core
NO_NECROSIS_PROBABILITY = 0.15
OEDEMA_REACH_MM = (5.0, 22.0)
INSERTED_VOLUME = (0.2, 0.6)  # mass effect: volume added, as a fraction of the tumour's
IRREGULARITY = (0.10, 0.25)
RIM_IRREGULARITY = 0.3  # relative modulation of the rim thickness
WM_COST_FLOOR = 0.1
GEODESIC_SPACING_MM = 2.0  # finer grids compute the oedema's geodesic distance at ~2 mm
SUPRATENTORIAL_Z_MM = -5.0  # gliomas of adults are mostly above the tentorium


@dataclass(frozen=True)
class LesionParameters:
    centre_index: tuple[float, float, float]  # (Z, Y, X) voxel of the template grid
    radius_mm: float
    rim_mm: float  # the whole tumour enhances (no necrosis) when rim_mm >= radius_mm
    oedema_reach_mm: float
    inserted_volume: float
    irregularity: float
    axes: tuple[float, float, float]
    axes_rotation_deg: tuple[float, float, float]

    def to_dict(self) -> dict:
        return {k: (np.round(v, 3).tolist()) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class LesionFields:
    """Lesion occupancy in a box of the post-mass-effect template grid starting at ``origin``.

    ``tumour`` is the fraction of a voxel taken by tumour (necrosis + enhancing), ``necrosis``
    the part of it that is necrotic, ``oedema`` the fraction of the remaining brain parenchyma
    (GM + WM) replaced by oedema.
    """

    origin: np.ndarray
    tumour: np.ndarray
    necrosis: np.ndarray
    oedema: np.ndarray


def draw_lesion(rng: np.random.Generator, anatomy: Anatomy) -> LesionParameters | None:
    """None (no lesion) for about one subject in five; otherwise the lesion's parameters.

    The centre lies in white matter, supratentorial, at least a radius plus 10 mm inside the
    brain, so the tumour itself never touches the brain outline.
    """
    if rng.uniform() >= LESION_PROBABILITY:
        return None
    radius = float(rng.uniform(*RADIUS_MM))
    rim = radius if rng.uniform() < NO_NECROSIS_PROBABILITY else rng.uniform(*RIM_MM)
    scalars = (float(rim), float(rng.uniform(*OEDEMA_REACH_MM)),
               float(rng.uniform(*INSERTED_VOLUME)), float(rng.uniform(*IRREGULARITY)),
               tuple(rng.uniform(0.8, 1.25, 3).tolist()), tuple(rng.uniform(-90, 90, 3).tolist()))
    centre = _lesion_centre(np.random.default_rng(rng.integers(2 ** 63)), anatomy, radius)
    return LesionParameters(tuple(centre.tolist()), radius, *scalars)


def _lesion_centre(rng: np.random.Generator, anatomy: Anatomy, radius_mm: float,
                   batch: int = 512, tries: int = 64) -> np.ndarray:
    """A random admissible centre (voxel index), by rejection in *relative* grid coordinates.

    Drawing positions in [0, 1)^3 of the field of view rather than picking among voxels makes
    the same seed put the lesion in the same place at any spacing.
    """
    top = np.asarray(anatomy.shape) - 1
    z_mm = anatomy.geometry.origin[2] + np.arange(anatomy.shape[0]) * anatomy.spacing
    for _ in range(tries):
        points = rng.uniform(0.0, 1.0, (batch, 3)) * top
        z, y, x = np.round(points).astype(int).T
        ok = (anatomy.wm[z, y, x] > 0.6) & (anatomy.depth_mm[z, y, x] > radius_mm + 10.0) \
            & (z_mm[z] > SUPRATENTORIAL_Z_MM)
        if ok.any():
            return points[np.argmax(ok)]
    # a very coarse grid: the deepest white matter
    depth = np.where(anatomy.wm > 0.6, anatomy.depth_mm, 0)
    return np.asarray(np.unravel_index(np.argmax(depth), depth.shape), dtype=float)


def mass_effect(lesion: LesionParameters, spacing: float) -> MassEffect:
    return MassEffect(np.asarray(lesion.centre_index), lesion.radius_mm / spacing,
                      lesion.inserted_volume)


def _ramp(signed_mm: np.ndarray, width_mm: float) -> np.ndarray:
    """Partial-volume occupancy of a boundary: 0 -> 1 over ``width_mm`` around 0."""
    return np.clip(signed_mm / width_mm + 0.5, 0.0, 1.0).astype(np.float32)


def lesion_fields(lesion: LesionParameters, anatomy: Anatomy,
                  rng: np.random.Generator) -> LesionFields:
    """Tumour, necrosis and oedema occupancies around the lesion (see the module docstring)."""
    spacing = anatomy.spacing
    centre = np.asarray(lesion.centre_index)
    # the box holds the farthest tumour (R x 1.25 axis / (1 - 1.5 x 0.25) wobble = 2 R) and
    # the farthest oedema (reach x 1.45 wobble / 0.91 cost per mm of pure WM, plus the ramp)
    reach_vox = (2.0 * lesion.radius_mm + 1.7 * lesion.oedema_reach_mm + 8.0) / spacing
    lo = np.maximum(np.floor(centre - reach_vox), 0).astype(int)
    hi = np.minimum(np.ceil(centre + reach_vox) + 1, anatomy.shape).astype(int)
    shape = tuple(int(n) for n in hi - lo)
    grid = np.stack(np.meshgrid(*[np.arange(a, b, dtype=np.float32) for a, b in zip(lo, hi)],
                                indexing="ij"))
    pushed = mass_effect(lesion, spacing).pull(grid.copy())
    wm, brain = sample(anatomy.wm, pushed), sample(anatomy.brain, pushed)

    # tumour: an irregular ellipsoid, distances in mm
    offset_mm = (grid - centre.reshape(3, 1, 1, 1).astype(np.float32)) * spacing
    frame = rotation_matrix(np.radians(lesion.axes_rotation_deg)) \
        / np.asarray(lesion.axes)[:, None]
    distance = np.sqrt(np.sum(np.einsum("ij,j...->i...", frame.astype(np.float32),
                                        offset_mm) ** 2, axis=0))
    wobble = smooth_field(rng, shape, max(lesion.radius_mm / 1.5 / spacing, 2.0), count=3)
    distance *= 1.0 + lesion.irregularity * np.clip(wobble[0], -1.5, 1.5)
    edge = max(spacing, 1.0)
    tumour = _ramp(lesion.radius_mm - distance, edge)
    necrosis = np.zeros_like(tumour)
    if lesion.rim_mm < lesion.radius_mm:
        rim = lesion.rim_mm * (1.0 + RIM_IRREGULARITY * np.clip(wobble[2], -1.5, 1.5) / 1.5)
        depth = depth_mm(tumour >= 0.5, spacing)
        necrosis = _ramp(depth - np.maximum(rim, 1.25 * spacing), edge) * tumour

    # oedema: geodesic reach through white matter from the tumour
    cost = np.where(brain > 0.5, 1.0 / (WM_COST_FLOOR + wm), 1e4)
    sources = tumour >= 0.5 if tumour.max() >= 0.5 else tumour == tumour.max()
    geodesic = geodesic_distance(cost, sources, spacing)
    reach = lesion.oedema_reach_mm * (1.0 + 0.3 * np.clip(wobble[1], -1.5, 1.5))
    oedema = _ramp(reach - geodesic.astype(np.float32), 4.0) * (brain > 0.5)
    return LesionFields(lo, tumour, necrosis, oedema.astype(np.float32))


def depth_mm(region: np.ndarray, spacing: float) -> np.ndarray:
    """Distance (mm) from each voxel of ``region`` inward to its surface (half a voxel out)."""
    return (ndimage.distance_transform_edt(region) - 0.5).astype(np.float32) * np.float32(spacing)


def geodesic_distance(cost_per_mm: np.ndarray, sources: np.ndarray, spacing: float
                      ) -> np.ndarray:
    """Minimum path cost (mm x cost) from ``sources`` (not empty) to every voxel, float32.

    On grids finer than 2 mm the paths are found on a grid subsampled to ~2 mm (after a box
    mean of the costs) and the result interpolated back: the distance is smooth, and this
    makes 1 mm subjects several times faster.
    """
    factor = max(1, int(round(GEODESIC_SPACING_MM / spacing)))
    shape = cost_per_mm.shape
    if factor > 1:
        cost_per_mm = ndimage.uniform_filter(cost_per_mm, factor)[::factor, ::factor, ::factor]
        sources = ndimage.maximum_filter(sources, factor)[::factor, ::factor, ::factor]
    starts = np.argwhere(sources)
    coarse, _ = MCP_Geometric(cost_per_mm.astype(np.float64) * spacing * factor).find_costs(
        [tuple(s) for s in starts])
    if factor == 1:
        return coarse.astype(np.float32)
    fine = np.indices(shape, dtype=np.float32) / np.float32(factor)
    return ndimage.map_coordinates(coarse.astype(np.float32), fine, order=1, mode="nearest")
