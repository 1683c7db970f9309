"""What a normalisation scheme is: one class with everything each pipeline stage asks of it.

Planning asks for the plan entry (:meth:`planned`), plan loading for its problems, preprocessing
for per-case parameters and the forward map, prediction for the inverse (and, for
``--denormalize``, parameters from the training set's typical statistics), evaluation for the
plan that puts a reference on the model's scale. The module-level functions are the stable API
the stages call; they look the scheme up by the name stored in the plan or parameters.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from autosynth.normalization.plan import NormalizationPlan
from autosynth.normalization.registry import NormalizationError, get_scheme

EPSILON = 1e-8


def brain_values(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The voxels of ``image`` inside ``mask``; an error when the mask is empty."""
    values = image[mask]
    if values.size == 0:
        raise ValueError("the brain mask is empty")
    return values


class NormalizationScheme:
    """Base class of a scheme. Subclass, set ``name``, implement the three array methods."""

    name: ClassVar[str] = ""
    parameters: ClassVar[tuple[str, ...]] = ()
    """The ``NormalizationPlan`` fields (fixed, shared by all cases) this scheme reads."""
    unit_range: ClassVar[bool] = True
    """Output lies in [0, 1]: preprocessing clips the cubic overshoot of resampling."""
    changes_intensities: ClassVar[bool] = True
    """False only for the identity: references are then compared as they are."""
    reference_statistics: ClassVar[tuple[str, ...]] = ()
    """Per-case fingerprint statistics (``intensity.<contrast>``) ``--denormalize`` reads."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        known = [f.name for f in dataclasses.fields(NormalizationPlan) if f.name != "scheme"]
        unknown = [p for p in cls.parameters if p not in known]
        if unknown:
            raise TypeError(f"{cls.__module__}.{cls.__name__}: parameters {unknown} are not "
                            f"fields of NormalizationPlan (autosynth/normalization/plan.py); "
                            f"known: {', '.join(known)}")

    def problems(self, plan: NormalizationPlan) -> list[str]:
        """What is wrong with the plan's fixed parameters; each message names the field."""
        return []

    def planned(self, fingerprint: dict, contrast: str) -> tuple[NormalizationPlan, str]:
        """The plan entry of ``contrast`` from the dataset's fingerprint, and a note for the
        plan's ``notes`` saying how it was chosen ("" for nothing to say)."""
        return NormalizationPlan(self.name), ""

    def case_parameters(self, image: np.ndarray, mask: np.ndarray,
                        plan: NormalizationPlan) -> dict:
        """The per-case numbers (JSON-able) that :meth:`normalize` and :meth:`denormalize` use."""
        raise NotImplementedError

    def normalize(self, image: np.ndarray, params: dict) -> np.ndarray:
        """The forward map of a float32 image, as a new float32 array (background set, and a
        ``unit_range`` scheme clipped to [0, 1], by :func:`normalize`)."""
        raise NotImplementedError

    def denormalize(self, array: np.ndarray, params: dict) -> np.ndarray:
        """The exact inverse of :meth:`normalize` (where it did not clip), float32."""
        raise NotImplementedError

    def denormalization_parameters(self, statistics: dict, plan: NormalizationPlan) -> dict:
        """Per-case numbers for a synthetic image, from typical ``reference_statistics``."""
        raise NormalizationError(f"--denormalize does not support the normalisation scheme "
                                 f"'{self.name}'")

    def reference_plan(self, known: list[tuple[NormalizationPlan | None, str]],
                       z_window: tuple[float, float] | None = None
                       ) -> tuple[NormalizationPlan, str]:
        """The plan (and where it came from) for ``autosynth_evaluate --normalization NAME``.

        ``known``: the plans of a plans file and of ``prediction_info.json`` (None when absent).
        A scheme without fixed parameters needs none of them.
        """
        if not self.parameters:
            return NormalizationPlan(self.name), f"--normalization {self.name}"
        for plan, origin in known:
            if plan is not None and plan.scheme == self.name:
                return plan, origin
        raise NormalizationError(f"--normalization {self.name} needs its parameters "
                                 f"({', '.join(self.parameters)}): give the dataset (-d) or a "
                                 "plans file")

    def reference_on_model_scale(self, image: np.ndarray, brain: np.ndarray,
                                 plan: NormalizationPlan, clip: bool = True) -> np.ndarray:
        """A real target image on the scale the model predicts (its own per-case numbers);
        ``clip=False`` keeps values beyond the window (a lesion above it keeps its value)."""
        return normalize(image, brain, normalization_parameters(image, brain, plan), clip=clip)


class LinearWindowScheme(NormalizationScheme):
    """A scheme that maps a per-case intensity window linearly to [0, 1] (clipped outside by
    :func:`normalize`)."""

    def window(self, params: dict) -> tuple[float, float]:
        """The intensities mapped to 0 and 1."""
        raise NotImplementedError

    def normalize(self, image: np.ndarray, params: dict) -> np.ndarray:
        low, high = self.window(params)
        return ((image.astype(np.float32) - low) / (high - low)).astype(np.float32)

    def denormalize(self, array: np.ndarray, params: dict) -> np.ndarray:
        low, high = self.window(params)
        return (array * (high - low) + low).astype(np.float32)


def normalization_parameters(image: np.ndarray, mask: np.ndarray,
                             plan: NormalizationPlan) -> dict:
    """The per-case numbers of ``plan`` for one contrast, measured inside ``mask``."""
    return {"scheme": plan.scheme, **get_scheme(plan.scheme).case_parameters(image, mask, plan)}


def normalize(image: np.ndarray, mask: np.ndarray, params: dict, clip: bool = True
              ) -> np.ndarray:
    """Apply ``params`` to one contrast; float32, 0 outside ``mask``. A ``unit_range`` scheme
    is clipped to [0, 1] unless ``clip=False`` (evaluation: lesions above the window keep their
    value, so the error of a prediction that stops at 1 is counted)."""
    scheme = get_scheme(params["scheme"])
    out = scheme.normalize(image, params)
    if clip and scheme.unit_range:
        np.clip(out, 0.0, 1.0, out=out)
    out[~mask] = 0
    return out


def denormalize(array: np.ndarray, params: dict, mask: np.ndarray | None = None) -> np.ndarray:
    """Original intensities from normalised ones (0 outside ``mask`` when one is given)."""
    array = np.asarray(array, dtype=np.float32)
    out = get_scheme(params["scheme"]).denormalize(array, params)
    if mask is not None:
        out[~np.asarray(mask, dtype=bool)] = 0
    return out
