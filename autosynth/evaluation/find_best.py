"""Which model, or which ensemble of models, to use for a translation: chosen by
cross-validation in the original space, as nnU-Net chooses its configuration.

Candidates are every trained model folder of the translation (configuration x trainer) with
the original-space validation of every requested fold, and every ensemble of two or three of
them. A model's score is its pooled cross-validation (``crossval_results/summary.json``); an
ensemble's is that of the voxel-wise mean of its members' validation predictions
(``ensemble.average_predictions``, the arithmetic of ``autosynth_predict`` with several
models), scored on the same cases by the same evaluator.

Criterion: the highest mean in-brain PSNR of the corrected protocol (``psnr_brain``, the
paper's headline metric), compared at the 0.01 dB it is reported with; ties go to the
candidate with fewer members (cheaper to run), then the higher mean in-brain SSIM, then the
name.
"""
from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from autosynth import results_layout as layout
from autosynth.dataset.image_io import ImageIOError, read_image, write_image_like
from autosynth.evaluation.cross_validation import (MASKS_FOLDER, fold_validation_cases,
                                                   pooled_cross_validation, raw_cases)
from autosynth.evaluation.errors import EvaluationError
from autosynth.evaluation.evaluator import EvaluationCase, evaluate_cases, write_summary
from autosynth.evaluation.held_out import ModelSelection, brain_masks, select_models
from autosynth.evaluation.protocols import PROTOCOLS
from autosynth.evaluation.reference_scale import ReferenceScale
from autosynth.experiment_planning.splits import SplitsError, load_splits
from autosynth.inference import PredictionError, TrainedModel
from autosynth.inference.cohort import check_same_target_scale
from autosynth.inference.ensemble import average_predictions
from autosynth.inference.inference_information import ChosenModel, InferenceInformation
from autosynth.paths import preprocessed_root, results_root
from autosynth.utils.files import write_text_atomic

CRITERION = "psnr_brain"
CRITERION_DECIMALS = 2
TIE_BREAK = "ssim_brain"
REPORTED = ("psnr_brain", "ssim_brain", "mae_brain", "psnr", "ssim", "mae")
ENSEMBLES_FOLDER = "ensembles"
MAX_MEMBERS = 3
CRITERION_TEXT = (f"highest mean in-brain PSNR ({CRITERION}, corrected protocol) over the "
                  f"cross-validation cases, compared at {CRITERION_DECIMALS} decimals; ties: "
                  f"fewer members, then higher mean in-brain SSIM ({TIE_BREAK}), then the name")


def _report_to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


@dataclass
class Candidate:
    """A model or an ensemble with its cross-validation summary."""

    members: list[TrainedModel]
    summary: dict
    summary_file: Path

    @property
    def name(self) -> str:
        return " + ".join(m.folder.parent.name for m in self.members)

    def mean(self, key: str) -> float | None:
        value = self.summary.get("mean_sd", {}).get(key, {}).get("mean")
        return None if value is None or value != value else float(value)

    def sort_key(self) -> tuple:
        score = self.mean(CRITERION)
        tie = self.mean(TIE_BREAK)
        return (-(round(score, CRITERION_DECIMALS) if score is not None else float("-inf")),
                len(self.members), -(tie if tie is not None else float("-inf")), self.name)

    def row(self) -> dict:
        return {"name": self.name, "members": [m.folder.parent.name for m in self.members],
                **{key: self.mean(key) for key in REPORTED},
                "n_cases": self.summary.get("n_cases"), "summary": str(self.summary_file)}


def default_folds(dataset: str) -> list[str]:
    """Every fold of the dataset's split (0-4 when the split cannot be read)."""
    try:
        return [str(k) for k in range(len(load_splits(preprocessed_root() / dataset).folds))]
    except SplitsError:
        return [str(k) for k in range(5)]


def candidate_models(dataset: str, sources: list[str], target: str,
                     configurations: list[str] | None, trainers: list[str] | None,
                     folds: list[str], report: Callable[[str], None]) -> list[TrainedModel]:
    """Trained model folders of the translation (filtered), those lacking a fold's validation
    named and left out; an error when none is left."""
    results = results_root() / dataset
    models = [m for m in select_models(results, ModelSelection(sources, target))
              if (not configurations or m.configuration_name in configurations)
              and (not trainers or m.trainer in trainers)]
    complete, problems = [], []
    for model in models:
        missing = [f for f in folds if not (layout.validation_folder(model.folder, f)
                                            / "summary.json").is_file()]
        if missing:
            problems.append(f"{model.folder.parent.name}: no validation of fold(s) "
                            f"{', '.join(missing)} (train them, or autosynth_train "
                            f"{','.join(model.sources)} {model.target} FOLD -c "
                            f"{model.configuration_name} -tr {model.trainer} --val)")
            report(f"autosynth_find_best_configuration: left out {problems[-1]}")
        else:
            complete.append(model)
    if not complete:
        wanted = layout.translation_name(sources, target)
        raise EvaluationError(f"{results}: no model of {wanted} has the cross-validation of "
                              f"fold(s) {', '.join(folds)}" + (" (each model named above)"
                                                               if problems else
                                                               " (none trained)"))
    return complete


