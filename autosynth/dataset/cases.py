"""Case discovery: which files make up each case of a raw dataset.

Images are ``images{Tr,Ts}/CASE_XXXX<ending>`` (XXXX = channel number), the optional brain mask
``masks{Tr,Ts}/CASE<ending>`` and the optional tumour labels ``labels{Tr,Ts}/CASE<ending>``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from autosynth.dataset.dataset_json import DatasetJson

_CHANNEL_SUFFIX = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")


@dataclass
class CaseFiles:
    """The files of one case. ``channels`` holds only the channel files that exist."""

    case_id: str
    channels: dict[int, Path] = field(default_factory=dict)
    mask: Path | None = None
    label: Path | None = None

    def all_files(self) -> list[Path]:
        files = [self.channels[k] for k in sorted(self.channels)]
        return files + [p for p in (self.mask, self.label) if p is not None]


def strip_ending(filename: str, file_ending: str) -> str | None:
    return filename[: -len(file_ending)] if filename.endswith(file_ending) else None


def split_channel_name(filename: str, file_ending: str) -> tuple[str, int] | None:
    """``'BraTS_001_0002.nii.gz'`` -> ``('BraTS_001', 2)``; None when the name does not fit."""
    stem = strip_ending(filename, file_ending)
    match = _CHANNEL_SUFFIX.match(stem) if stem else None
    return (match.group("case"), int(match.group("channel"))) if match else None


def discover_cases(dataset_folder: str | Path, dataset_json: DatasetJson | None = None,
                   subset: str = "Tr") -> list[CaseFiles]:
    """All cases of ``imagesTr`` (``subset="Tr"``) or ``imagesTs``, sorted by case id.

    Files whose names do not follow the layout are ignored here; the integrity check reports them.
    """
    folder = Path(dataset_folder)
    dataset_json = dataset_json or DatasetJson.load(folder)
    ending = dataset_json.file_ending
    cases: dict[str, CaseFiles] = {}
    images = folder / f"images{subset}"
    if images.is_dir():
        for path in sorted(images.iterdir()):
            parsed = split_channel_name(path.name, ending)
            if parsed is None or not path.is_file():
                continue
            case_id, channel = parsed
            cases.setdefault(case_id, CaseFiles(case_id)).channels[channel] = path
    for case in cases.values():
        mask = folder / f"masks{subset}" / f"{case.case_id}{ending}"
        label = folder / f"labels{subset}" / f"{case.case_id}{ending}"
        case.mask = mask if mask.is_file() else None
        case.label = label if label.is_file() else None
    return [cases[k] for k in sorted(cases)]
