"""A trained model folder: find it, read its own plan and dataset.json, check its folds.

Layout (written by the trainer): ``results/DatasetXXX/<Trainer>__<plans>__<config>/
<SRC>_to_<TGT>/`` with ``plans.json``, ``dataset.json`` and ``fold_k/checkpoint_*.pth``. The
copies of the plan and dataset.json in the folder are what prediction uses, so a model folder
copied to another machine predicts exactly as it did where it was trained.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autosynth.dataset.dataset_json import DatasetJson, DatasetJsonError
from autosynth.experiment_planning.plans import ConfigurationPlan, Plans, PlansError
from autosynth.inference.errors import PredictionError

CHECKPOINTS = ("best", "final", "latest")
TRANSLATION_SEPARATOR = "_to_"


def checkpoint_file(checkpoint: str) -> str:
    """``best`` -> ``checkpoint_best.pth``."""
    if checkpoint not in CHECKPOINTS:
        raise PredictionError(f"unknown checkpoint '{checkpoint}'; choose one of "
                              f"{', '.join(CHECKPOINTS)}")
    return f"checkpoint_{checkpoint}.pth"


def parse_translation(name: str) -> tuple[list[str], str]:
    """``T1+T2_to_FLAIR`` -> (['T1', 'T2'], 'FLAIR')."""
    if TRANSLATION_SEPARATOR not in name:
        raise PredictionError(f"'{name}' is not a translation folder name like T1_to_FLAIR")
    sources, target = name.rsplit(TRANSLATION_SEPARATOR, 1)
    return sources.split("+"), target


def parse_run_name(name: str) -> tuple[str, str, str]:
    """``SynthesisTrainer__autosynthPlans__2d`` -> (trainer, plans, configuration)."""
    parts = name.split("__")
    if len(parts) != 3 or not all(parts):
        raise PredictionError(f"'{name}' is not a run folder name like "
                              "SynthesisTrainer__autosynthPlans__2d")
    return parts[0], parts[1], parts[2]


@dataclass
class TrainedModel:
    """What prediction needs to know about a model folder, read from the folder alone."""

    folder: Path
    trainer: str
    plans_name: str
    configuration_name: str
    plans: Plans
    configuration: ConfigurationPlan
    dataset_json: DatasetJson
    sources: list[str]
    target: str

    @property
    def dataset_name(self) -> str:
        return self.folder.parent.parent.name

    @classmethod
    def load(cls, folder: str | Path) -> "TrainedModel":
        folder = Path(folder).expanduser().resolve()
        if not folder.is_dir():
            raise PredictionError(f"{folder}: model folder not found")
        sources, target = parse_translation(folder.name)
        trainer, plans_name, configuration = parse_run_name(folder.parent.name)
        try:
            plans = Plans.load(folder / "plans.json")
            config = plans.configuration(configuration)
            dataset_json = DatasetJson.load(folder / "dataset.json")
        except (PlansError, DatasetJsonError) as err:
            raise PredictionError(f"model folder {folder}: {err}") from None
        for contrast in [*sources, target]:
            if contrast not in config.normalization:
                raise PredictionError(f"{folder / 'plans.json'}: configuration "
                                      f"'{configuration}' has no normalisation for '{contrast}'")
        return cls(folder, trainer, plans_name, configuration, plans, config, dataset_json,
                   sources, target)

    # ------------------------------------------------------------------ folds
    def available_folds(self, checkpoint: str = "best") -> list[str]:
        """Fold names (``0``-``4``, ``all``) whose folder holds the checkpoint, sorted."""
        name = checkpoint_file(checkpoint)
        folds = [p.name[len("fold_"):] for p in self.folder.glob("fold_*")
                 if (p / name).is_file()]
        return sorted(folds, key=lambda f: (not f.isdigit(), int(f) if f.isdigit() else 0, f))

    def checkpoints(self, folds: list[str] | None, checkpoint: str = "best") -> list[Path]:
        """The checkpoint file of each requested fold (all available ones when ``folds`` is
        None); a missing one is an error naming what does exist."""
        available = self.available_folds(checkpoint)
        wanted = available if folds is None else [str(f) for f in folds]
        missing = [f for f in wanted if f not in available]
        if missing or not wanted:
            have = ", ".join(available) or "none"
            raise PredictionError(
                f"{self.folder}: no {checkpoint_file(checkpoint)} for fold(s) "
                f"{', '.join(missing) or '(any)'}; folds with that checkpoint: {have}")
        return [self.folder / f"fold_{f}" / checkpoint_file(checkpoint) for f in wanted]

    def describe(self) -> str:
        return (f"{'+'.join(self.sources)} -> {self.target} ({self.trainer}, "
                f"{self.configuration_name}, {self.dataset_name})")


def find_model_folder(dataset: str | int, sources: list[str], target: str,
                      configuration: str = "2d", trainer: str = "SynthesisTrainer",
                      plans_name: str = "autosynthPlans") -> Path:
    """The model folder of a translation, or an error listing the trained ones."""
    from autosynth.paths import DatasetNotFoundError
    from autosynth.training.context import model_folder

    try:
        folder = model_folder(str(dataset), trainer, plans_name, configuration, sources, target)
    except DatasetNotFoundError as err:
        raise PredictionError(str(err)) from None
    if folder.is_dir():
        return folder
    trained = [f"{m.parent.name}/{m.name}" for m in trained_model_folders(folder.parent.parent)]
    raise PredictionError(f"{folder}: no trained model there; trained models of this dataset: "
                          f"{', '.join(trained) or 'none'}")


def trained_model_folders(results_dataset_folder: str | Path) -> list[Path]:
    """Every ``<run>/<SRC>_to_<TGT>`` folder under a dataset's results that holds a plan."""
    root = Path(results_dataset_folder)
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.glob(f"*__*__*/*{TRANSLATION_SEPARATOR}*/plans.json"))
