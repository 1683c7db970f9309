"""What one training run is about: dataset, configuration, fold, translation and folders.

Kept apart from the trainer so that the trainer reads as a training loop, and so that the
predictor can find a trained model's folder with the same rules.
"""
from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from autosynth import results_layout as layout
from autosynth.dataset.dataset_json import DatasetJson
from autosynth.experiment_planning.plans import PLANS_FILE, ConfigurationPlan, Plans
from autosynth.experiment_planning.splits import load_splits
from autosynth.paths import find_dataset_name, preprocessed_root, results_root
from autosynth.training.data_loading import SliceIndex
from autosynth.utils.files import atomic_path


def model_folder(dataset: str, trainer: str, plans: str, configuration: str,
                 sources: list[str], target: str) -> Path:
    """A translation's model folder under ``$AUTOSYNTH_RESULTS`` (see :mod:`results_layout`)."""
    return layout.model_folder(results_root() / find_dataset_name(dataset), trainer, plans,
                               configuration, sources, target)


def cuda_autocast_dtype() -> torch.dtype:
    """bf16 where the GPU computes it natively (Ampere and later), else fp16 (which needs a
    gradient scaler); emulated bf16 on older GPUs would be slow."""
    native_bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
    return torch.bfloat16 if native_bf16 else torch.float16


def memory_format(dimensions: int) -> torch.memory_format:
    """Channels-last for 2D and 3D networks (oneDNN's and cuDNN's fast layout)."""
    return torch.channels_last if dimensions == 2 else torch.channels_last_3d


@contextlib.contextmanager
def autocast(device: torch.device):
    """Mixed precision on CUDA; fp32 elsewhere (bf16 is about 9x slower on CPUs without AVX-512 BF16)."""
    if device.type == "cuda":
        with torch.autocast("cuda", dtype=cuda_autocast_dtype()):
            yield
    else:
        yield


def preprocessed_case_files(folder: Path, cases: list[str], dataset: str,
                            configuration: str) -> list[Path]:
    """``folder/CASE.npy`` of each case; a missing one names the command that makes it."""
    files = [folder / f"{case}.npy" for case in cases]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} preprocessed case(s) missing, e.g. {missing[0]}; run "
            f"autosynth_plan_and_preprocess -d {dataset} -c {configuration}")
    return files


def fold_slice_indices(folder: Path, train: list[str], val: list[str], dataset: str,
                       configuration: str) -> tuple[SliceIndex, SliceIndex]:
    """The slices of a fold's training and validation cases."""
    return tuple(SliceIndex.build(preprocessed_case_files(folder, cases, dataset,
                                                          configuration))
                 for cases in (train, val))


@dataclass
class TrainingRun:
    """One translation on one fold; built by :meth:`create` from user-facing names."""

    dataset_name: str
    plans_name: str
    configuration_name: str
    configuration: ConfigurationPlan
    plans_file: Path
    dataset_json: DatasetJson
    sources: list[str]
    target: str
    fold: int | str
    trainer_name: str
    train_cases: list[str]
    val_cases: list[str]
    contrasts: list[str]

    @property
    def source_channels(self) -> list[int]:
        """Positions in the preprocessed arrays, whose channels follow ``plans.contrasts``."""
        return [self.contrasts.index(s) for s in self.sources]

    @property
    def target_channel(self) -> int:
        return self.contrasts.index(self.target)

    @property
    def preprocessed_folder(self) -> Path:
        return preprocessed_root() / self.dataset_name / self.configuration.data_folder

    @property
    def model_folder(self) -> Path:
        return model_folder(self.dataset_name, self.trainer_name, self.plans_name,
                            self.configuration_name, self.sources, self.target)

    @property
    def output_folder(self) -> Path:
        return layout.folder_of_fold(self.model_folder, self.fold)

    @classmethod
    def create(cls, dataset: str | int, configuration: str, fold: int | str,
               sources: list[str], target: str, trainer_name: str = layout.DEFAULT_TRAINER
               ) -> "TrainingRun":
        """Resolve names, read plans, dataset.json and splits, and check the translation."""
        name = find_dataset_name(dataset)
        folder = preprocessed_root() / name
        plans_file = folder / PLANS_FILE
        plans = Plans.load(plans_file)
        config = plans.configuration(configuration)
        dataset_json = DatasetJson.load(folder)
        for contrast in [*sources, target]:
            dataset_json.channel_index(contrast)  # raises naming the known contrasts
        if target in sources:
            raise ValueError(f"the target {target} is also a source ({', '.join(sources)})")
        train, val = load_splits(folder).cases_of_fold(fold)
        return cls(name, plans.plans_name, configuration, config, plans_file, dataset_json,
                   [dataset_json.channel_names[dataset_json.channel_index(s)] for s in sources],
                   dataset_json.channel_names[dataset_json.channel_index(target)],
                   fold if str(fold) == "all" else int(fold), trainer_name, list(train),
                   list(val), list(plans.contrasts))

    def describe(self) -> str:
        return (f"{layout.translation_name(self.sources, self.target)} {self.dataset_name} "
                f"{self.configuration_name} fold {self.fold} ({self.trainer_name})")

    def slice_indices(self) -> tuple[SliceIndex, SliceIndex]:
        return fold_slice_indices(self.preprocessed_folder, self.train_cases, self.val_cases,
                                  self.dataset_name, self.configuration_name)

    def write_reference_files(self) -> None:
        """The plan and dataset.json next to the folds: a model folder is self-contained."""
        self.model_folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.model_folder / layout.MODEL_PLANS_FILE) as tmp:
            shutil.copyfile(self.plans_file, tmp)
        self.dataset_json.save(self.model_folder / layout.MODEL_DATASET_FILE)
