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

from autosynth.dataset.dataset_json import DatasetJson
from autosynth.paths import find_dataset_name, preprocessed_root, results_root
from autosynth.training.data_loading import SliceIndex
from autosynth.utils.files import atomic_path

def translation_name(sources: list[str], target: str) -> str:
    """``T1_to_FLAIR``; several sources are joined with '+': ``T1+T2_to_FLAIR``."""
    return f"{'+'.join(sources)}_to_{target}"


def model_folder(dataset: str, trainer: str, plans: str, configuration: str,
                 sources: list[str], target: str) -> Path:
    """``results/DatasetXXX/<Trainer>__<plans>__<config>/<SRC>_to_<TGT>`` (DESIGN.md 1)."""
    return (results_root() / find_dataset_name(dataset) / f"{trainer}__{plans}__{configuration}"
            / translation_name(sources, target))


def fold_folder_name(fold: int | str) -> str:
    return f"fold_{fold}"


def cuda_autocast_dtype() -> torch.dtype:
    """bf16 where the GPU computes it natively (Ampere and later), else fp16 (which needs a
    gradient scaler); emulated bf16 on older GPUs would be slow."""
    native_bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
    return torch.bfloat16 if native_bf16 else torch.float16


@contextlib.contextmanager
def autocast(device: torch.device):
    """Mixed precision on CUDA; fp32 elsewhere (bf16 is 9x slower on these CPUs, DESIGN.md 8)."""
    if device.type == "cuda":
        with torch.autocast("cuda", dtype=cuda_autocast_dtype()):
            yield
    else:
        yield


@dataclass
class TrainingRun:
    """One translation on one fold; built by :meth:`create` from user-facing names."""

    dataset_name: str
    plans_name: str
    configuration_name: str
    configuration: object  # a configuration plan (autosynth.experiment_planning.plans)
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
        return self.model_folder / fold_folder_name(self.fold)

    @classmethod
    def create(cls, dataset: str | int, configuration: str, fold: int | str,
               sources: list[str], target: str, trainer_name: str = "SynthesisTrainer"
               ) -> "TrainingRun":
        """Resolve names, read plans, dataset.json and splits, and check the translation."""
        from autosynth.experiment_planning.plans import Plans
        from autosynth.utils.files import read_json

        name = find_dataset_name(dataset)
        folder = preprocessed_root() / name
        plans_file = folder / "plans.json"
        plans = Plans.load(plans_file)
        config = plans.configuration(configuration)
        dataset_json = DatasetJson.load(folder / "dataset.json")
        for contrast in [*sources, target]:
            dataset_json.channel_index(contrast)  # raises naming the known contrasts
        if target in sources:
            raise ValueError(f"the target {target} is also a source ({', '.join(sources)})")
        splits_file = folder / "splits_final.json"
        if not splits_file.is_file():
            raise FileNotFoundError(f"{splits_file}: not found; run autosynth_plan_and_preprocess "
                                    f"-d {name}")
        splits = read_json(splits_file)
        if str(fold) == "all":
            train = sorted({c for f in splits["folds"] for c in f["train"] + f["val"]})
            val = train
        else:
            if not 0 <= int(fold) < len(splits["folds"]):
                raise ValueError(f"fold {fold} does not exist: {splits_file} has folds 0-"
                                 f"{len(splits['folds']) - 1} (or 'all')")
            train, val = splits["folds"][int(fold)]["train"], splits["folds"][int(fold)]["val"]
        if not train or not val:
            raise ValueError(f"{splits_file}: fold {fold} has no "
                             f"{'training' if not train else 'validation'} case")
        return cls(name, plans.plans_name, configuration, config, plans_file, dataset_json,
                   [dataset_json.channel_names[dataset_json.channel_index(s)] for s in sources],
                   dataset_json.channel_names[dataset_json.channel_index(target)],
                   fold if str(fold) == "all" else int(fold), trainer_name, list(train),
                   list(val), list(plans.contrasts))

    def describe(self) -> str:
        return (f"{translation_name(self.sources, self.target)} {self.dataset_name} "
                f"{self.configuration_name} fold {self.fold} ({self.trainer_name})")

    def case_files(self, cases: list[str]) -> list[Path]:
        files = [self.preprocessed_folder / f"{case}.npy" for case in cases]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} preprocessed case(s) missing, e.g. {missing[0]}; run "
                f"autosynth_plan_and_preprocess -d {self.dataset_name} -c "
                f"{self.configuration_name}")
        return files

    def slice_indices(self) -> tuple[SliceIndex, SliceIndex]:
        return (SliceIndex.build(self.case_files(self.train_cases)),
                SliceIndex.build(self.case_files(self.val_cases)))

    def write_reference_files(self) -> None:
        """The plan and dataset.json next to the folds: a model folder is self-contained."""
        self.model_folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.model_folder / "plans.json") as tmp:
            shutil.copyfile(self.plans_file, tmp)
        self.dataset_json.save(self.model_folder / "dataset.json")
