"""Smooth random fields and rotations: the raw material of texture, deformation and bias.

A smooth field is Gaussian noise on a coarse lattice (one node per ``cell`` voxels) interpolated
by cubic splines to the full grid: smooth on the scale of ``cell``. Spline interpolation is
separable, so it is done as three small matrix products (one interpolation matrix per axis),
which is ~50x faster than ``ndimage.zoom`` of the lattice on a 1 mm grid.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage


def smooth_field(rng: np.random.Generator, shape: tuple[int, ...], cell: float,
                 count: int | None = None) -> np.ndarray:
    """Zero-mean, unit-SD (on the lattice) smooth random field(s) of ``shape``, float32.

    ``count`` fields are returned stacked on a first axis; ``None`` returns one field.
    """
    lattice = tuple(max(2, int(np.ceil(s / cell)) + 2) for s in shape)
    n = 1 if count is None else count
    noise = rng.standard_normal((n,) + lattice).astype(np.float32)
    mz, my, mx = (_spline_matrix(c, s) for c, s in zip(lattice, shape))
    out = np.einsum("zi,nijk->nzjk", mz, noise)          # (n, Z, cy, cx)
    out = np.einsum("yj,nzjk->nzyk", my, out)            # (n, Z, Y, cx)
    fields = np.ascontiguousarray(out @ mx.T)            # (n, Z, Y, X)
    return fields[0] if count is None else fields


def _spline_matrix(nodes: int, samples: int) -> np.ndarray:
    """(samples, nodes) matrix: cubic-spline interpolation of ``nodes`` values, end to end."""
    eye = np.eye(nodes, dtype=np.float64)
    matrix = ndimage.zoom(eye, (samples / nodes, 1.0), order=3, grid_mode=False)
    return matrix.astype(np.float32)


def rotation_matrix(angles_rad: np.ndarray) -> np.ndarray:
    """The rotation ``Rz Ry Rx`` for three angles about the three array axes."""
    matrix = np.eye(3)
    for axis, angle in enumerate(angles_rad):
        c, s = np.cos(angle), np.sin(angle)
        i, j = [a for a in range(3) if a != axis]
        plane = np.eye(3)
        plane[i, i], plane[i, j], plane[j, i], plane[j, j] = c, -s, s, c
        matrix = plane @ matrix
    return matrix


def peak_to_peak_scaled(field: np.ndarray, inside: np.ndarray, peak_to_peak: float
                        ) -> np.ndarray:
    """``1 + a field`` with ``a`` chosen so that max/min - 1 inside ``inside`` is the target.

    Used for multiplicative fields (bias, texture) whose size is stated as peak-to-peak ratio.
    """
    values = field[inside]
    lo, hi = float(values.min()), float(values.max())
    centred = (field - 0.5 * (lo + hi)) / max(hi - lo, 1e-12)  # in [-0.5, 0.5] inside
    # (1 + a/2) / (1 - a/2) = 1 + p  <=>  a = 2 p / (2 + p)
    return (1.0 + 2.0 * peak_to_peak / (2.0 + peak_to_peak) * centred).astype(np.float32)
