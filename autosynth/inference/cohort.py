"""Predict a cohort: settings recorded next to the outputs, finished cases skipped on request,
cases shared between worker processes and between runs, one progress bar.

Each case is claimed with a lock file (``case_lock.py``) before it is predicted, so several
runs with ``--continue`` into one folder split the cohort between them. A case that fails is
reported in one line and left without output; the others go on, and the run ends with
:class:`CasesFailedError` listing the failed ones.

``OUT/prediction_info.json`` records the model and the settings, so ``--continue`` can refuse to
mix predictions made with other folds or checkpoints, and ``autosynth_evaluate`` knows the
scale and the normalisation of the predictions.

Several model folders (an ensemble, e.g. from ``autosynth_find_best_configuration``) predict
each case with their own preprocessing and are averaged on the input grid; ``--save-std``
adds ``OUT/std/CASE<ending>``, the spread over every fold and mirrored pass.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import Future, ThreadPoolExecutor
import dataclasses
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from tqdm import tqdm

from autosynth import results_layout as layout
from autosynth.inference.case_prediction import (CaseTimings, Member, PreparedCase,
                                                 finish_case, prepare_case)
from autosynth.inference.case_lock import claim
from autosynth.inference.errors import CasesFailedError, PredictionError
from autosynth.inference.input_cases import InputCase
from autosynth.inference.model_folder import TrainedModel
from autosynth.utils.files import read_json, write_json_atomic
from autosynth.inference import engines, onnx_engine
from autosynth.inference.denormalization import (denormalization_parameters,
                                                 intensity_reference)
from autosynth.utils.parent_death import die_with_parent

INFO_FILE = "prediction_info.json"
STD_FOLDER = "std"   # OUT/std/CASE<ending>: the --save-std maps, beside the predictions


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
    save_std: bool = False  # also write the standard deviation over folds and mirrored passes
    engine: str = "auto"   # onnx_engine.ENGINES: auto = ONNX Runtime on the CPU when installed


def output_path(folder: Path, case: InputCase, ending: str) -> Path:
    return Path(folder) / f"{case.case_id}{ending}"


def std_path(folder: Path, case: InputCase, ending: str) -> Path:
    return Path(folder) / STD_FOLDER / f"{case.case_id}{ending}"


def _model_info(model: TrainedModel, settings: PredictionSettings,
                checkpoints: list[Path]) -> dict:
    info = {"folder": str(model.folder), "sources": model.sources, "target": model.target,
            "configuration": model.configuration_name, "trainer": model.trainer,
            "folds": [layout.parse_fold(p.parent.name) for p in checkpoints],
            "checkpoint": settings.checkpoint, "tta_mirror": settings.mirror,
            "denormalized": settings.denormalize}
    return info | ({"save_std": True} if settings.save_std else {})


def prediction_info(models: TrainedModel | list[TrainedModel], settings: PredictionSettings,
                    checkpoints: list[Path] | list[list[Path]]) -> dict:
    """What ``OUT/prediction_info.json`` holds (the part ``--continue`` compares is 'model';
    for an ensemble it lists the members under 'ensemble')."""
    if isinstance(models, TrainedModel):
        models, checkpoints = [models], [checkpoints]
    model = models[0]
    members = [_model_info(m, settings, c) for m, c in zip(models, checkpoints)]
    target_plan = check_same_target_scale(models)
    return {
        "model": members[0] if len(members) == 1 else {
            "ensemble": members, "sources": model.sources, "target": model.target,
            "denormalized": settings.denormalize},
        "intensity_scale": "target contrast (denormalised)" if settings.denormalize
        else "normalised [0, 1]",
        "target_normalization": asdict(target_plan),
        "slice_axis": model.configuration.slice_axis,
        "engine": onnx_engine.resolve_engine(settings.engine, settings.device),
    }


def check_same_target_scale(models: list[TrainedModel]):
    """The target's normalisation plan, which every member of an ensemble must share (their
    [0, 1] outputs are averaged); an error naming the first member that differs."""
    first = models[0]
    plan = first.configuration.normalization[first.target]
    for other in models[1:]:
        if [s.lower() for s in other.sources] != [s.lower() for s in first.sources] or \
                other.target.lower() != first.target.lower():
            raise PredictionError(f"{other.folder}: translates {'+'.join(other.sources)} -> "
                                  f"{other.target}, the ensemble's first member "
                                  f"{'+'.join(first.sources)} -> {first.target}")
        if other.configuration.normalization[other.target] != plan:
            raise PredictionError(f"{other.folder}: normalises {other.target} otherwise than "
                                  f"{first.folder} ({plan}); their outputs cannot be averaged")
    return plan


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


def network_channels(model: TrainedModel) -> int:
    """Input channels of the model's networks (for a network that does not describe them)."""
    return len(model.sources) * model.configuration.context_slices


