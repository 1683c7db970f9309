"""The results folder layout: every name in it is built, parsed and found here, and only here.

```
$AUTOSYNTH_RESULTS/DatasetXXX_Name/
  <Trainer>__<plans>__<configuration>/          a run (e.g. SynthesisTrainer__autosynthPlans__2d)
    <SRC>[+<SRC>...]_to_<TGT>/                  a translation: the model folder
      plans.json, dataset.json                  copies, so the folder is self-contained
      fold_<k>/checkpoint_{best,final,latest}.pth
      fold_<k>/validation/                      the fold's validation cases predicted from the
                                                raw files (original space) + summary.json
      fold_<k>/validation_preprocessed/         the same cases scored in the preprocessed space
      crossval_results/summary.json             all folds' validation cases scored together
  find_best/<SRC>_to_<TGT>/                     autosynth_find_best_configuration: ranking,
                                                ensembles/, inference_information.json, ...md
  ablation/<SRC>_to_<TGT>__<configuration>__fold<k>/   (autosynth_ablation --variants)
  ablation/<study name>/                              (autosynth_ablation --study)
  segmenter/<SegTrainer>__<plans>__<configuration>/   (autosynth_train_segmenter)
    segmenter_plan.json, dataset.json
    fold_<k>/checkpoint_{best,final,latest}.pth
  <run>/<SRC>_to_<TGT>/segmentation_utility/          (autosynth_segmentation_utility)
```

The trainer writes this layout and prediction, testing and the ablation read it, so a change of
layout is a change of this module alone.
"""
from __future__ import annotations

from pathlib import Path

from autosynth.dataset.dataset_json import DATASET_JSON_FILE
from autosynth.experiment_planning.plans import PLANS_FILE, PLANS_NAME
from autosynth.experiment_planning.segmenter_plan import SEGMENTER_PLAN_FILE  # noqa: F401 (re-exported)
from autosynth.paths import DatasetNotFoundError, find_dataset_name, results_root

RUN_SEPARATOR = "__"
TRANSLATION_SEPARATOR = "_to_"
SOURCE_SEPARATOR = "+"
FOLD_PREFIX = "fold_"
CHECKPOINTS = ("best", "final", "latest")
MODEL_PLANS_FILE = PLANS_FILE          # copies of the plan and dataset.json in a model folder
MODEL_DATASET_FILE = DATASET_JSON_FILE
ABLATION_FOLDER = "ablation"
DEFAULT_TRAINER = "SynthesisTrainer"
VALIDATION_FOLDER = "validation"                       # per fold, original space
TEST_SET_FOLDER = "test_set"  # <model folder>/test_set: the held-out predictions, scores, figures
PREPROCESSED_VALIDATION_FOLDER = "validation_preprocessed"
CROSSVAL_FOLDER = "crossval_results"                   # per model folder, all folds pooled
FIND_BEST_FOLDER = "find_best"
INFERENCE_INFORMATION_FILE = "inference_information.json"
INFERENCE_INSTRUCTIONS_FILE = "inference_instructions.md"
SEGMENTER_FOLDER = "segmenter"
SEGMENTER_TRAINER = "SegmentationTrainer"
UTILITY_FOLDER = "segmentation_utility"


class ResultsLayoutError(ValueError):
    """A folder or checkpoint name that does not follow the layout; the message says which."""


# --------------------------------------------------------------------------- names
def translation_name(sources: list[str], target: str) -> str:
    """``T1_to_FLAIR``; several sources are joined with '+': ``T1+T2_to_FLAIR``."""
    return f"{SOURCE_SEPARATOR.join(sources)}{TRANSLATION_SEPARATOR}{target}"


def parse_translation(name: str) -> tuple[list[str], str]:
    """``T1+T2_to_FLAIR`` -> (['T1', 'T2'], 'FLAIR')."""
    if TRANSLATION_SEPARATOR not in name:
        raise ResultsLayoutError(f"'{name}' is not a translation folder name like T1_to_FLAIR")
    sources, target = name.rsplit(TRANSLATION_SEPARATOR, 1)
    return sources.split(SOURCE_SEPARATOR), target


def run_name(trainer: str, plans: str, configuration: str) -> str:
    """``SynthesisTrainer__autosynthPlans__2d``."""
    return RUN_SEPARATOR.join((trainer, plans, configuration))


def parse_run_name(name: str) -> tuple[str, str, str]:
    """``SynthesisTrainer__autosynthPlans__2d`` -> (trainer, plans, configuration)."""
    parts = name.split(RUN_SEPARATOR)
    if len(parts) != 3 or not all(parts):
        raise ResultsLayoutError(f"'{name}' is not a run folder name like "
                                 f"{run_name(DEFAULT_TRAINER, 'autosynthPlans', '2d')}")
    return parts[0], parts[1], parts[2]


def folder_name_of(fold: int | str) -> str:
    """``fold_0`` ... ``fold_4``, ``fold_all``."""
    return f"{FOLD_PREFIX}{fold}"


def parse_fold(folder_name: str) -> str | None:
    """``fold_3`` -> ``3``; None for a name that is not a fold folder."""
    return folder_name[len(FOLD_PREFIX):] if folder_name.startswith(FOLD_PREFIX) else None


