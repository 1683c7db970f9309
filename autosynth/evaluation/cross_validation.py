"""Cross-validation in the original space: each fold's validation cases predicted from the raw
files and scored, and all folds pooled.

A fold's model predicts its own validation cases (``splits.json``) from ``$AUTOSYNTH_RAW``
exactly as ``autosynth_predict -f k`` would (the held-out test's code path,
``held_out.evaluate_translation``), into ``fold_k/validation/`` with ``summary.json``. The
pooled ``crossval_results/summary.json`` of a model folder gathers every fold's per-case
scores, so each development case is scored once, by the model that did not train on it; it
is what ``autosynth_find_best_configuration`` ranks.
"""
from __future__ import annotations

from pathlib import Path

from autosynth import results_layout as layout
from autosynth.dataset.cases import CaseFiles, discover_cases
from autosynth.dataset.dataset_json import DatasetJson, DatasetJsonError
from autosynth.evaluation.errors import EvaluationError
from autosynth.evaluation.evaluator import write_summary
from autosynth.evaluation.held_out import brain_masks, evaluate_translation
from autosynth.evaluation.reference_scale import ReferenceScale
from autosynth.experiment_planning.splits import SplitsError, load_splits
from autosynth.inference import PredictionSettings, TrainedModel
from autosynth.paths import preprocessed_root, raw_root, results_root
from autosynth.utils.files import read_json

MASKS_FOLDER = "crossval_masks"   # derived brain masks, shared by every model of a dataset


def fold_validation_cases(dataset: str, fold: str) -> list[str]:
    """The validation cases of a numbered fold, from the preprocessed ``splits.json``."""
    if not str(fold).isdigit():
        raise EvaluationError(f"fold {fold} has no held-out validation cases (it trains on "
                              "every development case)")
    try:
        return sorted(load_splits(preprocessed_root() / dataset).cases_of_fold(fold)[1])
    except SplitsError as err:
        raise EvaluationError(str(err)) from None


def raw_cases(dataset: str, case_ids: list[str]) -> tuple[DatasetJson, list[CaseFiles]]:
    """The raw files of ``case_ids`` (an error naming the missing ones)."""
    folder = raw_root() / dataset
    try:
        dataset_json = DatasetJson.load(folder)
    except DatasetJsonError as err:
        raise EvaluationError(f"{err}; validation in the original space predicts the raw "
                              "images") from None
    found = {c.case_id: c for c in discover_cases(folder, dataset_json, "Tr")}
    missing = [c for c in case_ids if c not in found]
    if missing:
        raise EvaluationError(f"{folder / 'imagesTr'}: validation case(s) "
                              f"{', '.join(missing)} not found")
    return dataset_json, [found[c] for c in case_ids]


def validate_fold_original_space(model_folder: Path, fold: str, checkpoint: str = "best",
                                 device: str = "cpu", num_processes: int = 1,
                                 progress: bool = False) -> dict:
    """Predict and score one fold's validation cases; returns ``validation/summary.json``."""
    model = TrainedModel.load(model_folder)
    fold = str(fold)
    dataset = model.dataset_name
    cases = fold_validation_cases(dataset, fold)
    dataset_json, files = raw_cases(dataset, cases)
    masks = brain_masks(files, results_root() / dataset / MASKS_FOLDER)
    settings = PredictionSettings(folds=[fold], checkpoint=checkpoint, device=device)
    folder = layout.validation_folder(model.folder, fold)
    evaluate_translation(model, dataset_json, files, masks, settings,
                         f"{model.describe()} fold {fold}", num_processes, figures=False,
                         progress=progress, folder=folder, title="Validation (original space)")
    return read_json(folder / "summary.json")


def fold_summary(model_folder: Path, fold: str) -> dict:
    """A fold's ``validation/summary.json``; a missing one says how to make it."""
    path = layout.validation_folder(model_folder, fold) / "summary.json"
    if not path.is_file():
        sources, target = layout.parse_translation(Path(model_folder).name)
        trainer, _, configuration = layout.parse_run_name(Path(model_folder).parent.name)
        have = layout.available_folds(model_folder, "best")
        raise EvaluationError(
            f"{path}: missing: fold {fold} of {Path(model_folder).parent.name} has no "
            f"validation in the original space (folds trained: {', '.join(have) or 'none'}); "
            f"train it, or run autosynth_train {','.join(sources)} {target} {fold} -c "
            f"{configuration} -tr {trainer} --val")
    return read_json(path)


def pooled_cross_validation(model: TrainedModel, folds: list[str]) -> dict:
    """Every fold's per-case scores in one ``crossval_results/summary.json`` (also returned)."""
    per_case: dict[str, dict[str, float]] = {}
    meta = []
    for fold in folds:
        summary = fold_summary(model.folder, fold)
        per_case.update(summary["cases"])
        meta.append({"fold": fold, "n_cases": summary["n_cases"],
                     "model": summary.get("model", {})})
    scale = ReferenceScale(model.configuration.normalization[model.target],
                           f"the model's plan ({model.configuration_name}, {model.target})")
    return write_summary(model.folder / layout.CROSSVAL_FOLDER, dict(sorted(per_case.items())),
                         scale, f"Cross-validation (original space): {model.describe()}",
                         {"folds": folds, "per_fold": meta})
