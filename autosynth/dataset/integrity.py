"""The integrity check of a raw dataset: find every defect before anything is computed from it.

It reads every file but writes nothing. Each problem names one file and one defect, and all
problems are collected, so one run tells the user everything to fix.

SimpleITK (ITK 5.4) reads NaN voxels of a NIfTI file as 0 and a truncated ``.nii.gz`` without
error, so voxel values and the gzip stream are checked with ``gzip`` and nibabel instead, and
SimpleITK is used for what it reads reliably: the header geometry.
"""
from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import SimpleITK as sitk

from autosynth.dataset.cases import CaseFiles, discover_cases, split_channel_name, strip_ending
from autosynth.dataset.dataset_json import DATASET_JSON_FILE, DatasetJson, DatasetJsonError
from autosynth.dataset.image_io import Geometry
from autosynth.utils.parallel import map_cases

GEOMETRY_RTOL = 1e-4


@dataclass(frozen=True)
class Problem:
    """One defect of one file."""

    path: Path
    defect: str

    def __str__(self) -> str:
        return f"{self.path}: {self.defect}"


class DatasetIntegrityError(RuntimeError):
    """Raised by :func:`assert_dataset_ok` with every problem, one per line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the dataset:\n"
                         + "\n".join(str(p) for p in problems))


# ----------------------------------------------------------------------------- one file
def _load_voxels(path: Path) -> np.ndarray:
    """Voxel values as stored (scaled), read independently of SimpleITK. Raises ValueError."""
    name = path.name
    if name.endswith((".nii.gz", ".nii")):
        import nibabel as nib

        if name.endswith(".gz"):
            try:
                with gzip.open(path, "rb") as f:
                    raw = f.read()
            except gzip.BadGzipFile:
                raise ValueError("not a gzip file although named .gz") from None
            except EOFError:
                raise ValueError("truncated gzip stream (file ends before the end-of-stream "
                                 "marker; was the download or copy interrupted?)") from None
            except zlib.error as err:
                raise ValueError(f"corrupt gzip stream ({err})") from None
        else:
            raw = path.read_bytes()
        try:
            image = nib.Nifti1Image.from_bytes(raw)
        except Exception:  # nibabel raises several types for a non-NIfTI stream
            try:
                image = nib.Nifti2Image.from_bytes(raw)
            except Exception:
                raise ValueError("not a NIfTI image (header unreadable)") from None
        header = image.header
        expected = int(header.get_data_offset()) + int(np.prod(header.get_data_shape())) \
            * np.dtype(header.get_data_dtype()).itemsize
        if len(raw) < expected:
            raise ValueError(f"truncated: voxel data needs {expected} bytes, file holds "
                             f"{len(raw)}")
        return np.asanyarray(image.dataobj)
    image = sitk.ReadImage(str(path))
    return sitk.GetArrayViewFromImage(image)


def check_image_file(path: Path, role: str = "image") -> tuple[Geometry | None, list[str]]:
    """Check one file; ``role`` is 'image', 'mask' or 'labels'. Returns geometry and defects."""
    try:
        voxels = _load_voxels(path)
    except ValueError as err:
        return None, [str(err)]
    except Exception as err:  # anything else from a reader is still this file's defect
        return None, [f"unreadable ({type(err).__name__}: {err})"]
    shape = tuple(int(s) for s in voxels.shape)
    squeezed = tuple(s for s in shape[3:] if s != 1)
    if len(shape) < 3 or squeezed:
        return None, [f"expected a 3D image, got {len(shape)}D of shape {list(shape)}"]
    defects = []
    if not np.issubdtype(voxels.dtype, np.number):
        return None, [f"voxel type {voxels.dtype} is not numeric"]
    if np.issubdtype(voxels.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(voxels)))
        if bad:
            defects.append(f"{bad} NaN/Inf voxel(s)")
    if role != "labels" and not np.any(voxels):
        defects.append("empty image (all voxels are 0)" if role == "image"
                       else "empty mask (no brain voxel)")
    try:
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        reader.ReadImageInformation()
        geometry = Geometry(tuple(reader.GetSize()[:3]), tuple(reader.GetSpacing()[:3]),
                            tuple(reader.GetOrigin()[:3]),
                            tuple(np.asarray(reader.GetDirection()).reshape(
                                reader.GetDimension(), -1)[:3, :3].ravel()))
    except RuntimeError as err:
        return None, defects + [f"SimpleITK cannot read the header ({str(err).strip()[-200:]})"]
    return geometry, defects


# ----------------------------------------------------------------------------- files of one case
def check_images(files: Sequence[tuple[Path, str]]) -> list[Problem]:
    """Every file sound (``check_image_file``) and on the first sound file's grid.

    The one check every reader of images runs first: ``autosynth_verify``, prediction and
    evaluation. ``files`` are ``(path, role)`` pairs, role as in :func:`check_image_file`.
    """
    problems = []
    reference: tuple[Path, Geometry] | None = None
    for path, role in files:
        geometry, defects = check_image_file(Path(path), role)
        problems.extend(Problem(Path(path), d) for d in defects)
        if geometry is None:
            continue
        if reference is None:
            reference = (Path(path), geometry)
            continue
        # the name alone where it is unambiguous (one folder), else the whole path
        other = reference[0].name if reference[0].parent == Path(path).parent else reference[0]
        for difference in reference[1].differences(geometry, GEOMETRY_RTOL):
            problems.append(Problem(Path(path), f"{difference.split(' ')[0]} mismatch with "
                                                f"{other}: {difference}"))
    return problems


def problems_line(problems: Sequence[Problem]) -> str:
    """Several problems of one case as one line: ``file: defect, defect; file: defect``."""
    by_file: dict[Path, list[str]] = {}
    for problem in problems:
        by_file.setdefault(problem.path, []).append(problem.defect)
    return "; ".join(f"{path}: {', '.join(defects)}" for path, defects in by_file.items())


# ----------------------------------------------------------------------------- one case
def check_case(case: CaseFiles, expected_channels: list[int], channel_names: dict[int, str],
               file_ending: str, folder: Path, subset: str) -> list[Problem]:
    """Every channel present, every file sound, every file on the first channel's grid."""
    problems = []
    for channel in expected_channels:
        if channel not in case.channels:
            missing = folder / f"images{subset}" / f"{case.case_id}_{channel:04d}{file_ending}"
            problems.append(Problem(missing, f"missing: case {case.case_id} has no "
                                             f"{channel_names[channel]} image (channel {channel})"))
    files = [(case.channels[c], "image") for c in sorted(case.channels)]
    files += [(p, role) for p, role in ((case.mask, "mask"), (case.label, "labels")) if p]
    return problems + check_images(files)


