"""``inference_information.json``: which model or ensemble to use for a translation, and how.

Written by ``autosynth_find_best_configuration`` (``evaluation/find_best.py``), read by
``autosynth_predict --best``; its format and its ``autosynth_predict`` command are defined here
only. Model folders are stored relative to the dataset's results folder, so a results folder
moved to another machine (or installed from an archive) still resolves.
"""
from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autosynth import results_layout as layout
from autosynth.paths import DatasetNotFoundError, find_dataset_name, results_root
from autosynth.utils.files import read_json, write_json_atomic

INPUT_PLACEHOLDER = "INPUT_FOLDER"
OUTPUT_PLACEHOLDER = "OUTPUT_FOLDER"
FORMAT_VERSION = 1


class FindBestError(ValueError):
    """No usable cross-validation result or choice; the message says what is missing."""


@dataclass
class ChosenModel:
    """One member of the chosen model or ensemble, by its names in the results layout."""

    trainer: str
    plans: str
    configuration: str

    @property
    def run(self) -> str:
        return layout.run_name(self.trainer, self.plans, self.configuration)


@dataclass
class InferenceInformation:
    """The choice for one translation, with the ranking it came from."""

    dataset: str
    sources: list[str]
    target: str
    members: list[ChosenModel]
    folds: list[str]
    checkpoint: str = "best"
    tta: bool = False
    criterion: str = ""
    metrics: dict = field(default_factory=dict)      # the chosen entry's cross-validation
    ranking: list[dict] = field(default_factory=list)
    version: int = FORMAT_VERSION

    @property
    def model_folders(self) -> list[Path]:
        dataset_folder = results_root() / self.dataset
        return [layout.model_folder(dataset_folder, m.trainer, m.plans, m.configuration,
                                    self.sources, self.target) for m in self.members]

    def predict_arguments(self, input_folder: str = INPUT_PLACEHOLDER,
                          output_folder: str = OUTPUT_PLACEHOLDER,
                          folds: list[str] | None = None) -> list[str]:
        """The ``autosynth_predict`` arguments that predict with exactly this choice."""
        plans = {m.plans for m in self.members}
        if len(plans) != 1:
            raise FindBestError(f"members with different plans names {sorted(plans)} cannot "
                                "be named by one autosynth_predict -p")
        arguments = ["-i", input_folder, "-o", output_folder, "-d", self.dataset,
                     "-s", ",".join(self.sources),
                     "-t", self.target,
                     "-c", *[m.configuration for m in self.members],
                     "-tr", *[m.trainer for m in self.members], "-p", plans.pop(),
                     "-f", *(folds or self.folds), "--checkpoint", self.checkpoint]
        return arguments + (["--tta"] if self.tta else [])

    def predict_command(self, input_folder: str = INPUT_PLACEHOLDER,
                        output_folder: str = OUTPUT_PLACEHOLDER) -> str:
        return shlex.join(["autosynth_predict", *self.predict_arguments(input_folder,
                                                                         output_folder)])

    def to_dict(self) -> dict:
        return {**asdict(self), "predict_command": self.predict_command()}

    @classmethod
    def from_dict(cls, data: dict, where: str = layout.INFERENCE_INFORMATION_FILE
                  ) -> "InferenceInformation":
        try:
            members = [ChosenModel(**m) for m in data["members"]]
            return cls(data["dataset"], list(data["sources"]), data["target"], members,
                       [str(f) for f in data["folds"]], data.get("checkpoint", "best"),
                       bool(data.get("tta", False)), data.get("criterion", ""),
                       data.get("metrics", {}), data.get("ranking", []),
                       int(data.get("version", FORMAT_VERSION)))
        except (KeyError, TypeError) as err:
            raise FindBestError(f"{where}: not an inference information file ({err})") from None

    def save(self, path: Path) -> None:
        write_json_atomic(path, self.to_dict())


def information_path(dataset: str, sources: list[str], target: str) -> Path:
    return (layout.find_best_folder(results_root() / dataset, sources, target)
            / layout.INFERENCE_INFORMATION_FILE)


def read_inference_information(dataset: str | int | None, sources: list[str], target: str
                               ) -> InferenceInformation:
    """The choice for ``sources -> target``; without ``dataset``, the one dataset that has one."""
    translation = layout.translation_name(sources, target)
    if dataset is None:
        found = sorted(results_root().glob(f"*/{layout.FIND_BEST_FOLDER}/{translation}/"
                                           f"{layout.INFERENCE_INFORMATION_FILE}"))
        if len(found) != 1:
            raise FindBestError(f"give the dataset with -d: {len(found)} datasets in "
                                f"{results_root()} have a {layout.INFERENCE_INFORMATION_FILE} "
                                f"for {translation}; run autosynth_find_best_configuration")
        name = found[0].parents[2].name
    else:
        try:
            name = find_dataset_name(dataset)
        except DatasetNotFoundError as err:
            raise FindBestError(str(err)) from None
    path = information_path(name, sources, target)
    if not path.is_file():
        raise FindBestError(f"{path}: not found; run autosynth_find_best_configuration -d "
                            f"{name} -s {','.join(sources)} -t {target} first")
    return InferenceInformation.from_dict(read_json(path), str(path))
