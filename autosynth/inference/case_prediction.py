"""Predict one case: the model's own preprocessing, the networks, every step inverted.

Split in two (:func:`prepare_case`, :func:`finish_case`) so that a cohort can read and
preprocess the next case while the network runs on this one.

read sources (one grid) -> brain mask (file or derived) -> ``preprocess_case`` with the model's
plan (every slice holding brain kept) -> networks -> ``restore_to_original`` -> clip to [0, 1]
-> times the brain mask -> (optional) target intensity scale -> written with the first source
file's own header, so the output grid equals the input grid to the last bit.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from autosynth.dataset.image_io import (ImageIOError, read_case, read_image_on_grid,
                                        write_image_like)
from autosynth.dataset.integrity import check_images, problems_line
from autosynth.inference.errors import PredictionError
from autosynth.inference.input_cases import InputCase
from autosynth.inference.model_folder import TrainedModel
from autosynth.dataset.brain_mask import derive_brain_mask, not_skull_stripped
from autosynth.preprocessing.case_preprocessing import (PreprocessingError, preprocess_case,
                                                        restore_to_original)
from autosynth.inference.denormalization import to_target_scale


@dataclass
class CaseTimings:
    """Seconds per step of one case (for the benchmark and the log)."""

    read: float = 0.0
    preprocess: float = 0.0
    network: float = 0.0
    restore: float = 0.0
    write: float = 0.0
    slices: int = 0

    @property
    def total(self) -> float:
        return self.read + self.preprocess + self.network + self.restore + self.write


def read_input(case: InputCase, force_derived_mask: bool = False
               ) -> tuple[np.ndarray, np.ndarray, object]:
    """Source images ``(C, Z, Y, X)``, boolean brain mask and the geometry; one grid for all.

    Every file first passes ``autosynth_verify``'s checks (SimpleITK reads NaN as 0 and a
    truncated gzip as zeros, silently); a derived mask that looks like a whole head is refused
    unless ``force_derived_mask``.
    """
    if case.defect:
        raise PredictionError(f"case {case.case_id}: {case.defect}")
    files = [(p, "image") for p in case.sources] + ([(case.mask, "mask")] if case.mask else [])
    problems = check_images(files)
    if problems:
        raise PredictionError(f"case {case.case_id}: {problems_line(problems)}")
    try:
        images, geometry = read_case(list(case.sources))
        if case.mask is not None:
            mask = read_image_on_grid(case.mask, geometry, str(case.sources[0]))
            return images, mask > 0, geometry
    except ImageIOError as err:
        raise PredictionError(f"case {case.case_id}: {err}") from None
    brain = derive_brain_mask(images)
    reason = None if force_derived_mask else not_skull_stripped(brain)
    if reason:
        raise PredictionError(f"case {case.case_id}: {case.sources[0]}: {reason}; give brain "
                              "masks with --masks DIR (or --force-derived-mask to predict "
                              "with this mask anyway)")
    return images, brain, geometry


@dataclass
class PreparedCase:
    """A case read and preprocessed, waiting for the network (what a reader thread hands on)."""

    case: InputCase
    data: np.ndarray
    brain: np.ndarray
    properties: object
    timings: CaseTimings


def prepare_case(case: InputCase, model: TrainedModel, force_derived_mask: bool = False
                 ) -> PreparedCase:
    """Read, check and preprocess ``case`` with the model's plan (every brain slice kept)."""
    timings, clock = CaseTimings(), time.perf_counter()
    images, brain, geometry = read_input(case, force_derived_mask)
    if not brain.any():
        raise PredictionError(f"case {case.case_id}: the brain mask is empty "
                              f"({case.mask or 'derived from all-zero images'})")
    timings.read, clock = time.perf_counter() - clock, time.perf_counter()
    try:
        data, _, _, properties = preprocess_case(
            images, brain, geometry, model.configuration, model.sources, case_id=case.case_id,
            configuration=model.configuration_name, null_slice_fraction=0.0)
    except PreprocessingError as err:
        raise PredictionError(str(err)) from None
    timings.preprocess = time.perf_counter() - clock
    return PreparedCase(case, data, brain, properties, timings)


def finish_case(prepared: PreparedCase, predict_slices: Callable[[np.ndarray], np.ndarray],
                output: Path, target_scale: dict | None = None) -> CaseTimings:
    """Run the networks on a prepared case, invert every step and write ``output``."""
    timings, clock = prepared.timings, time.perf_counter()
    prediction = predict_slices(prepared.data)
    timings.slices = int(prepared.data.shape[1])
    timings.network, clock = time.perf_counter() - clock, time.perf_counter()
    restored = restore_to_original(prediction, prepared.properties, order=3)
    np.clip(restored, 0.0, 1.0, out=restored)
    restored *= prepared.brain
    if target_scale is not None:
        restored = to_target_scale(restored, target_scale, prepared.brain)
    timings.restore, clock = time.perf_counter() - clock, time.perf_counter()
    write_image_like(restored, prepared.case.sources[0], output)
    timings.write = time.perf_counter() - clock
    return timings


def predict_case(case: InputCase, model: TrainedModel,
                 predict_slices: Callable[[np.ndarray], np.ndarray], output: Path,
                 target_scale: dict | None = None, force_derived_mask: bool = False
                 ) -> CaseTimings:
    """Write ``output`` for ``case``; ``target_scale`` = denormalisation parameters or None."""
    return finish_case(prepare_case(case, model, force_derived_mask), predict_slices, output,
                       target_scale)