def onnx_models(model: TrainedModel, checkpoints: list[Path]) -> list[Path]:
    """The current ONNX export of each checkpoint; a fold without one is exported now, which
    is the only time this engine imports torch (:mod:`engines`)."""
    current = [onnx_engine.current_export(c) for c in checkpoints]
    if all(current):
        return current
    export = engines.onnx_export()
    return [path or export.onnx_model_for(c, tuple(model.configuration.patch_size),
                                          network_channels(model))
            for path, c in zip(current, checkpoints)]


def _load_predictor(model: TrainedModel, settings: PredictionSettings, checkpoints: list[Path],
                    threads: int | None = None):
    if onnx_engine.resolve_engine(settings.engine, settings.device) == "onnx":
        try:
            return onnx_engine.OnnxSlicePredictor.from_models(
                onnx_models(model, checkpoints), settings.batch_size, settings.mirror,
                tuple(model.configuration.patch_size), model.configuration.context_slices,
                threads)
        except onnx_engine.ExportMismatch as err:
            if settings.engine != "auto":
                raise
            print(f"autosynth_predict: {err}; predicting with torch instead", file=sys.stderr)
    networks = engines.torch_networks()
    networks.use_threads(threads)
    nets = [networks.load_network(p, settings.device) for p in checkpoints]
    return networks.SlicePredictor.for_configuration(nets, model.configuration,
                                                     settings.device, settings.batch_size,
                                                     settings.mirror)


def _load_members(models: list[TrainedModel], settings: PredictionSettings,
                  checkpoints: list[list[Path]], threads: int | None = None) -> list[Member]:
    members = []
    for model, files in zip(models, checkpoints):
        predictor = _load_predictor(model, settings, files, threads)
        members.append(Member(model, predictor,
                              predictor.single_passes() if settings.save_std else []))
    return members


def _init_worker(model_folders: list[str], settings: PredictionSettings,
                 checkpoints: list[list[Path]], target_scale: dict | None, threads: int,
                 parent_pid: int) -> None:
    die_with_parent(parent_pid)
    models = [TrainedModel.load(folder) for folder in model_folders]
    _WORKER.update(models=models, members=_load_members(models, settings, checkpoints, threads),
                   target_scale=target_scale, settings=settings)


PREDICTED, DONE, ELSEWHERE, FAILED = "predicted", "done", "elsewhere", "failed"


@dataclass
class _Tally:
    """What became of the cases a run tried."""

    timings: dict[str, CaseTimings] = field(default_factory=dict)  # predicted here
    failed: dict[str, str] = field(default_factory=dict)            # case id -> message
    done: int = 0       # finished by another run after this one started (with resume)
    elsewhere: int = 0  # locked by another live run


def _prepare(job: tuple[InputCase, Path, bool, Path | None]) -> PreparedCase | None:
    """Read and preprocess a case ahead of its turn (None: already done, with resume)."""
    case, output, resume, _ = job
    if resume and output.is_file():
        return None
    return prepare_case(case, _WORKER["models"], _WORKER["settings"].force_derived_mask)


def _predict_in_worker(job: tuple[InputCase, Path, bool, Path | None],
                       prepared: Future | None = None
                       ) -> tuple[str, str, CaseTimings | None, str]:
    """(case id, outcome, timings, error message); errors travel back as text.

    The case is claimed first: one held by another run is left to it (ELSEWHERE), and with
    ``resume`` one finished meanwhile by another run is not redone (DONE). ``prepared`` is the
    case already being read by :func:`_read_ahead`'s thread, if any.
    """
    case, output, resume, std_output = job
    lock = claim(output)
    if lock is None:
        return case.case_id, ELSEWHERE, None, ""
    try:
        if resume and output.is_file():
            return case.case_id, DONE, None, ""
        ready = prepared.result() if prepared is not None else _prepare(job)
        return case.case_id, PREDICTED, finish_case(
            ready, _WORKER["members"], output, _WORKER["target_scale"], std_output), ""
    except PredictionError as err:
        return case.case_id, FAILED, None, str(err)
    finally:
        lock.release()


