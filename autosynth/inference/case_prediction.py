"""Predict one case: the model's own preprocessing, the networks, every step inverted.

read sources (one grid) -> brain mask (file or derived) -> ``preprocess_case`` with the model's
plan (every slice holding brain kept) -> networks -> ``restore_to_original`` -> clip to [0, 1]
-> times the brain mask -> (an ensemble of model folders: the mean of each one's result) ->
(optional) target intensity scale -> written with the first source file's own header, so the
output grid equals the input grid to the last bit.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
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
from autosynth.inference.ensemble import average_predictions, std_over_passes


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
class Member:
    """One model of a prediction: its folder, its networks (folds and mirror averaged) as one
    callable, and (for ``--save-std``) each fold / mirrored pass alone."""

    model: TrainedModel
    predict_slices: Callable[[np.ndarray], np.ndarray]
    passes: list[Callable[[np.ndarray], np.ndarray]] = field(default_factory=list)


def restored_prediction(images: np.ndarray, brain: np.ndarray, geometry, case_id: str,
                        model: TrainedModel, predict_slices: Callable[[np.ndarray], np.ndarray],
                        timings: CaseTimings, passes: list[Callable] = ()
                        ) -> tuple[np.ndarray, list[np.ndarray]]:
    """One model's prediction on the input grid, clipped to [0, 1] and 0 outside the brain,
    and the same for each of ``passes`` (the model's own preprocessing, every step inverted)."""
    clock = time.perf_counter()
    try:
        data, _, _, properties = preprocess_case(
            images, brain, geometry, model.configuration, model.sources, case_id=case_id,
            configuration=model.configuration_name, null_slice_fraction=0.0)
    except PreprocessingError as err:
        raise PredictionError(str(err)) from None
    timings.preprocess, clock = timings.preprocess + time.perf_counter() - clock, \
        time.perf_counter()
    outputs = [predict_slices(data)] + [one(data) for one in passes]
    timings.slices = int(data.shape[1])
    timings.network, clock = timings.network + time.perf_counter() - clock, time.perf_counter()
    restored = []
    for prediction in outputs:
        volume = restore_to_original(prediction, properties, order=3)
        np.clip(volume, 0.0, 1.0, out=volume)
        volume *= brain
        restored.append(volume)
    timings.restore += time.perf_counter() - clock
    return restored[0], restored[1:]


def predict_case(case: InputCase, members: list[Member], output: Path,
                 target_scale: dict | None = None, force_derived_mask: bool = False,
                 std_output: Path | None = None) -> CaseTimings:
    """Write ``output`` for ``case``: the mean of the ``members``' predictions (each with its own
    preprocessing, on the input grid); ``target_scale`` = denormalisation parameters or None.

    With ``std_output``, also the voxel-wise standard deviation over every member's passes
    (folds, mirrored passes), on the same grid and scale, written before the prediction so that
    an existing prediction means a finished case.
    """
    timings, clock = CaseTimings(), time.perf_counter()
    images, brain, geometry = read_input(case, force_derived_mask)
    if not brain.any():
        raise PredictionError(f"case {case.case_id}: the brain mask is empty "
                              f"({case.mask or 'derived from all-zero images'})")
    timings.read = time.perf_counter() - clock
    means, passes = [], []
    for member in members:
        mean, alone = restored_prediction(images, brain, geometry, case.case_id, member.model,
                                          member.predict_slices, timings,
                                          member.passes if std_output else ())
        means.append(mean)
        passes += alone
    del images
    clock = time.perf_counter()
    restored = average_predictions(means)
    if target_scale is not None:
        restored = to_target_scale(restored, target_scale, brain)
        passes = [to_target_scale(p, target_scale, brain) for p in passes]
    timings.restore += time.perf_counter() - clock
    clock = time.perf_counter()
    if std_output is not None:
        write_image_like(std_over_passes(passes), case.sources[0], std_output)
    write_image_like(restored, case.sources[0], output)
    timings.write = time.perf_counter() - clock
    return timings
