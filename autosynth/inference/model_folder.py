"""A trained model folder: find it, read its own plan and dataset.json, check its folds.

Layout: see :mod:`autosynth.results_layout` (written by the trainer). The
copies of the plan and dataset.json in the folder are what prediction uses, so a model folder
copied to another machine predicts exactly as it did where it was trained.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autosynth import results_layout as layout
from autosynth.dataset.dataset_json import DatasetJson, DatasetJsonError
from autosynth.experiment_planning.plans import ConfigurationPlan, Plans, PlansError
from autosynth.inference.errors import PredictionError


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
        try:
            sources, target = layout.parse_translation(folder.name)
            trainer, plans_name, configuration = layout.parse_run_name(folder.parent.name)
            plans = Plans.load(folder / layout.MODEL_PLANS_FILE)
            config = plans.configuration(configuration)
            dataset_json = DatasetJson.load(folder / layout.MODEL_DATASET_FILE)
        except (layout.ResultsLayoutError, PlansError, DatasetJsonError) as err:
            raise PredictionError(f"model folder {folder}: {err}") from None
        for contrast in [*sources, target]:
            if contrast not in config.normalization:
                raise PredictionError(f"{folder / layout.MODEL_PLANS_FILE}: configuration "
                                      f"'{configuration}' has no normalisation for '{contrast}'")
        return cls(folder, trainer, plans_name, configuration, plans, config, dataset_json,
                   sources, target)

    # ------------------------------------------------------------------ folds
    def available_folds(self, checkpoint: str = "best") -> list[str]:
        """Fold names (``0``-``4``, ``all``) whose folder holds the checkpoint, sorted."""
        try:
            return layout.available_folds(self.folder, checkpoint)
        except layout.ResultsLayoutError as err:
            raise PredictionError(str(err)) from None

    def checkpoints(self, folds: list[str] | None, checkpoint: str = "best") -> list[Path]:
        """The checkpoint file of each requested fold (all available ones when ``folds`` is
        None); a missing one is an error naming what does exist."""
        available = self.available_folds(checkpoint)
        wanted = available if folds is None else [str(f) for f in folds]
        missing = [f for f in wanted if f not in available]
        if missing or not wanted:
            have = ", ".join(available) or "none"
            raise PredictionError(
                f"{self.folder}: no {layout.checkpoint_name(checkpoint)} for fold(s) "
                f"{', '.join(missing) or '(any)'}; folds with that checkpoint: {have}")
        return [layout.checkpoint_path(self.folder, f, checkpoint) for f in wanted]

    def describe(self) -> str:
        return (f"{'+'.join(self.sources)} -> {self.target} ({self.trainer}, "
                f"{self.configuration_name}, {self.dataset_name})")

