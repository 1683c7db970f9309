"""``plans.json`` as typed dataclasses: everything later stages need to rebuild a configuration.

The JSON is meant to be read and edited by people. Loading is strict: an unknown or missing
field, or a value that cannot work (a patch not divisible by the network's pooling), is
reported with the file and the field, so a typo in an edit is never silently ignored.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from autosynth.architectures.config import UNetConfig, UNetConfigError
from autosynth.dataset.orientation import CANONICAL, OrientationError, head_foot_axis
from autosynth.normalization import NormalizationPlan  # re-exported: plans.json's entry
from autosynth.utils.files import read_json_document
from autosynth.utils.json_text import write_json_readable

PLANS_FILE = "plans.json"
PLANS_NAME = "autosynthPlans"
RESIZE_MODES = ("spacing", "stretch")
STORAGE_DTYPES = ("float32", "float16")


class PlansError(ValueError):
    """plans.json is missing, unreadable or holds an impossible value; names file and field."""


def _check_keys(cls, data: Any, where: str) -> dict:
    if not isinstance(data, dict):
        raise PlansError(f"{where}: expected an object, got {type(data).__name__}")
    names = [f.name for f in dataclasses.fields(cls)]
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise PlansError(f"{where}: unknown field(s) {', '.join(unknown)}; "
                         f"known fields: {', '.join(names)}")
    missing = [n for n in required if n not in data]
    if missing:
        raise PlansError(f"{where}: missing field(s) {', '.join(missing)}")
    return data


@dataclass
class TrainingPlan:
    """The training schedule; the trainer reads it as it is (one set of defaults: these).

    ``loss`` is one of ``training.losses.LOSSES``; ``loss_in_brain`` restricts it to the brain
    mask; ``tumour_weight`` multiplies the error of tumour voxels (labels > 0) where labels
    exist (1: unweighted).
    """

    epochs: int
    iterations_per_epoch: int
    val_iterations: int
    patience: int
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    loss: str = "mse"
    augmentation: bool = True
    seed: int = 0
    loss_in_brain: bool = False
    tumour_weight: float = 1.0

    def problems(self) -> list[str]:
        out = []
        if not isinstance(self.loss_in_brain, bool):
            out.append(f"loss_in_brain must be true or false, got {self.loss_in_brain!r}")
        if (isinstance(self.tumour_weight, bool) or not isinstance(self.tumour_weight, (int, float))
                or not self.tumour_weight > 0):
            out.append(f"tumour_weight must be a positive number, got {self.tumour_weight!r}")
        return out


@dataclass
class MemoryEstimate:
    """How the batch size was derived (informational: editing it changes nothing)."""

    budget_gb: float
    precision: str
    mib_per_slice: float
    fixed_mib: float
    batch_that_fits: int
    batch_cap_from_dataset: int
    training_slices: int
    n_parameters: int


@dataclass
class ConfigurationPlan:
    """One way of turning the dataset into 2D training samples, and the network for them.

    Axis numbers refer to the case's array after reorientation to ``orientation``. With
    ``resize`` ``spacing`` a case is resampled in-plane to ``inplane_spacing`` and stays at its
    own size (at least ``patch_size``); training samples patches from it, ``tumour_oversampling``
    of them centred on a tumour voxel where labels exist, the rest on a brain voxel.
    """

    data_folder: str
    slice_axis: int
    patch_size: list[int]
    inplane_spacing: list[float] | None
    resize: str
    crop_to_brain: bool
    null_slice_fraction: float
    storage_dtype: str
    batch_size: int
    normalization: dict[str, NormalizationPlan]
    network: UNetConfig
    training: TrainingPlan
    memory: MemoryEstimate | None = None
    notes: list[str] = field(default_factory=list)
    orientation: str = CANONICAL
    tumour_oversampling: float = 0.33
    context_slices: int = 1
    slice_spacing: float | None = None

    @property
    def volumetric(self) -> bool:
        """3D patches (``3d_fullres``): the network sees ``patch_size[0]`` slices at once."""
        return len(self.patch_size) == 3

    @property
    def contiguous_slices(self) -> bool:
        """Neighbouring slices are read together (2.5D, 3D): the stored slices must be one
        unbroken run, so only slices beyond the brain's first and last are dropped."""
        return self.volumetric or self.context_slices > 1

    @property
    def window(self) -> tuple[int, int, int]:
        """The sliding window ``(pd, ph, pw)`` over a stored ``(S, H, W)`` case."""
        return tuple(int(p) for p in self.patch_size) if self.volumetric \
            else (1, *(int(p) for p in self.patch_size))

    @property
    def inplane_axes(self) -> tuple[int, int]:
        """The two canonical array axes (of Z, Y, X) that form a slice, in (H, W) order."""
        return tuple(a for a in range(3) if a != self.slice_axis)

    def problems(self) -> list[str]:
        out = []
        if self.slice_axis not in (0, 1, 2):
            out.append(f"slice_axis must be 0, 1 or 2 (array axes Z, Y, X), got {self.slice_axis}")
        dims = self.network.dimensions
        if len(self.patch_size) != dims or any(int(p) < 1 for p in self.patch_size):
            out.append(f"patch_size must be {dims} positive integers for a {dims}D network, "
                       f"got {self.patch_size}")
        else:
            steps = self.network.shape_divisors
            if any(p % step for p, step in zip(self.patch_size, steps)):
                divisor = steps[0] if len(set(steps)) == 1 else list(steps)
                out.append(f"patch_size {self.patch_size} must be divisible by {divisor} "
                           f"(the network's poolings per axis) for {self.network.num_stages} "
                           "stages")
        if not isinstance(self.context_slices, int) or self.context_slices < 1 \
                or self.context_slices % 2 == 0:
            out.append(f"context_slices must be an odd positive integer (slices per source "
                       f"around the target slice), got {self.context_slices}")
        elif self.volumetric and self.context_slices != 1:
            out.append("context_slices must be 1 with a 3D patch (the patch holds the "
                       "neighbouring slices already)")
        if self.slice_spacing is not None and (not self.volumetric or self.slice_spacing <= 0):
            out.append("slice_spacing (mm) is for 3D patches only and must be positive")
        if self.resize not in RESIZE_MODES:
            retired = (" ('fit_and_pad' shrank large brains to fit the patch; re-plan with "
                       "autosynth_plan)" if self.resize == "fit_and_pad" else "")
            out.append(f"resize must be one of {', '.join(RESIZE_MODES)}, got "
                       f"'{self.resize}'{retired}")
        if self.resize == "spacing" and not self.inplane_spacing:
            out.append("resize 'spacing' needs inplane_spacing")
        try:
            head_foot_axis(self.orientation)
        except OrientationError as err:
            out.append(f"orientation: {err}")
        if not 0 <= self.tumour_oversampling <= 1:
            out.append("tumour_oversampling must be in [0, 1]")
        if self.storage_dtype not in STORAGE_DTYPES:
            out.append(f"storage_dtype must be one of {', '.join(STORAGE_DTYPES)}")
        if not 0 <= self.null_slice_fraction < 1:
            out.append("null_slice_fraction must be in [0, 1)")
        if self.batch_size < 1:
            out.append("batch_size must be at least 1")
        for contrast, norm in self.normalization.items():
            out += [f"normalization.{contrast}: {p}" for p in norm.problems()]
        out += [f"training.{p}" for p in self.training.problems()]
        return out

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "network": self.network.to_plan_dict()}

    @classmethod
    def from_dict(cls, data: dict, where: str = "configuration") -> "ConfigurationPlan":
        data = dict(_check_keys(cls, data, where))
        data["normalization"] = {
            k: NormalizationPlan(**_check_keys(NormalizationPlan, v, f"{where}.normalization.{k}"))
            for k, v in _check_keys_dict(data["normalization"], f"{where}.normalization").items()}
        try:
            data["network"] = UNetConfig.from_plan_dict(_check_keys_dict(data["network"],
                                                                         f"{where}.network"))
        except UNetConfigError as err:
            raise PlansError(f"{where}.network: {err}") from None
        data["training"] = TrainingPlan(**_check_keys(TrainingPlan, data["training"],
                                                      f"{where}.training"))
        if data.get("memory") is not None:
            data["memory"] = MemoryEstimate(**_check_keys(MemoryEstimate, data["memory"],
                                                          f"{where}.memory"))
        plan = cls(**data)
        problems = plan.problems()
        if problems:
            raise PlansError(f"{where}: " + "; ".join(problems))
        return plan


