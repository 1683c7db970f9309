"""Predict a cohort: settings recorded next to the outputs, finished cases skipped on request,
cases shared between worker processes and between runs, one progress bar.

Each case is claimed with a lock file (``case_lock.py``) before it is predicted, so several
runs with ``--continue`` into one folder split the cohort between them. A case that fails is
reported in one line and left without output; the others go on, and the run ends with
:class:`CasesFailedError` listing the failed ones.

``OUT/prediction_info.json`` records the model and the settings, so ``--continue`` can refuse to
mix predictions made with other folds or checkpoints, and ``autosynth_evaluate`` knows the
scale and the normalisation of the predictions.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from autosynth import results_layout as layout
from autosynth.inference.case_prediction import CaseTimings, predict_case
from autosynth.inference.case_lock import claim
from autosynth.inference.errors import CasesFailedError, PredictionError
from autosynth.inference.input_cases import InputCase
from autosynth.inference.model_folder import TrainedModel
from autosynth.utils.files import read_json, write_json_atomic
from autosynth.inference import networks
from autosynth.inference.denormalization import (denormalization_parameters,
                                                 intensity_reference)
from autosynth.utils.parent_death import die_with_parent

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
    force_derived_mask: bool = False  # predict even where a derived mask looks like a head


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
    return networks.SlicePredictor.for_configuration(nets, model.configuration, device,
                                                     settings.batch_size, settings.mirror)


def _init_worker(model_folder: str, settings: PredictionSettings, checkpoints: list[Path],
                 target_scale: dict | None, threads: int, parent_pid: int) -> None:
    die_with_parent(parent_pid)
    torch.set_num_threads(threads)
    model = TrainedModel.load(model_folder)
    _WORKER.update(model=model, predictor=_load_predictor(model, settings, checkpoints),
                   target_scale=target_scale, settings=settings)


PREDICTED, DONE, ELSEWHERE, FAILED = "predicted", "done", "elsewhere", "failed"


@dataclass
class _Tally:
    """What became of the cases a run tried."""

    timings: dict[str, CaseTimings] = field(default_factory=dict)  # predicted here
    failed: dict[str, str] = field(default_factory=dict)            # case id -> message
    done: int = 0       # finished by another run after this one started (with resume)
    elsewhere: int = 0  # locked by another live run


def _predict_in_worker(job: tuple[InputCase, Path, bool]
                       ) -> tuple[str, str, CaseTimings | None, str]:
    """(case id, outcome, timings, error message); errors travel back as text.

    The case is claimed first: one held by another run is left to it (ELSEWHERE), and with
    ``resume`` one finished meanwhile by another run is not redone (DONE).
    """
    case, output, resume = job
    lock = claim(output)
    if lock is None:
        return case.case_id, ELSEWHERE, None, ""
    try:
        if resume and output.is_file():
            return case.case_id, DONE, None, ""
        return case.case_id, PREDICTED, predict_case(
            case, _WORKER["model"], _WORKER["predictor"], output, _WORKER["target_scale"],
            _WORKER["settings"].force_derived_mask), ""
    except PredictionError as err:
        return case.case_id, FAILED, None, str(err)
    finally:
        lock.release()


# ---------------------------------------------------------------------------- the cohort
def _report_to_stderr(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def predict_cohort(cases: list[InputCase], model: TrainedModel, output_folder: str | Path,
                   settings: PredictionSettings, num_processes: int = 1, resume: bool = False,
                   progress: bool = True,
                   report: Callable[[str], None] = _report_to_stderr) -> dict:
    """Predict ``cases`` into ``output_folder``; returns counts and per-case timings.

    With ``resume``, cases whose output exists are skipped (outputs are written atomically, so
    an existing file is complete). A failing case is passed to ``report`` (one line) and the
    others go on; :class:`CasesFailedError` is raised at the end if any failed.
    """
    output_folder = Path(output_folder)
    _check_folders(cases, output_folder)
    checkpoints = model.checkpoints(settings.folds, settings.checkpoint)
    output_folder.mkdir(parents=True, exist_ok=True)
    _start_info(output_folder, prediction_info(model, settings, checkpoints), resume)
    ending = model.dataset_json.file_ending
    jobs = [(c, output_path(output_folder, c, ending), resume) for c in cases]
    todo = [job for job in jobs if not (resume and job[1].is_file())]
    target_scale = _target_scale(model) if settings.denormalize else None
    tally = _Tally()
    bar = tqdm(total=len(todo), desc="predict", unit="case", disable=not progress)
    workers = max(1, min(num_processes, len(todo)))
    try:
        if not todo:
            pass
        elif workers == 1:
            _WORKER.update(model=model, target_scale=target_scale, settings=settings,
                           predictor=_load_predictor(model, settings, checkpoints))
            _collect(map(_predict_in_worker, todo), tally, bar, report)
        else:
            threads = max(1, (os.cpu_count() or 1) // workers)
            context = multiprocessing.get_context("spawn")  # no forked OpenMP state
            with context.Pool(workers, _init_worker, (str(model.folder), settings, checkpoints,
                                                      target_scale, threads,
                                                      os.getpid())) as pool:
                _collect(pool.imap_unordered(_predict_in_worker, todo), tally, bar, report)
    finally:
        bar.close()
        _WORKER.clear()
    if tally.failed:
        raise CasesFailedError(tally.failed, len(tally.timings))
    return {"predicted": len(tally.timings), "skipped": len(jobs) - len(todo) + tally.done,
            "elsewhere": tally.elsewhere, "timings": tally.timings}


def _collect(results, tally: _Tally, bar, report: Callable[[str], None]) -> None:
    for case_id, status, timings, error in results:
        if status == FAILED:
            tally.failed[case_id] = error
            report(error)
        elif status == PREDICTED:
            tally.timings[case_id] = timings
        elif status == DONE:
            tally.done += 1
        else:
            tally.elsewhere += 1
        bar.update()


def _target_scale(model: TrainedModel) -> dict:

    reference = intensity_reference(model.folder, model.dataset_name)
    return denormalization_parameters(reference, model.target,
                                      model.configuration.normalization[model.target])
