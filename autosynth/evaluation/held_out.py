"""The held-out test of a dataset: every trained translation predicted and scored on the
``test`` cases of the dataset's split, in the original space, in one table.

Each translation's model predicts the raw test images (``imagesTr``) exactly as
``autosynth_predict`` would; its predictions are scored against the raw target image normalised
with the model's own plan, inside the raw brain mask (``masksTr``, or derived from all contrasts
as the preprocessing derives it) and with the raw labels. Rows of the final table are
:class:`~autosynth.evaluation.summary.Row` objects, so baselines can be added as more rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autosynth.dataset.cases import CaseFiles, discover_cases
from autosynth.dataset.dataset_json import DatasetJson
from autosynth.dataset.image_io import write_image_like
from autosynth.evaluation.errors import EvaluationError
from autosynth.evaluation.evaluator import EvaluationCase, evaluate_cases, write_summary
from autosynth.evaluation.protocols import PROTOCOLS
from autosynth.evaluation.reference_scale import ReferenceScale
from autosynth.evaluation.summary import Row
from autosynth.inference import InputCase, PredictionSettings, TrainedModel, predict_cohort
from autosynth.experiment_planning.splits import SPLITS_FILE, SplitsError, load_splits
from autosynth.results_layout import TEST_SET_FOLDER, trained_model_folders
from autosynth.utils.files import read_json
from autosynth.dataset.case_io import CaseReadError, load_case_with_mask


@dataclass
class ModelSelection:
    """Which trained models to test (None: any)."""

    sources: list[str] | None = None
    target: str | None = None
    configuration: str | None = None
    trainer: str | None = None

    def accepts(self, model: TrainedModel) -> bool:
        def same(a: list[str], b: list[str]) -> bool:
            return [x.lower() for x in a] == [x.lower() for x in b]

        return ((self.sources is None or same(self.sources, model.sources))
                and (self.target is None or same([self.target], [model.target]))
                and (self.configuration in (None, model.configuration_name))
                and (self.trainer in (None, model.trainer)))


def select_models(results_folder: Path, selection: ModelSelection) -> list[TrainedModel]:
    models = [TrainedModel.load(f) for f in trained_model_folders(results_folder)]
    chosen = [m for m in models if selection.accepts(m)]
    if not chosen:
        have = ", ".join(f"{m.folder.parent.name}/{m.folder.name}" for m in models) or "none"
        raise EvaluationError(f"{results_folder}: no trained model matches the selection; "
                              f"trained: {have}")
    return chosen


def held_out_cases(raw_folder: Path, preprocessed_folder: Path
                   ) -> tuple[DatasetJson, list[CaseFiles]]:
    """The raw files of the split's test cases (an error when there is no test set)."""
    try:
        splits = load_splits(preprocessed_folder)
    except SplitsError as err:
        raise EvaluationError(str(err)) from None
    wanted = splits.test
    if not wanted:
        raise EvaluationError(f"{splits.file}: no 'test' cases (a held-out test set is made "
                              f"by autosynth_plan, or listed in your own {SPLITS_FILE})")
    dataset_json = DatasetJson.load(raw_folder)
    cases = {c.case_id: c for c in discover_cases(raw_folder, dataset_json, "Tr")}
    missing = [c for c in wanted if c not in cases]
    if missing:
        raise EvaluationError(f"{raw_folder / 'imagesTr'}: test case(s) {', '.join(missing)} "
                              f"of {splits.file} not found")
    return dataset_json, [cases[c] for c in sorted(wanted)]


def brain_masks(cases: list[CaseFiles], folder: Path) -> dict[str, Path]:
    """Each case's mask file: ``masksTr``'s, or one derived from all contrasts (as the
    preprocessing does) and written to ``folder``, so prediction and scoring share it."""

    masks = {}
    for case in cases:
        if case.mask is not None:
            masks[case.case_id] = case.mask
            continue
        path = folder / f"{case.case_id}.nii.gz"
        if not path.is_file():
            try:
                _, mask, _, _ = load_case_with_mask(case, sorted(case.channels))
            except CaseReadError as err:
                raise EvaluationError(str(err)) from None
            write_image_like(mask.astype(np.uint8), case.channels[min(case.channels)], path,
                             dtype=np.uint8)
        masks[case.case_id] = path
    return masks


def row_name(model: TrainedModel, models: list[TrainedModel]) -> str:
    name = f"{'+'.join(model.sources)} → {model.target}"
    runs = {(m.trainer, m.configuration_name) for m in models}
    return name if len(runs) == 1 else f"{name} ({model.trainer}, {model.configuration_name})"


def evaluate_translation(model: TrainedModel, dataset_json: DatasetJson,
                         cases: list[CaseFiles], masks: dict[str, Path],
                         settings: PredictionSettings, name: str, num_processes: int = 1,
                         resume: bool = False, figures: bool = True,
                         progress: bool = True, folder: Path | None = None,
                         title: str = "Test set") -> Row:
    """Predict and score one translation on the test cases under every protocol; its files
    go to ``folder`` (default ``<model folder>/test_set/``: predictions, summary.json/.md,
    figures/). Cross-validation scores each fold's validation cases the same way."""
    source_channels = [dataset_json.channel_index(s) for s in model.sources]
    target_channel = dataset_json.channel_index(model.target)
    for case in cases:
        for channel in [*source_channels, target_channel]:
            if channel not in case.channels:
                raise EvaluationError(f"test case {case.case_id} has no image for channel "
                                      f"{channel:04d} ({dataset_json.channel_names[channel]})")
    inputs = [InputCase(c.case_id, tuple(c.channels[k] for k in source_channels),
                        masks[c.case_id]) for c in cases]
    folder = model.folder / TEST_SET_FOLDER if folder is None else Path(folder)
    predict_cohort(inputs, model, folder, settings, num_processes, resume, progress)
    ending = model.dataset_json.file_ending
    pairs = [EvaluationCase(c.case_id, folder / f"{c.case_id}{ending}",
                            c.channels[target_channel], masks[c.case_id], c.label,
                            c.channels[source_channels[0]]) for c in cases]
    scale = ReferenceScale(model.configuration.normalization[model.target],
                           f"the model's plan ({model.configuration_name}, {model.target})")
    per_case = evaluate_cases(pairs, scale, model.configuration.slice_axis,
                              folder / "figures" if figures else None, num_processes, progress,
                              title=name, protocols=PROTOCOLS)
    info = read_json(folder / "prediction_info.json")["model"]
    write_summary(folder, per_case, scale, f"{title}: {name}", {"model": info})
    return Row(name, per_case, {"model": info, "summary": str(folder / "summary.json")})