def _check_case_star(args) -> list[Problem]:
    return check_case(*args)


# ----------------------------------------------------------------------------- whole dataset
def _layout_problems(folder: Path, dj: DatasetJson, subset: str,
                     cases: list[CaseFiles]) -> list[Problem]:
    """Files that do not fit the naming: stray names, unknown channels, orphan masks/labels."""
    problems = []
    case_ids = {c.case_id for c in cases}
    images = folder / f"images{subset}"
    for path in sorted(images.iterdir()) if images.is_dir() else []:
        if path.name.startswith("."):
            continue
        parsed = split_channel_name(path.name, dj.file_ending)
        if parsed is None:
            problems.append(Problem(path, f"name does not follow CASE_XXXX{dj.file_ending} "
                                          "(XXXX = 4-digit channel number)"))
        elif parsed[1] not in dj.channel_names:
            problems.append(Problem(path, f"channel {parsed[1]:04d} is not in dataset.json "
                                          f"channel_names ({dj.channel_names})"))
    for kind in ("masks", "labels"):
        sub = folder / f"{kind}{subset}"
        for path in sorted(sub.iterdir()) if sub.is_dir() else []:
            stem = strip_ending(path.name, dj.file_ending)
            if path.name.startswith("."):
                continue
            if stem is None:
                problems.append(Problem(path, f"expected the ending {dj.file_ending}"))
            elif stem not in case_ids:
                problems.append(Problem(path, f"{kind[:-1]} file without images: no case "
                                              f"'{stem}' in images{subset}"))
    return problems


def verify_dataset(folder: str | Path, num_processes: int = 1,
                   progress: bool = True) -> list[Problem]:
    """Check a raw dataset folder; returns every problem found (empty list: all good)."""
    folder = Path(folder)
    dataset_json_path = folder / DATASET_JSON_FILE
    try:
        dj = DatasetJson.load(dataset_json_path)
    except DatasetJsonError as err:
        return [Problem(dataset_json_path, str(err).split(": ", 1)[-1])]
    problems: list[Problem] = []
    if not (folder / "imagesTr").is_dir():
        return [Problem(folder / "imagesTr", "missing: a dataset needs an imagesTr folder")]
    jobs = []
    expected = sorted(dj.channel_names)
    for subset in ("Tr", "Ts"):
        cases = discover_cases(folder, dj, subset)
        problems += _layout_problems(folder, dj, subset, cases)
        if subset == "Tr" and len(cases) != dj.numTraining:
            problems.append(Problem(dataset_json_path, f"numTraining is {dj.numTraining} but "
                                                       f"imagesTr holds {len(cases)} case(s)"))
        jobs += [(c, expected, dj.channel_names, dj.file_ending, folder, subset) for c in cases]
    for result in map_cases(_check_case_star, jobs, num_processes, progress, "verify"):
        problems.extend(result)
    return problems


def assert_dataset_ok(folder: str | Path, num_processes: int = 1, progress: bool = True) -> None:
    """The planner's entry point: raise :class:`DatasetIntegrityError` listing every problem."""
    problems = verify_dataset(folder, num_processes, progress)
    if problems:
        raise DatasetIntegrityError(problems)
