"""Segmentation utility: does a synthetic target serve a tumour segmenter as the real one does?

Each held-out test case is segmented twice or more by the same segmenter (trained on real
images only): once with every real contrast, and once per *substitute* (a synthesis model's
prediction, or a baseline) put in place of the real target contrast, the other contrasts
unchanged. Both segmentations are scored against the reference labels per BraTS region (Dice,
HD95; :mod:`autosynth.evaluation.overlap`), and the per-case difference real - substitute says
what the substitution costs. Substituting the real target for itself costs exactly 0.

A substitute is a folder of ``CASE<ending>`` images on the target's normalised [0, 1] scale and
on the case's own grid, which is what ``autosynth_predict`` (without ``--denormalize``) and the
intensity baselines write.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autosynth.dataset.case_io import CaseReadError, load_case_with_mask, load_labels
from autosynth.dataset.cases import CaseFiles
from autosynth.dataset.dataset_json import DatasetJson
from autosynth.dataset.image_io import ImageIOError, read_image_on_grid, write_image_like
from autosynth.evaluation.errors import EvaluationError
from autosynth.evaluation.overlap import overlap_metrics, regions_of
from autosynth.evaluation.summary import Row, finite_or_none, mean_sd
from autosynth.evaluation.utility_table import (REAL, difference_key, test_case_metrics,
                                                utility_table)
from autosynth.results_layout import utility_folder
from autosynth.results_layout import TEST_SET_FOLDER
from autosynth.inference import InputCase, PredictionSettings, TrainedModel, predict_cohort
from autosynth.inference.errors import PredictionError
from autosynth.inference.segmentation import Segmenter
from autosynth.utils.files import write_json_atomic, write_text_atomic

SUMMARY_STEM = "utility_summary"


@dataclass
class UtilityResult:
    """Per input (``real`` and each substitute): per case the overlap metrics; for each
    substitute also ``delta_<metric>`` = real - substitute."""

    target: str
    regions: dict[str, tuple[int, ...]]
    cases: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """Mean, SD and bootstrap interval of every metric of every input."""
        return {name: mean_sd(per_case) for name, per_case in self.cases.items()}

    def to_dict(self) -> dict:
        return finite_or_none({"target": self.target,
                               "regions": {k: list(v) for k, v in self.regions.items()},
                               "summary": self.summary(), "cases": self.cases})


def folder_name(name: str) -> str:
    """``synthetic (model)`` -> ``synthetic_model``: an input's segmentation folder."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "input"


def _spacing_zyx(geometry) -> tuple[float, float, float]:
    return tuple(float(s) for s in reversed(geometry.spacing))


def segment_case(segmenter: Segmenter, case: CaseFiles, mask_file: Path,
                 dataset_json: DatasetJson, target: str, substitutes: dict[str, Path],
                 output: Path | None = None) -> dict[str, dict[str, float]]:
    """Metrics of one case with the real target and with each substitute's image of it."""
    channels = [dataset_json.channel_index(c) for c in segmenter.contrasts]
    position = segmenter.contrasts.index(target)
    mask_case = CaseFiles(case.case_id, case.channels, mask_file, case.label)
    try:
        images, brain, _, geometry = load_case_with_mask(mask_case, channels)
        reference = load_labels(case, geometry)
    except CaseReadError as err:
        raise EvaluationError(str(err)) from None
    if reference is None:
        raise EvaluationError(f"case {case.case_id}: no labels file (labelsTr/"
                              f"{case.case_id}{dataset_json.file_ending}); the utility needs "
                              "reference labels")
    normalised = segmenter.normalise(images, brain)
    del images
    regions = regions_of(segmenter.plan.labels.values())
    spacing = _spacing_zyx(geometry)
    out = {}
    ending = dataset_json.file_ending
    for name, folder in {REAL: None, **substitutes}.items():
        inputs = normalised
        if folder is not None:
            path = Path(folder) / f"{case.case_id}{ending}"
            if not path.is_file():
                raise EvaluationError(f"{path}: missing: no {name} image of {target} for case "
                                      f"{case.case_id}")
            try:
                substitute = read_image_on_grid(path, geometry, str(case.channels[channels[0]]))
            except ImageIOError as err:
                raise EvaluationError(str(err)) from None
            inputs = normalised.copy()
            inputs[position] = substitute
        try:
            labels = segmenter.segment(inputs, brain, geometry, case.case_id)
        except PredictionError as err:
            raise EvaluationError(str(err)) from None
        if output is not None:
            write_image_like(labels, case.channels[channels[0]],
                             output / folder_name(name) / f"{case.case_id}{ending}",
                             dtype=np.uint8)
        out[name] = overlap_metrics(reference, labels, spacing, regions)
    return out