def _read_ahead(todo: list, models: list[TrainedModel], settings: PredictionSettings,
                checkpoints: list[list[Path]]
                ) -> Iterator[tuple[str, str, CaseTimings | None, str]]:
    """Load the networks and predict ``todo`` in order while one thread reads and
    preprocesses the next case (the network releases the GIL), so reading waits neither for
    the network nor, for the first case, for the sessions' loading and warm-up."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as reader:
        ahead = reader.submit(_prepare, todo[0])
        _WORKER["members"] = _load_members(models, settings, checkpoints)
        for index, job in enumerate(todo):
            current = ahead
            ahead = reader.submit(_prepare, todo[index + 1]) if index + 1 < len(todo) else None
            yield _predict_in_worker(job, current)


# ---------------------------------------------------------------------------- the cohort
def _report_to_stderr(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def predict_cohort(cases: list[InputCase], model: TrainedModel | list[TrainedModel],
                   output_folder: str | Path,
                   settings: PredictionSettings, num_processes: int = 1, resume: bool = False,
                   progress: bool = True,
                   report: Callable[[str], None] = _report_to_stderr) -> dict:
    """Predict ``cases`` into ``output_folder``; returns counts and per-case timings.

    With ``resume``, cases whose output exists are skipped (outputs are written atomically, so
    an existing file is complete). A failing case is passed to ``report`` (one line) and the
    others go on; :class:`CasesFailedError` is raised at the end if any failed. Several
    models are averaged (each with its own preprocessing); ``settings.folds`` applies to each.
    """
    models = [model] if isinstance(model, TrainedModel) else list(model)
    if not models:
        raise PredictionError("no model to predict with")
    output_folder = Path(output_folder)
    _check_folders(cases, output_folder)
    checkpoints = [m.checkpoints(settings.folds, settings.checkpoint) for m in models]
    output_folder.mkdir(parents=True, exist_ok=True)
    _start_info(output_folder, prediction_info(models, settings, checkpoints), resume)
    ending = models[0].dataset_json.file_ending
    jobs = [(c, output_path(output_folder, c, ending), resume,
             std_path(output_folder, c, ending) if settings.save_std else None) for c in cases]
    todo = [job for job in jobs if not (resume and job[1].is_file())]
    target_scale = _target_scale(models) if settings.denormalize else None
    tally = _Tally()
    bar = tqdm(total=len(todo), desc="predict", unit="case", disable=not progress)
    workers = max(1, min(num_processes, len(todo)))
    try:
        if not todo:
            pass
        elif workers == 1:
            _WORKER.update(models=models, target_scale=target_scale, settings=settings)
            _collect(_read_ahead(todo, models, settings, checkpoints), tally, bar, report)
        else:
            threads = max(1, (os.cpu_count() or 1) // workers)
            if onnx_engine.resolve_engine(settings.engine, settings.device) == "onnx":
                try:
                    for member, files in zip(models, checkpoints):  # export once, not per worker
                        onnx_models(member, files)
                except onnx_engine.ExportMismatch as err:
                    if settings.engine != "auto":
                        raise
                    print(f"autosynth_predict: {err}; predicting with torch instead",
                          file=sys.stderr)
                    settings = dataclasses.replace(settings, engine="torch")
            context = multiprocessing.get_context("spawn")  # no forked OpenMP state
            with context.Pool(workers, _init_worker, ([str(m.folder) for m in models], settings,
                                                      checkpoints, target_scale, threads,
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


def _target_scale(models: list[TrainedModel]) -> dict:
    """The denormalisation of the (first) model; every member of an ensemble must agree."""
    scales = []
    for model in models:
        reference = intensity_reference(model.folder, model.dataset_name)
        scales.append(denormalization_parameters(
            reference, model.target, model.configuration.normalization[model.target]))
    for model, scale in zip(models[1:], scales[1:]):
        if scale != scales[0]:
            raise PredictionError(f"{model.folder}: its --denormalize scale {scale} differs "
                                  f"from {models[0].folder}'s {scales[0]}")
    return scales[0]