def ensemble_candidate(members: list[TrainedModel], folds: list[str], folder: Path,
                       num_processes: int = 1, progress: bool = False) -> Candidate:
    """Average the members' validation predictions case by case into ``folder`` and score
    them as the single models were scored."""
    try:
        check_same_target_scale(members)
    except PredictionError as err:
        raise EvaluationError(str(err)) from None
    first = members[0]
    dataset = first.dataset_name
    ending = first.dataset_json.file_ending
    cases: list[str] = []
    for fold in folds:
        for case in fold_validation_cases(dataset, fold):
            files = [layout.validation_folder(m.folder, fold) / f"{case}{ending}"
                     for m in members]
            arrays = []
            for path in files:
                if not path.is_file():
                    raise EvaluationError(f"{path}: missing; rerun autosynth_train ... {fold} "
                                          "--val for that model")
                try:
                    arrays.append(read_image(path)[0])
                except ImageIOError as err:
                    raise EvaluationError(str(err)) from None
            write_image_like(average_predictions(arrays), files[0], folder / f"{case}{ending}")
            cases.append(case)
    dataset_json, raw = raw_cases(dataset, sorted(cases))
    masks = brain_masks(raw, results_root() / dataset / MASKS_FOLDER)
    source = dataset_json.channel_index(first.sources[0])
    target = dataset_json.channel_index(first.target)
    pairs = [EvaluationCase(c.case_id, folder / f"{c.case_id}{ending}", c.channels[target],
                            masks[c.case_id], c.label, c.channels[source]) for c in raw]
    scale = ReferenceScale(first.configuration.normalization[first.target],
                           f"the members' plans ({first.target})")
    per_case = evaluate_cases(pairs, scale, first.configuration.slice_axis, None,
                              num_processes, progress, protocols=PROTOCOLS)
    name = " + ".join(m.folder.parent.name for m in members)
    summary = write_summary(folder, per_case, scale, f"Cross-validation of the ensemble {name}",
                            {"members": [str(m.folder) for m in members], "folds": folds})
    return Candidate(members, summary, folder / "summary.json")


def find_best(dataset: str, sources: list[str], target: str,
              configurations: list[str] | None = None, trainers: list[str] | None = None,
              folds: list[str] | None = None, ensembles: bool = True, num_processes: int = 1,
              progress: bool = False, report: Callable[[str], None] = _report_to_stderr
              ) -> InferenceInformation:
    """Rank every candidate, write the answer to ``find_best/<SRC>_to_<TGT>/``, return it."""
    folds = [str(f) for f in (folds or default_folds(dataset))]
    models = candidate_models(dataset, sources, target, configurations, trainers, folds, report)
    sources, target = models[0].sources, models[0].target
    out = layout.find_best_folder(results_root() / dataset, sources, target)
    candidates = [Candidate([m], pooled_cross_validation(m, folds),
                            m.folder / layout.CROSSVAL_FOLDER / "summary.json") for m in models]
    if ensembles:
        for size in range(2, min(MAX_MEMBERS, len(models)) + 1):
            for members in itertools.combinations(models, size):
                folder = out / ENSEMBLES_FOLDER / "--".join(m.folder.parent.name
                                                            for m in members)
                candidates.append(ensemble_candidate(list(members), folds, folder,
                                                     num_processes, progress))
    ranked = sorted(candidates, key=Candidate.sort_key)
    best = ranked[0]
    information = InferenceInformation(
        dataset, sources, target,
        [ChosenModel(m.trainer, m.plans_name, m.configuration_name) for m in best.members],
        folds, "best", False, CRITERION_TEXT,
        {key: best.mean(key) for key in REPORTED}, [c.row() for c in ranked])
    information.save(out / layout.INFERENCE_INFORMATION_FILE)
    write_text_atomic(out / layout.INFERENCE_INSTRUCTIONS_FILE, instructions(information))
    return information


def _number(value: float | None, decimals: int) -> str:
    return "n/a" if value is None else f"{value:.{decimals}f}"


def instructions(info: InferenceInformation) -> str:
    """``inference_instructions.md``: the choice, the command, the ranking, how to reproduce."""
    translation = layout.translation_name(info.sources, info.target)
    chosen = " + ".join(m.run for m in info.members)
    rows = [f"| {i + 1} | {r['name']} | {_number(r['psnr_brain'], 2)} | "
            f"{_number(r['ssim_brain'], 4)} | {_number(r['mae_brain'], 4)} | {r['n_cases']} |"
            for i, r in enumerate(info.ranking)]
    one_fold = info.predict_arguments("FOLD_k_VALIDATION_IMAGES", "OUT_k", folds=["k"])
    return "\n".join([
        f"# Inference instructions: {info.dataset}, {translation}", "",
        f"Chosen by cross-validation in the original space over fold(s) "
        f"{', '.join(info.folds)}: **{chosen}**.", "",
        f"Criterion: {info.criterion}.", "",
        "Predict a new cohort with:", "", "```",
        info.predict_command(), "```", "",
        f"or, equivalently, `autosynth_predict -i INPUT_FOLDER -o OUTPUT_FOLDER -d "
        f"{info.dataset} -s {','.join(info.sources)} -t {info.target} --best`. Give brain "
        "masks with `--masks DIR` when the images are not skull-stripped.", "",
        "## Ranking (mean over the cross-validation cases)", "",
        "| rank | model or ensemble | PSNR brain (dB) | SSIM brain | MAE brain | cases |",
        "|---|---|---|---|---|---|", *rows, "",
        "## Reproducing the numbers", "",
        "Each development case was predicted by the fold whose model did not train on it. For "
        "each fold k, predict that fold's validation cases (the `val` list of fold k in "
        "`splits_final.json`, with their masks) with `-f k`:", "", "```",
        "autosynth_predict " + " ".join(one_fold) + " --masks MASKS", "```", "",
        "and score all folds' outputs together with `autosynth_evaluate` (reference: the raw "
        "target images, `--masks`, `--labels`); the means are those of the first row.", ""])
