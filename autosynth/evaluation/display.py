"""Show slices the way radiologists read them, whatever the file's orientation.

A ``(Z, Y, X)`` array is reordered and flipped (no interpolation) to the closest
"superior, posterior, left" order: axis 0 runs foot to head, rows run anterior (top) to
posterior, columns run patient right to patient left (radiological convention: the patient's
right on the image's left). Axial slices of that array are then upright in every figure.
"""
from __future__ import annotations

import numpy as np

from autosynth.dataset.image_io import Geometry


def display_layout(direction) -> tuple[tuple[int, int, int], tuple[bool, bool, bool]] | None:
    """(axis order, flips) taking a (Z, Y, X) array to (S, P, L) order; None if ambiguous."""
    matrix = np.asarray(direction, dtype=float).reshape(3, 3)  # columns: index axes x, y, z
    world = [int(np.argmax(np.abs(matrix[:, i]))) for i in range(3)]
    if sorted(world) != [0, 1, 2]:
        return None
    order, flips = [], []
    for wanted in (2, 1, 0):                     # LPS world axes: S (z), P (y), L (x)
        index_axis = world.index(wanted)
        order.append(2 - index_axis)             # array axis of that index axis
        flips.append(bool(matrix[wanted, index_axis] < 0))
    return tuple(order), tuple(flips)


def to_display(array: np.ndarray, geometry: Geometry) -> np.ndarray:
    """The array in display order (a view; unchanged when the direction is ambiguous)."""
    layout = display_layout(geometry.direction)
    if layout is None:
        return array
    order, flips = layout
    out = np.transpose(array, order)
    for axis, flip in enumerate(flips):
        if flip:
            out = np.flip(out, axis)
    return out


def display_spacing(geometry: Geometry) -> tuple[float, float, float]:
    """Voxel size (mm) along the display axes, for the aspect ratio of a slice."""
    spacing_zyx = list(reversed(geometry.spacing))
    layout = display_layout(geometry.direction)
    order = layout[0] if layout else (0, 1, 2)
    return tuple(float(spacing_zyx[a]) for a in order)


def original_slice_index(index: int, geometry: Geometry) -> tuple[str, int]:
    """(array axis letter, index in the file) of display slice ``index`` along display axis 0."""
    layout = display_layout(geometry.direction)
    if layout is None:
        return "Z", index
    axis, flipped = layout[0][0], layout[1][0]
    size = geometry.shape_zyx[axis]
    return "ZYX"[axis], (size - 1 - index if flipped else index)
