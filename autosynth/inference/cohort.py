"""Predict a cohort: settings recorded next to the outputs, finished cases skipped on request,
cases shared between worker processes, one progress bar.

``OUT/prediction_info.json`` records the model and the settings, so ``--continue`` can refuse to
mix predictions made with other folds or checkpoints, and ``autosynth_evaluate`` knows the
scale and the normalisation of the predictions.
"""
from __future__ import annotations

import multiprocessing
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from autosynth import results_layout as layout
from autosynth.inference.case_prediction import CaseTimings, predict_case
from autosynth.inference.errors import PredictionError
from autosynth.inference.input_cases import InputCase
from autosynth.inference.model_folder import TrainedModel
from autosynth.utils.files import read_json, write_json_atomic
from autosynth.inference import networks
from autosynth.inference.denormalization import (denormalization_parameters,
                                                 intensity_reference)

INFO_FILE = "prediction_info.json"


@dataclass
class PredictionSettings:
    """How to predict; ``folds`` None means every fold that has the checkpoint."""

    folds: list[str] | None = None
    checkpoint: str = "best"
    mirror: bool = False
    denormalize: bool = False
    device: str = "cpu"
    batch_size: int | None = None


def output_path(folder: Path, case: InputCase, ending: str) -> Path:
    return Path(folder) / f"{case.case_id}{ending}"


def prediction_info(model: TrainedModel, settings: PredictionSettings,
                    checkpoints: list[Path]) -> dict:
    """What ``OUT/prediction_info.json`` holds (the part ``--continue`` compares is 'model')."""
    target_plan = model.configuration.normalization[model.target]
    return {
        "model": {"folder": str(model.folder), "sources": model.sources, "target": model.target,
                  "configuration": model.configuration_name, "trainer": model.trainer,
                  "folds": [layout.parse_fold(p.parent.name) for p in checkpoints],
                  "checkpoint": settings.checkpoint, "tta_mirror": settings.mirror,
                  "denormalized": settings.denormalize},
        "intensity_scale": "target contrast (denormalised)" if settings.denormalize
        else "normalised [0, 1]",
        "target_normalization": asdict(target_plan),
        "slice_axis": model.configuration.slice_axis,
    }


def _check_folders(cases: list[InputCase], output_folder: Path) -> None:
    out = output_folder.resolve()
    for case in cases:
        for path in (*case.sources, case.mask):
            if path is not None and path.resolve().parent == out:
                raise PredictionError(f"{output_folder}: the output folder holds the input "
                                      f"{path.name}; choose another folder (inputs are never "
                                      "modified)")


def _start_info(output_folder: Path, info: dict, resume: bool) -> None:
    path = output_folder / INFO_FILE
    if resume and path.is_file():
        old = read_json(path).get("model")
        if old != info["model"]:
            raise PredictionError(f"{path}: the predictions there were made with other settings "
                                  f"({old}); --continue would mix them; use another output folder")
    write_json_atomic(path, info)


# ---------------------------------------------------------------------------- workers
_WORKER: dict = {}


def _load_predictor(model: TrainedModel, settings: PredictionSettings, checkpoints: list[Path]):
    device = torch.device(settings.device)
    nets = [networks.load_network(p, device) for p in checkpoints]
    return networks.SlicePredictor(nets, device, settings.batch_size, settings.mirror,
                                   patch=tuple(model.configuration.patch_size))


def _init_worker(model_folder: str, settings: PredictionSettings, checkpoints: list[Path],
                 target_scale: dict | None, threads: int) -> None:
    torch.set_num_threads(threads)
    model = TrainedModel.load(model_folder)
    _WORKER.update(model=model, predictor=_load_predictor(model, settings, checkpoints),
                   target_scale=target_scale)


def _predict_in_worker(job: tuple[InputCase, Path]) -> tuple[str, CaseTimings | None, str]:
    """(case id, timings, error message); errors travel back as text to the main process."""
    case, output = job
    try:
        return case.case_id, predict_case(case, _WORKER["model"], _WORKER["predictor"], output,
                                          _WORKER["target_scale"]), ""
    except PredictionError as err:
        return case.case_id, None, str(err)


# ---------------------------------------------------------------------------- the cohort
def predict_cohort(cases: list[InputCase], model: TrainedModel, output_folder: str | Path,
                   settings: PredictionSettings, num_processes: int = 1, resume: bool = False,
                   progress: bool = True) -> dict:
    """Predict ``cases`` into ``output_folder``; returns counts and per-case timings.

    With ``resume``, cases whose output exists are skipped (outputs are written atomically, so
    an existing file is complete). Raises :class:`PredictionError` on the first failing case.
    """
    output_folder = Path(output_folder)
    _check_folders(cases, output_folder)
    checkpoints = model.checkpoints(settings.folds, settings.checkpoint)
    output_folder.mkdir(parents=True, exist_ok=True)
    _start_info(output_folder, prediction_info(model, settings, checkpoints), resume)
    ending = model.dataset_json.file_ending
    jobs = [(c, output_path(output_folder, c, ending)) for c in cases]
    todo = [(c, out) for c, out in jobs if not (resume and out.is_file())]
    target_scale = _target_scale(model) if settings.denormalize else None
    timings: dict[str, CaseTimings] = {}
    bar = tqdm(total=len(todo), desc="predict", unit="case", disable=not progress)
    workers = max(1, min(num_processes, len(todo)))
    try:
        if not todo:
            pass
        elif workers == 1:
            _WORKER.update(model=model, target_scale=target_scale,
                           predictor=_load_predictor(model, settings, checkpoints))
            results = map(_predict_in_worker, todo)
            _collect(results, timings, bar)
        else:
            threads = max(1, (os.cpu_count() or 1) // workers)
            context = multiprocessing.get_context("spawn")  # no forked OpenMP state
            with context.Pool(workers, _init_worker, (str(model.folder), settings, checkpoints,
                                                      target_scale, threads)) as pool:
                _collect(pool.imap_unordered(_predict_in_worker, todo), timings, bar)
    finally:
        bar.close()
        _WORKER.clear()
    return {"predicted": len(todo), "skipped": len(jobs) - len(todo), "timings": timings}


def _collect(results, timings: dict, bar) -> None:
    for case_id, result, error in results:
        if error:
            raise PredictionError(error)
        timings[case_id] = result
        bar.update()


def _target_scale(model: TrainedModel) -> dict:

    reference = intensity_reference(model.folder, model.dataset_name)
    return denormalization_parameters(reference, model.target,
                                      model.configuration.normalization[model.target])