def _check_keys_dict(data: Any, where: str) -> dict:
    if not isinstance(data, dict):
        raise PlansError(f"{where}: expected an object, got {type(data).__name__}")
    return data


@dataclass
class Plans:
    dataset_name: str
    contrasts: list[str]
    configurations: dict[str, ConfigurationPlan]
    plans_name: str = PLANS_NAME
    autosynth_version: str = ""

    def configuration(self, name: str) -> ConfigurationPlan:
        if name not in self.configurations:
            raise PlansError(f"configuration '{name}' is not planned; planned: "
                             f"{', '.join(self.configurations) or 'none'}")
        return self.configurations[name]

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["configurations"] = {k: c.to_dict() for k, c in self.configurations.items()}
        for config in data["configurations"].values():  # unused scheme parameters left out
            config["normalization"] = {k: {n: v for n, v in norm.items() if v is not None}
                                       for k, norm in config["normalization"].items()}
        return data

    @classmethod
    def from_dict(cls, data: dict, source: str = PLANS_FILE) -> "Plans":
        data = dict(_check_keys(cls, data, source))
        data["configurations"] = {
            name: ConfigurationPlan.from_dict(c, f"{source}: configurations.{name}")
            for name, c in _check_keys_dict(data["configurations"],
                                            f"{source}: configurations").items()}
        for name, config in data["configurations"].items():
            unknown = sorted(set(config.normalization) - set(data["contrasts"]))
            missing = sorted(set(data["contrasts"]) - set(config.normalization))
            if unknown or missing:
                raise PlansError(f"{source}: configurations.{name}.normalization must name "
                                 f"each contrast once (unknown: {unknown}, missing: {missing})")
        return cls(**data)

    def save(self, path: str | os.PathLike) -> None:
        write_json_readable(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Plans":
        """Read a plans file; a folder is taken to mean its ``plans.json``."""
        path, data = read_json_document(path, PLANS_FILE, PlansError,
                                        "not found; run autosynth_plan first")
        try:
            return cls.from_dict(data, source=str(path))
        except PlansError:
            raise
        except (TypeError, ValueError) as err:  # a wrongly typed value, e.g. "224" for 224
            raise PlansError(f"{path}: a value has the wrong type ({err})") from None