def checkpoint_name(checkpoint: str) -> str:
    """``best`` -> ``checkpoint_best.pth``."""
    if checkpoint not in CHECKPOINTS:
        raise ResultsLayoutError(f"unknown checkpoint '{checkpoint}'; choose one of "
                                 f"{', '.join(CHECKPOINTS)}")
    return f"checkpoint_{checkpoint}.pth"


CHECKPOINT_GLOB = "checkpoint_*.pth"


def sort_key_of_fold(fold: str) -> tuple:
    """Numbered folds first, in numeric order, then named ones (``all``)."""
    return (not fold.isdigit(), int(fold) if fold.isdigit() else 0, fold)


# --------------------------------------------------------------------------- paths
def model_folder(results_dataset_folder: Path, trainer: str, plans: str, configuration: str,
                 sources: list[str], target: str) -> Path:
    """``<results>/DatasetXXX/<Trainer>__<plans>__<config>/<SRC>_to_<TGT>``."""
    return (Path(results_dataset_folder) / run_name(trainer, plans, configuration)
            / translation_name(sources, target))


def folder_of_fold(model: Path, fold: int | str) -> Path:
    return Path(model) / folder_name_of(fold)


def checkpoint_path(model: Path, fold: int | str, checkpoint: str) -> Path:
    return folder_of_fold(model, fold) / checkpoint_name(checkpoint)


def available_folds(model: Path, checkpoint: str = "best") -> list[str]:
    """Fold names (``0``-``4``, ``all``) whose folder holds the checkpoint, sorted."""
    name = checkpoint_name(checkpoint)
    folds = [parse_fold(p.name) for p in Path(model).glob(f"{FOLD_PREFIX}*") if (p / name).is_file()]
    return sorted(folds, key=sort_key_of_fold)


def trained_model_folders(results_dataset_folder: str | Path) -> list[Path]:
    """Every ``<run>/<SRC>_to_<TGT>`` folder under a dataset's results that holds a plan."""
    root = Path(results_dataset_folder)
    if not root.is_dir():
        return []
    pattern = f"*{RUN_SEPARATOR}*{RUN_SEPARATOR}*/*{TRANSLATION_SEPARATOR}*/{MODEL_PLANS_FILE}"
    return sorted(p.parent for p in root.glob(pattern))


def find_model_folder(dataset: str | int | None, sources: list[str], target: str,
                      configuration: str = "2d", trainer: str = DEFAULT_TRAINER,
                      plans: str = PLANS_NAME) -> Path:
    """The model folder of a translation under ``$AUTOSYNTH_RESULTS``, or an error listing the
    trained ones. Without ``dataset``, the one dataset that has this model."""
    run = run_name(trainer, plans, configuration)
    translation = translation_name(sources, target)
    if dataset is None:
        found = sorted(p.parent.parent.name for p in results_root().glob(f"*/{run}/{translation}")
                       if p.is_dir())
        if len(found) != 1:
            raise ResultsLayoutError(f"give the dataset with -d: {len(found)} datasets in "
                                     f"{results_root()} have {run}/{translation} "
                                     f"({', '.join(found) or 'none'})")
        dataset = found[0]
    try:
        dataset_folder = results_root() / find_dataset_name(dataset)
    except DatasetNotFoundError as err:
        raise ResultsLayoutError(str(err)) from None
    folder = model_folder(dataset_folder, trainer, plans, configuration, sources, target)
    if folder.is_dir():
        return folder
    trained = [f"{m.parent.name}/{m.name}" for m in trained_model_folders(dataset_folder)]
    raise ResultsLayoutError(f"{folder}: no trained model there; trained models of this "
                             f"dataset: {', '.join(trained) or 'none'}")


def validation_folder(model: Path, fold: int | str) -> Path:
    """``fold_k/validation``: the fold's validation predictions in the original space."""
    return folder_of_fold(model, fold) / VALIDATION_FOLDER


def find_best_folder(results_dataset_folder: Path, sources: list[str], target: str) -> Path:
    """Where ``autosynth_find_best_configuration`` writes its answer for one translation."""
    return (Path(results_dataset_folder) / FIND_BEST_FOLDER
            / translation_name(sources, target))


def study_folder(results_dataset_folder: Path, study: str) -> Path:
    """Where ``autosynth_ablation --study`` writes the table of a named study."""
    return Path(results_dataset_folder) / ABLATION_FOLDER / study


def ablation_folder(results_dataset_folder: Path, sources: list[str], target: str,
                    configuration: str, fold: int | str) -> Path:
    """Where ``autosynth_ablation`` writes its comparison of one translation and fold."""
    return (Path(results_dataset_folder) / ABLATION_FOLDER
            / f"{translation_name(sources, target)}{RUN_SEPARATOR}{configuration}"
              f"{RUN_SEPARATOR}fold{fold}")


def segmenter_folder(results_dataset_folder: Path, configuration: str,
                     plans: str = PLANS_NAME, trainer: str = SEGMENTER_TRAINER) -> Path:
    """``<results>/DatasetXXX/segmenter/SegmentationTrainer__<plans>__<config>``: the tumour
    segmenter of the utility measurement (outside the ``<run>/<translation>`` pattern, so it is
    never taken for a synthesis model)."""
    return Path(results_dataset_folder) / SEGMENTER_FOLDER / run_name(trainer, plans,
                                                                      configuration)


def utility_folder(model: Path) -> Path:
    """Where ``autosynth_segmentation_utility`` writes a synthesis model's utility."""
    return Path(model) / UTILITY_FOLDER
