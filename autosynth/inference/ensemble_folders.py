"""Average finished prediction folders (``autosynth_ensemble``): the same cases, one grid per
case, one intensity scale, voxel-wise mean (``ensemble.average_predictions``).

Each output is written with the first folder's file header, and ``prediction_info.json``
records the members, so ``autosynth_evaluate`` knows the scale as for any prediction folder.
"""
from __future__ import annotations

from pathlib import Path

from autosynth.dataset.image_io import ImageIOError, read_image, write_image_like
from autosynth.inference.cohort import INFO_FILE
from autosynth.inference.ensemble import average_predictions
from autosynth.inference.errors import PredictionError
from autosynth.utils.files import read_json, write_json_atomic

SCALE_KEYS = ("intensity_scale", "target_normalization")


def case_files(folder: Path, ending: str) -> dict[str, Path]:
    """``{case id: file}`` of a prediction folder (the files ending in ``ending``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PredictionError(f"{folder}: prediction folder not found")
    files = {p.name[:-len(ending)]: p for p in sorted(folder.iterdir())
             if p.is_file() and not p.name.startswith(".") and p.name.endswith(ending)}
    if not files:
        raise PredictionError(f"{folder}: no {ending} prediction in it")
    return files


def _infos(folders: list[Path]) -> list[dict | None]:
    return [read_json(f / INFO_FILE) if (f / INFO_FILE).is_file() else None for f in folders]


def ensemble_info(folders: list[Path]) -> dict:
    """The output's ``prediction_info.json``; members on different scales are refused."""
    infos = _infos(folders)
    known = [(folder, info) for folder, info in zip(folders, infos) if info is not None]
    result: dict = {"model": {"ensemble_of_folders": [str(f.resolve()) for f in folders]}}
    if not known:
        return result
    first_folder, first = known[0]
    for folder, info in known[1:]:
        for key in SCALE_KEYS:
            if info.get(key) != first.get(key):
                raise PredictionError(f"{folder / INFO_FILE}: {key} {info.get(key)} differs "
                                      f"from {first_folder / INFO_FILE}'s {first.get(key)}; "
                                      "predictions on different scales cannot be averaged")
    if len(known) < len(folders):
        missing = [str(f) for f, i in zip(folders, infos) if i is None]
        raise PredictionError(f"{missing[0]}: no {INFO_FILE}, so its intensity scale is "
                              f"unknown while {first_folder}'s is {first.get('intensity_scale')}")
    return result | {k: first[k] for k in (*SCALE_KEYS, "slice_axis") if k in first}


def ensemble_folders(folders: list[Path], output: Path, ending: str = ".nii.gz") -> int:
    """Write the mean of ``folders`` case by case into ``output``; returns the case count."""
    folders = [Path(f) for f in folders]
    if len(folders) < 2:
        raise PredictionError("give at least two prediction folders to average")
    out = Path(output).resolve()
    if any(f.resolve() == out for f in folders):
        raise PredictionError(f"{output}: the output folder is one of the inputs; choose "
                              "another (inputs are never modified)")
    members = [case_files(f, ending) for f in folders]
    for folder, files in zip(folders[1:], members[1:]):
        if set(files) != set(members[0]):
            only = sorted(set(members[0]) ^ set(files))
            raise PredictionError(f"{folder}: its cases differ from {folders[0]}'s (e.g. "
                                  f"{', '.join(only[:3])}); the folders must hold the same cases")
    info = ensemble_info(folders)
    for case in sorted(members[0]):
        arrays, first_geometry = [], None
        for files in members:
            try:
                array, geometry = read_image(files[case])
            except ImageIOError as err:
                raise PredictionError(str(err)) from None
            if first_geometry is None:
                first_geometry = geometry
            else:
                differences = first_geometry.differences(geometry)
                if differences:
                    raise PredictionError(f"{files[case]}: its grid differs from "
                                          f"{members[0][case]} ({'; '.join(differences)})")
            arrays.append(array)
        write_image_like(average_predictions(arrays), members[0][case], out / f"{case}{ending}")
    write_json_atomic(out / INFO_FILE, info)
    return len(members[0])
