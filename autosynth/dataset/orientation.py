"""Canonical orientation: every case is seen by the network in one anatomical orientation.

A file may store its voxels in any order (RAS, LPS, FreeSurfer's LIA, a few degrees oblique).
:class:`Reorientation` maps a stored ``(Z, Y, X)`` array onto the canonical one by permuting and
flipping axes only (no interpolation, so it is exact and exactly undone), as SimpleITK's
``DICOMOrient`` does; an oblique file is mapped to its nearest canonical axes.

Orientation codes follow ITK/DICOM: letter i names where index axis i (x, y, z) points, so
``LPS`` is the identity direction matrix, and a ``RAS`` image's NumPy array ``(Z, Y, X)`` runs
inferior -> superior along axis 0, posterior -> anterior along 1, left -> right along 2.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CANONICAL = "RAS"
_WORLD_AXIS = {"L": 0, "R": 0, "P": 1, "A": 1, "S": 2, "I": 2}
_POSITIVE = "LPS"  # ITK's world axes point towards L, P and S


class OrientationError(ValueError):
    """An orientation code or direction matrix that names no proper set of axes."""


def _check_code(code: str) -> str:
    code = code.upper()
    if len(code) != 3 or sorted(_WORLD_AXIS[c] for c in code if c in _WORLD_AXIS) != [0, 1, 2]:
        raise OrientationError(f"'{code}' is not an orientation code such as RAS or LPS")
    return code


def nearest_axes(direction) -> tuple[list[int], list[int]]:
    """For each index axis (x, y, z) its nearest world axis (0 L-R, 1 P-A, 2 I-S) and sign.

    Greedy on the largest remaining cosine, so an oblique matrix still gives a permutation.
    """
    matrix = np.abs(np.asarray(direction, dtype=float).reshape(3, 3))  # [world, index]
    signed = np.asarray(direction, dtype=float).reshape(3, 3)
    world, sign = [-1] * 3, [1] * 3
    for _ in range(3):
        w, i = np.unravel_index(int(np.argmax(matrix)), matrix.shape)
        world[i], sign[i] = int(w), 1 if signed[w, i] > 0 else -1
        matrix[w, :] = -1
        matrix[:, i] = -1
    return world, sign


def orientation_code(direction) -> str:
    """``LPS`` for the identity; the nearest code of an oblique matrix."""
    world, sign = nearest_axes(direction)
    letters = ("LR", "PA", "SI")
    return "".join(letters[w][0 if s > 0 else 1] for w, s in zip(world, sign))


@dataclass(frozen=True)
class Reorientation:
    """Stored ``(..., Z, Y, X)`` -> canonical: transpose by ``permutation``, then flip.

    ``permutation[k]`` is the stored NumPy axis that becomes canonical axis ``k``;
    ``flips[k]`` says whether canonical axis ``k`` is then reversed.
    """

    stored: str
    canonical: str
    permutation: tuple[int, int, int]
    flips: tuple[bool, bool, bool]

    @classmethod
    def of(cls, direction, canonical: str = CANONICAL) -> "Reorientation":
        canonical = _check_code(canonical)
        world, sign = nearest_axes(direction)
        permutation, flips = [0, 0, 0], [False, False, False]
        for k in range(3):  # canonical NumPy axis k is canonical index axis 2 - k
            letter = canonical[2 - k]
            index = world.index(_WORLD_AXIS[letter])  # the stored index axis along that line
            permutation[k] = 2 - index
            flips[k] = sign[index] != (1 if letter in _POSITIVE else -1)
        return cls(orientation_code(direction), canonical, tuple(permutation), tuple(flips))

    @classmethod
    def from_dict(cls, data: dict) -> "Reorientation":
        return cls(data["stored"], data["canonical"], tuple(int(p) for p in data["permutation"]),
                   tuple(bool(f) for f in data["flips"]))

    def to_dict(self) -> dict:
        return {"stored": self.stored, "canonical": self.canonical,
                "permutation": list(self.permutation), "flips": list(self.flips)}

    @property
    def is_identity(self) -> bool:
        return self.permutation == (0, 1, 2) and not any(self.flips)

    def _axes(self, ndim: int) -> tuple[list[int], list[int]]:
        lead = list(range(ndim - 3))
        return lead + [ndim - 3 + p for p in self.permutation], \
            [ndim - 3 + k for k in range(3) if self.flips[k]]

    def to_canonical(self, array: np.ndarray) -> np.ndarray:
        """A view of ``(..., Z, Y, X)`` in canonical axis order (copy it to write)."""
        order, flipped = self._axes(array.ndim)
        out = np.transpose(array, order)
        return np.flip(out, flipped) if flipped else out

    def to_stored(self, array: np.ndarray) -> np.ndarray:
        """The exact inverse of :meth:`to_canonical`."""
        order, flipped = self._axes(array.ndim)
        if flipped:
            array = np.flip(array, flipped)
        return np.transpose(array, np.argsort(order))

    def canonical_zyx(self, values_zyx) -> list:
        """Per-axis values (shape, spacing) of the stored ``(Z, Y, X)`` axes, in canonical order."""
        return [values_zyx[p] for p in self.permutation]


def head_foot_axis(canonical: str = CANONICAL) -> int:
    """The canonical NumPy axis that runs along the body (0 for RAS, LPS and the like)."""
    code = _check_code(canonical)
    return 2 - next(i for i, c in enumerate(code) if _WORLD_AXIS[c] == 2)


def stored_axis(direction, canonical_axis: int, canonical: str = CANONICAL) -> int:
    """The stored NumPy axis of a file that becomes ``canonical_axis`` after reorientation."""
    return Reorientation.of(direction, canonical).permutation[canonical_axis]
