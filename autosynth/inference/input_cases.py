"""Which files of an input folder make up each case, in the model's source-contrast order.

Two namings are understood:

- the raw layout, ``CASE_XXXX<ending>``, with XXXX the channel number of the contrast in the
  model's ``dataset.json`` (other channels in the folder, e.g. the target, are ignored);
- plain ``CASE<ending>`` files, one per case, when the model has a single source contrast and
  no file of the folder carries a channel number of the model's dataset.

The ending may be any the raw layout supports (``.nii.gz``, ``.nii``, ``.mha``, ``.nrrd``),
whatever the model was trained on; outputs get the model's ending.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from autosynth.dataset.cases import split_channel_name, strip_ending
from autosynth.dataset.dataset_json import SUPPORTED_FILE_ENDINGS, DatasetJson
from autosynth.inference.errors import PredictionError

# a name that means to be an image without a supported ending: '.nii.gzz', '.NII.GZ', '.nii.part'
_IMAGE_LIKE = re.compile(r"\.(nii|mha|mhd|nrrd|nhdr)(\.|$)", re.IGNORECASE)
SHOWN_NAMES = 5


@dataclass(frozen=True)
class InputCase:
    """One case to predict: its source images (model order) and optional brain mask.

    ``defect`` names a file the case lacks (a source contrast, a mask): such a case is reported
    and left without output when its turn comes, and the others are predicted.
    """

    case_id: str
    sources: tuple[Path, ...]
    mask: Path | None = None
    defect: str | None = None


def _ending(name: str) -> str | None:
    return next((e for e in SUPPORTED_FILE_ENDINGS if name.endswith(e)), None)


def _image_files(folder: Path) -> list[tuple[Path, str]]:
    """(file, its ending) of every image file; ``.nii.gz`` is matched before ``.nii``."""
    return sorted((p, _ending(p.name)) for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and _ending(p.name))


def _image_like_files(folder: Path) -> list[str]:
    """Names that look like images but have no supported ending (endings are case-sensitive)."""
    return sorted(p.name for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and not _ending(p.name)
                  and _IMAGE_LIKE.search(p.name))


def _names(names: list[str]) -> str:
    more = len(names) - SHOWN_NAMES
    return ", ".join(names[:SHOWN_NAMES]) + (f" and {more} more" if more > 0 else "")


def discover_input_cases(folder: str | Path, sources: list[str], dataset_json: DatasetJson,
                         mask_folder: str | Path | None = None) -> list[InputCase]:
    """The cases of ``folder`` sorted by id; one lacking a file carries it as ``defect``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PredictionError(f"{folder}: input folder not found")
    ending = dataset_json.file_ending
    files, image_like = _image_files(folder), _image_like_files(folder)
    if not files:
        ignored = (f"; ignored {len(image_like)} file(s) whose ending is not one of these "
                   f"(endings are case-sensitive): {_names(image_like)}" if image_like else "")
        raise PredictionError(f"{folder}: no image file ({', '.join(SUPPORTED_FILE_ENDINGS)}) "
                              f"to predict{ignored}")
    channels = [dataset_json.channel_index(s) for s in sources]
    by_case: dict[str, dict[int, Path]] = {}
    for path, file_ending in files:
        parsed = split_channel_name(path.name, file_ending)
        if parsed and parsed[1] in dataset_json.channel_names:
            by_case.setdefault(parsed[0], {})[parsed[1]] = path
    if by_case:
        cases = [_raw_case(case_id, found, channels, sources, folder, ending)
                 for case_id, found in sorted(by_case.items())]
    elif len(sources) == 1:
        cases = [InputCase(strip_ending(p.name, e), (p,)) for p, e in files]
    else:
        raise PredictionError(f"{folder}: {len(sources)} source contrasts need files named "
                              f"CASE_XXXX{ending} (XXXX = "
                              + ", ".join(f"{c:04d} for {s}" for c, s in zip(channels, sources))
                              + ")")
    _report_unused(files, cases, folder)
    if image_like:
        print(f"autosynth_predict: {len(image_like)} file(s) in {folder} look like images but "
              f"do not end in {', '.join(SUPPORTED_FILE_ENDINGS)} (case-sensitive) and are not "
              f"predicted from: {_names(image_like)}", file=sys.stderr)
    return [_with_mask(c, mask_folder, ending) for c in cases] if mask_folder else cases


def _report_unused(files: list[tuple[Path, str]], cases: list[InputCase], folder: Path) -> None:
    """Say which files are not predicted from, so a naming mix-up is not silent (e.g. one
    patient per file named ``pat_0000``, ``pat_0001`` read as channels of one case ``pat``)."""
    used = {p for case in cases for p in case.sources}
    unused = [p.name for p, _ in files if p not in used]
    if unused:
        print(f"autosynth_predict: {len(unused)} file(s) in {folder} are not model inputs and are "
              f"not predicted from (other contrasts, or names not of the form CASE_XXXX): "
              f"{_names(unused)}", file=sys.stderr)


def _raw_case(case_id: str, found: dict[int, Path], channels: list[int], sources: list[str],
              folder: Path, ending: str) -> InputCase:
    missing = [(c, s) for c, s in zip(channels, sources) if c not in found]
    if missing:
        c, s = missing[0]
        return InputCase(case_id, tuple(found[c] for c in channels if c in found),
                         defect=f"{folder / f'{case_id}_{c:04d}{ending}'}: missing: case "
                         f"{case_id} has no {s} image (channel {c:04d}), which the model needs "
                         "as input")
    return InputCase(case_id, tuple(found[c] for c in channels))


def _with_mask(case: InputCase, mask_folder: str | Path, ending: str) -> InputCase:
    """The case with ``mask_folder/CASE<ending>`` (any supported ending, the model's first)."""
    endings = [ending] + [e for e in SUPPORTED_FILE_ENDINGS if e != ending]
    masks = [Path(mask_folder) / f"{case.case_id}{e}" for e in endings]
    mask = next((m for m in masks if m.is_file()), None)
    if mask is None:
        return InputCase(case.case_id, case.sources, None, case.defect or
                         f"{masks[0]}: missing: no brain mask for case {case.case_id} in the "
                         "mask folder")
    return InputCase(case.case_id, case.sources, mask, case.defect)


def select_part(cases: list[InputCase], num_parts: int = 1, part_id: int = 0
                ) -> list[InputCase]:
    """Part ``part_id`` of ``num_parts`` disjoint parts: every K-th case of the sorted list."""
    if num_parts < 1 or not 0 <= part_id < num_parts:
        raise PredictionError(f"--part-id must be in 0..{num_parts - 1} for --num-parts "
                              f"{num_parts}, got {part_id}")
    return sorted(cases, key=lambda c: c.case_id)[part_id::num_parts]