def measure_utility(segmenter: Segmenter, cases: list[CaseFiles], masks: dict[str, Path],
                    dataset_json: DatasetJson, target: str, substitutes: dict[str, Path],
                    output: Path | None = None) -> UtilityResult:
    """Segment every case with the real target and each substitute; scores per input."""
    if target not in segmenter.contrasts:
        raise EvaluationError(f"the segmenter reads {', '.join(segmenter.contrasts)}, not "
                              f"{target}")
    result = UtilityResult(target, regions_of(segmenter.plan.labels.values()))
    result.cases = {name: {} for name in [REAL, *substitutes]}
    for case in cases:
        scored = segment_case(segmenter, case, masks[case.case_id], dataset_json, target,
                              substitutes, output)
        for name, metrics in scored.items():
            result.cases[name][case.case_id] = dict(metrics)
            if name != REAL:
                for key, value in metrics.items():
                    result.cases[name][case.case_id][difference_key(key)] = \
                        scored[REAL][key] - value
    return result


def check_same_scale(segmenter: Segmenter, target: str, plan, where: str) -> None:
    """A substitute must be on the scale the segmenter reads the target on (``plan``: the
    substitute's :class:`NormalizationPlan` of the target)."""
    ours = segmenter.plan.plan.normalization.get(target)
    if ours != plan:
        raise EvaluationError(f"{where}: its {target} is normalised as {plan}, the segmenter "
                              f"reads {target} as {ours}; train the segmenter on the model's "
                              "configuration (autosynth_train_segmenter -c)")


def predict_test_targets(model: TrainedModel, dataset_json: DatasetJson, cases: list[CaseFiles],
                         masks: dict[str, Path], settings: PredictionSettings,
                         num_processes: int = 1, resume: bool = False,
                         progress: bool = True) -> Path:
    """The model's predictions of the test cases' target, where ``autosynth_test`` puts them
    (``<model folder>/test_set``), made as it makes them; returns the folder."""
    channels = [dataset_json.channel_index(s) for s in model.sources]
    for case in cases:
        missing = [c for c in channels if c not in case.channels]
        if missing:
            raise EvaluationError(f"test case {case.case_id} has no image for channel "
                                  f"{missing[0]:04d} ({dataset_json.channel_names[missing[0]]})")
    inputs = [InputCase(c.case_id, tuple(c.channels[k] for k in channels), masks[c.case_id])
              for c in cases]
    folder = model.folder / TEST_SET_FOLDER
    predict_cohort(inputs, model, folder, settings, num_processes, resume, progress)
    return folder


def write_utility(folder: Path, result: UtilityResult, title: str) -> str:
    """``utility_summary.{json,md}`` in ``folder``; returns the Markdown."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / f"{SUMMARY_STEM}.json", result.to_dict())
    text = utility_table(result.summary(), result.regions, title, len(next(
        iter(result.cases.values()), {})))
    write_text_atomic(folder / f"{SUMMARY_STEM}.md", text)
    return text


def add_utility_to_row(row: Row, model: TrainedModel, segmenter: Segmenter,
                       cases: list[CaseFiles], masks: dict[str, Path],
                       dataset_json: DatasetJson) -> str:
    """``autosynth_test --utility``: the utility of the model's test predictions (already in
    ``<model folder>/test_set``) written beside them and added to the row's cases."""
    check_same_scale(segmenter, model.target, model.configuration.normalization[model.target],
                     str(model.folder))
    folder = utility_folder(model.folder)
    result = measure_utility(segmenter, cases, masks, dataset_json, model.target,
                             {"synthetic": model.folder / TEST_SET_FOLDER},
                             folder / "segmentations")
    for case in cases:
        row.cases.setdefault(case.case_id, {}).update(test_case_metrics(
            result.cases[REAL][case.case_id], result.cases["synthetic"][case.case_id]))
    return write_utility(folder, result, f"Segmentation utility: {model.describe()}")
