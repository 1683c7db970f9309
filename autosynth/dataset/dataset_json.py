"""``dataset.json`` as a typed object: what a raw dataset holds and how its files are named."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autosynth.utils.files import read_json_document, write_json_atomic

DATASET_JSON_FILE = "dataset.json"
SUPPORTED_FILE_ENDINGS = (".nii.gz", ".nii", ".mha", ".nrrd")
REQUIRED_KEYS = ("name", "channel_names", "file_ending", "numTraining")


class DatasetJsonError(ValueError):
    """dataset.json is missing, unreadable or invalid; the message names the file."""


@dataclass
class DatasetJson:
    """The contents of ``dataset.json``.

    ``channel_names`` maps the 4-digit file suffix (as int) to a contrast name such as ``T1``;
    the contrast names are what every command takes. Unknown keys are kept in ``extra`` and
    written back unchanged.
    """

    name: str
    channel_names: dict[int, str]
    numTraining: int
    file_ending: str = ".nii.gz"
    description: str = ""
    labels: dict[str, int] | None = None
    licence: str = ""
    reference: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- contrasts
    @property
    def contrasts(self) -> list[str]:
        return [self.channel_names[k] for k in sorted(self.channel_names)]

    def channel_index(self, contrast: str) -> int:
        """The channel number of a contrast name (exact match first, then case-insensitive)."""
        for index, name in self.channel_names.items():
            if name == contrast:
                return index
        folded = [i for i, n in self.channel_names.items() if n.lower() == contrast.lower()]
        if len(folded) == 1:
            return folded[0]
        raise DatasetJsonError(
            f"unknown contrast '{contrast}' in dataset {self.name}; "
            f"known contrasts: {', '.join(self.contrasts)}")

    # ---------------------------------------------------------------- validation
    def problems(self) -> list[str]:
        """Everything wrong with this description, as readable sentences (empty when valid)."""
        out = []
        if not isinstance(self.name, str) or not self.name.strip():
            out.append("'name' must be a non-empty string")
        if not self.channel_names:
            out.append("'channel_names' must name at least one contrast")
        names = list(self.channel_names.values())
        for index, name in self.channel_names.items():
            if not isinstance(index, int) or not 0 <= index <= 9999:
                out.append(f"channel key {index!r} must be an integer 0-9999")
            if not isinstance(name, str) or not name.strip():
                out.append(f"channel {index} has an empty name")
        duplicates = sorted({n for n in names if isinstance(n, str) and names.count(n) > 1})
        if duplicates:
            out.append(f"channel names must be unique, repeated: {', '.join(duplicates)}")
        if self.file_ending not in SUPPORTED_FILE_ENDINGS:
            out.append(f"'file_ending' {self.file_ending!r} is not one of "
                       f"{', '.join(SUPPORTED_FILE_ENDINGS)}")
        if not isinstance(self.numTraining, int) or isinstance(self.numTraining, bool) \
                or self.numTraining < 0:
            out.append(f"'numTraining' must be a non-negative integer, got {self.numTraining!r}")
        if self.labels is not None:
            if not isinstance(self.labels, dict) or not all(
                    isinstance(v, int) and not isinstance(v, bool) for v in self.labels.values()):
                out.append("'labels' must map label names to integers")
        return out

    # ---------------------------------------------------------------- (de)serialisation
    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = DATASET_JSON_FILE) -> "DatasetJson":
        if not isinstance(data, dict):
            raise DatasetJsonError(f"{source}: top level must be a JSON object")
        missing = [k for k in REQUIRED_KEYS if k not in data]
        if missing:
            raise DatasetJsonError(f"{source}: missing required key(s) {', '.join(missing)}")
        raw_channels = data["channel_names"]
        if not isinstance(raw_channels, dict):
            raise DatasetJsonError(f"{source}: 'channel_names' must be an object like "
                                   '{"0": "T1", "1": "T2"}')
        try:
            channels = {int(k): v for k, v in raw_channels.items()}
        except ValueError:
            raise DatasetJsonError(f"{source}: channel keys must be integers, got "
                                   f"{list(raw_channels)}") from None
        known = {"name", "channel_names", "numTraining", "file_ending", "description", "labels",
                 "licence", "reference"}
        obj = cls(
            name=data["name"], channel_names=channels, numTraining=data["numTraining"],
            file_ending=data["file_ending"], description=data.get("description", ""),
            labels=data.get("labels"), licence=data.get("licence", ""),
            reference=data.get("reference", ""),
            extra={k: v for k, v in data.items() if k not in known},
        )
        problems = obj.problems()
        if problems:
            raise DatasetJsonError(f"{source}: " + "; ".join(problems))
        return obj

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "channel_names": {str(k): v for k, v in sorted(self.channel_names.items())},
            "file_ending": self.file_ending,
            "numTraining": self.numTraining,
        }
        if self.labels is not None:
            data["labels"] = dict(self.labels)
        data["licence"] = self.licence
        data["reference"] = self.reference
        data.update(self.extra)
        return data

    @classmethod
    def load(cls, path: str | os.PathLike) -> "DatasetJson":
        """Read and validate; a folder is taken to mean its ``dataset.json``."""
        path, data = read_json_document(path, DATASET_JSON_FILE, DatasetJsonError)
        return cls.from_dict(data, source=str(path))

    def save(self, path: str | os.PathLike) -> None:
        problems = self.problems()
        if problems:
            raise DatasetJsonError(f"{path}: refusing to write an invalid dataset.json: "
                                   + "; ".join(problems))
        path = Path(path)
        write_json_atomic(path / DATASET_JSON_FILE if path.is_dir() else path, self.to_dict())
