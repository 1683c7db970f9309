"""Pair each prediction file with its reference (and optional mask, labels, source image).

Cases are the files of the prediction folder (``CASE<ending>``). Other folders hold either
``CASE<ending>`` or, with a channel number, the raw layout's ``CASE_XXXX<ending>`` (so a raw
``imagesTr`` folder can serve as reference or source directly). A prediction without its
reference, or a case missing from a mask/labels folder that was given, is an error.
"""
from __future__ import annotations

from pathlib import Path

from autosynth.dataset.cases import strip_ending
from autosynth.evaluation.errors import EvaluationError
from autosynth.evaluation.evaluator import EvaluationCase


def case_file(folder: Path, case_id: str, ending: str, channel: int | None = None) -> Path:
    name = f"{case_id}{ending}" if channel is None else f"{case_id}_{channel:04d}{ending}"
    return Path(folder) / name


def prediction_case_ids(folder: Path, ending: str) -> list[str]:
    folder = Path(folder)
    if not folder.is_dir():
        raise EvaluationError(f"{folder}: prediction folder not found")
    ids = sorted(strip_ending(p.name, ending) for p in folder.iterdir()
                 if p.is_file() and not p.name.startswith(".") and p.name.endswith(ending))
    if not ids:
        raise EvaluationError(f"{folder}: no {ending} prediction to evaluate")
    return ids


def _required(folder: Path | None, case_id: str, ending: str, what: str,
              channel: int | None = None) -> Path | None:
    if folder is None:
        return None
    path = case_file(folder, case_id, ending, channel)
    if not path.is_file():
        raise EvaluationError(f"{path}: missing: no {what} for case {case_id}")
    return path


def evaluation_cases(predictions: Path, references: Path, ending: str = ".nii.gz",
                     masks: Path | None = None, labels: Path | None = None,
                     sources: Path | None = None, reference_channel: int | None = None,
                     source_channel: int | None = None) -> list[EvaluationCase]:
    """One :class:`EvaluationCase` per prediction file, sorted by case id."""
    if not Path(references).is_dir():
        raise EvaluationError(f"{references}: reference folder not found")
    return [EvaluationCase(
        case_id, case_file(predictions, case_id, ending),
        _required(references, case_id, ending, "reference", reference_channel),
        _required(masks, case_id, ending, "brain mask"),
        _required(labels, case_id, ending, "labels"),
        _required(sources, case_id, ending, "source image", source_channel))
        for case_id in prediction_case_ids(predictions, ending)]
