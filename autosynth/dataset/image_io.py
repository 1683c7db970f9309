"""Image I/O through SimpleITK, with geometry carried alongside the voxels.

Arrays are in SimpleITK's numpy order: a 3D image is ``(Z, Y, X)`` and a case ``(C, Z, Y, X)``.
:class:`Geometry` keeps spacing, origin and direction in ITK's ``(x, y, z)`` order, exactly as
read, so an array written back with it lands on the identical grid.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import SimpleITK as sitk

from autosynth.utils.files import atomic_path


class ImageIOError(RuntimeError):
    """An image could not be read or written; the message names the file and the defect."""


@dataclass(frozen=True)
class Geometry:
    """Physical grid of a 3D image (ITK order: x, y, z)."""

    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...]  # 9 numbers, row-major 3x3

    @classmethod
    def of(cls, image: sitk.Image) -> "Geometry":
        return cls(tuple(int(s) for s in image.GetSize()), tuple(image.GetSpacing()),
                   tuple(image.GetOrigin()), tuple(image.GetDirection()))

    @classmethod
    def from_dict(cls, data: dict) -> "Geometry":
        return cls(tuple(data["size"]), tuple(data["spacing"]), tuple(data["origin"]),
                   tuple(data["direction"]))

    def to_dict(self) -> dict:
        return {"size": list(self.size), "spacing": list(self.spacing),
                "origin": list(self.origin), "direction": list(self.direction)}

    @property
    def shape_zyx(self) -> tuple[int, int, int]:
        return tuple(reversed(self.size))

    def apply_to(self, image: sitk.Image) -> None:
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(self.direction)

    def differences(self, other: "Geometry", rtol: float = 1e-4) -> list[str]:
        """What differs between two grids: 'size', 'spacing', 'origin', 'direction'.

        Spacing is compared relative to itself, origin relative to the image extent (so a
        millimetre-scale rounding of a 240 mm field is tolerated only below 1e-4 of it), and
        direction cosines absolutely.
        """
        out = []
        if tuple(self.size) != tuple(other.size):
            out.append(f"size {list(self.size)} vs {list(other.size)}")
        a, b = np.asarray(self.spacing), np.asarray(other.spacing)
        if not np.allclose(a, b, rtol=rtol, atol=0):
            out.append(f"spacing {_fmt(a)} vs {_fmt(b)}")
        extent = float(np.max(np.asarray(self.size) * a)) or 1.0
        if not np.allclose(self.origin, other.origin, rtol=0, atol=rtol * extent):
            out.append(f"origin {_fmt(self.origin)} vs {_fmt(other.origin)}")
        if not np.allclose(self.direction, other.direction, rtol=0, atol=rtol):
            out.append(f"direction {_fmt(self.direction)} vs {_fmt(other.direction)}")
        return out


def _fmt(values: Sequence[float]) -> str:
    return "[" + ", ".join(f"{float(v):.6g}" for v in values) + "]"


def read_sitk(path: str | os.PathLike) -> sitk.Image:
    """Read a 3D image, raising :class:`ImageIOError` (naming the file) on any defect."""
    path = Path(path)
    if not path.is_file():
        raise ImageIOError(f"{path}: file not found")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as err:
        first_line = str(err).strip().splitlines()[-1] if str(err).strip() else "unknown error"
        raise ImageIOError(f"{path}: not a readable image ({first_line})") from None
    if image.GetDimension() != 3:
        raise ImageIOError(f"{path}: expected a 3D image, got {image.GetDimension()}D "
                           f"of size {list(image.GetSize())}")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ImageIOError(f"{path}: expected a scalar image, got "
                           f"{image.GetNumberOfComponentsPerPixel()} components per voxel")
    return image


def read_image(path: str | os.PathLike, dtype=np.float32) -> tuple[np.ndarray, Geometry]:
    """One 3D image as a ``(Z, Y, X)`` array and its geometry."""
    image = read_sitk(path)
    return sitk.GetArrayFromImage(image).astype(dtype, copy=False), Geometry.of(image)


def read_image_on_grid(path: str | os.PathLike, geometry: Geometry, reference: str,
                       dtype=np.float32, rtol: float = 1e-4) -> np.ndarray:
    """Read an image that must lie on ``geometry`` (that of ``reference``, named in the error)."""
    array, other = read_image(path, dtype)
    difference = geometry.differences(other, rtol)
    if difference:
        raise ImageIOError(f"{path}: grid differs from {reference}: {'; '.join(difference)}")
    return array


def read_case(paths: Sequence[str | os.PathLike], rtol: float = 1e-4
              ) -> tuple[np.ndarray, Geometry]:
    """Several co-registered images as one ``(C, Z, Y, X)`` float32 array.

    All images must share one grid (size, spacing, origin, direction within ``rtol``); the
    geometry of the first is returned.
    """
    if not paths:
        raise ImageIOError("read_case needs at least one file")
    arrays, reference = [], None
    for path in paths:
        array, geometry = read_image(path)
        if reference is None:
            reference = geometry
        else:
            diff = reference.differences(geometry, rtol)
            if diff:
                raise ImageIOError(f"{path}: grid differs from {paths[0]}: {'; '.join(diff)}")
        arrays.append(array)
    return np.stack(arrays), reference


def write_image(array: np.ndarray, geometry: Geometry, path: str | os.PathLike,
                dtype=None, compress: bool = True) -> None:
    """Write a ``(Z, Y, X)`` array on ``geometry``, atomically (temp file, then rename)."""
    array = np.asarray(array)
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if array.shape != geometry.shape_zyx:
        raise ImageIOError(f"{path}: array shape {array.shape} does not match the geometry's "
                           f"(Z, Y, X) size {geometry.shape_zyx}")
    image = sitk.GetImageFromArray(array)
    geometry.apply_to(image)
    with atomic_path(path) as tmp:
        sitk.WriteImage(image, str(tmp), useCompression=compress)


def _is_nifti(path: str | os.PathLike) -> bool:
    return str(path).endswith((".nii", ".nii.gz"))


def write_image_like(array: np.ndarray, reference: str | os.PathLike,
                     path: str | os.PathLike, dtype=np.float32) -> None:
    """Write a ``(Z, Y, X)`` array on exactly the grid of the file ``reference``.

    For NIfTI files the reference's own header (qform, sform, pixdim, units) is reused through
    nibabel, so the output's geometry is bit-for-bit that of the reference: a NIfTI header stores
    float32 numbers, and re-deriving them from a float64 direction matrix (as any writer that
    takes a :class:`Geometry` must) can move an oblique direction in its 9th digit. Other
    formats go through SimpleITK with the reference's geometry.
    """
    array = np.asarray(array).astype(dtype, copy=False)
    if not (_is_nifti(reference) and _is_nifti(path)):
        write_image(array, Geometry.of(read_sitk(reference)), path)
        return
    import nibabel as nib

    header = nib.load(str(reference)).header.copy()
    xyz = np.ascontiguousarray(array.transpose(2, 1, 0))
    if xyz.shape != tuple(int(d) for d in header.get_data_shape()[:3]):
        raise ImageIOError(f"{path}: array shape {array.shape} does not match the (Z, Y, X) "
                           f"shape of {reference} {tuple(reversed(header.get_data_shape()[:3]))}")
    header.set_data_dtype(xyz.dtype)
    image = nib.Nifti1Image(xyz, None, header=header)
    image.header.set_slope_inter(1.0, 0.0)
    with atomic_path(path) as tmp:
        nib.save(image, str(tmp))
