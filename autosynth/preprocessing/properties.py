"""``CASE.json``: everything needed to put a preprocessed case back on its original grid."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from autosynth.dataset.image_io import Geometry
from autosynth.dataset.orientation import Reorientation
from autosynth.utils.json_text import write_json_readable
from autosynth.utils.files import read_json


class PropertiesError(ValueError):
    """A properties file is missing or malformed; the message names the file."""


@dataclass
class CaseProperties:
    """How a case was preprocessed.

    The stored ``(Z, Y, X)`` array was first put in the plan's canonical orientation
    (``reorientation``: axes permuted and flipped, giving ``canonical_shape_zyx``); axis numbers
    below refer to that canonical array. The stored arrays are ``(C, S, H, W)``: S runs over
    ``kept_slices`` of ``slice_axis``; (H, W) are the two other canonical axes in increasing
    order. The brain region ``crop_box`` (half-open, on those two axes; pixel spacing
    ``original_spacing``) was resampled to ``resampled_shape`` pixels of ``stored_spacing`` and
    zero-padded by ``pad_before`` up to ``stored_shape``, at least ``patch_size``.
    ``scale_factors`` = original / stored spacing (1 when no resampling was needed).
    For 3D patches ``slice_resampling`` records how the kept slices (``spacing`` mm apart)
    were resampled to ``resampled_slices`` of ``stored_spacing`` and zero-padded by
    ``pad_before`` to ``stored_slices``; None for slice-wise configurations.
    """

    case_id: str
    configuration: str
    contrasts: list[str]
    geometry: dict
    shape_zyx: list[int]
    mask_source: str
    slice_axis: int
    kept_slices: list[int]
    crop_box: list[list[int]]
    resampled_shape: list[int]
    pad_before: list[int]
    patch_size: list[int]
    scale_factors: list[float]
    stored_spacing: list[float]
    normalization: dict[str, dict]
    storage_dtype: str
    has_labels: bool
    signature: str = ""
    autosynth_version: str = ""
    reorientation: dict | None = None
    stored_shape: list[int] | None = None
    canonical_shape_zyx: list[int] | None = None
    original_spacing: list[float] | None = None
    slice_resampling: dict | None = None

    def __post_init__(self) -> None:
        """Properties written before canonical orientation: identity, stored = patch grid."""
        if self.reorientation is None:
            self.reorientation = {"stored": "", "canonical": "", "permutation": [0, 1, 2],
                                  "flips": [False, False, False]}
        if self.stored_shape is None:
            self.stored_shape = list(self.patch_size)
        if self.canonical_shape_zyx is None:
            self.canonical_shape_zyx = list(self.shape_zyx)
        if self.original_spacing is None:
            self.original_spacing = [s * f for s, f in zip(self.stored_spacing,
                                                           self.scale_factors)]

    @property
    def orientation(self) -> Reorientation:
        return Reorientation.from_dict(self.reorientation)

    @property
    def original_geometry(self) -> Geometry:
        return Geometry.from_dict(self.geometry)

    @property
    def inplane_axes(self) -> tuple[int, int]:
        return tuple(a for a in range(3) if a != self.slice_axis)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "properties") -> "CaseProperties":
        names = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING}
        if not isinstance(data, dict) or required - set(data):
            missing = sorted(required - set(data)) if isinstance(data, dict) else "all"
            raise PropertiesError(f"{source}: missing field(s) {missing}")
        return cls(**{k: v for k, v in data.items() if k in names})

    def save(self, path: str | os.PathLike) -> None:
        write_json_readable(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CaseProperties":
        path = Path(path)
        if not path.is_file():
            raise PropertiesError(f"{path}: not found")
        try:
            return cls.from_dict(read_json(path), str(path))
        except ValueError as err:
            if isinstance(err, PropertiesError):
                raise
            raise PropertiesError(f"{path}: not valid JSON ({err})") from None
