"""What every converter shares: the output folder, byte-exact copies and the resumable case loop.

A converter describes each case as a job that knows its output files. Cases whose outputs all
exist are skipped (every file is written atomically, so an existing file is a complete one), the
others run in a process pool behind a progress bar, and failures are collected and reported
together so that one run names every broken case.
"""
from __future__ import annotations

import argparse
import functools
import gzip
import os
import shutil
import sys
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path
from typing import Callable, Sequence

import SimpleITK as sitk
from tqdm import tqdm

from autosynth.dataset.dataset_json import DatasetJson, DatasetJsonError
from autosynth.paths import dataset_name, parse_dataset_name, raw_root
from autosynth.utils.files import atomic_path

# What makes two dataset.json describe the same dataset; description and counts may change.
IDENTITY_KEYS = ("name", "channel_names", "labels", "file_ending")
FILE_ENDING = ".nii.gz"


class ConversionError(RuntimeError):
    """The conversion cannot go on; the message names the file, folder or case at fault."""


@dataclass
class ConversionReport:
    """What one run did: the dataset folder and the cases converted, skipped and failed."""

    folder: Path
    converted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return (f"{self.folder}: {len(self.converted)} case(s) converted, {len(self.skipped)} "
                f"already done and skipped, {len(self.failed)} failed")


# ----------------------------------------------------------------------------- output folder
def dataset_folder(output_root: str | os.PathLike | None, dataset_id: int, name: str) -> Path:
    """``<root>/DatasetXXX_Name``, refusing ids and names that the rest of autosynth rejects."""
    try:
        folder_name = dataset_name(dataset_id, name)
    except ValueError as err:
        raise ConversionError(str(err)) from None
    if parse_dataset_name(folder_name) is None:
        raise ConversionError(f"dataset name '{name}' must start with a letter or digit and hold "
                              "only letters, digits, '_' and '-'")
    root = Path(output_root).expanduser() if output_root else raw_root()
    return root / folder_name


def _identity_differences(old: DatasetJson, new: DatasetJson) -> list[str]:
    old_data, new_data = old.to_dict(), new.to_dict()
    return [f"{key} {old_data.get(key)!r} vs {new_data.get(key)!r}" for key in IDENTITY_KEYS
            if old_data.get(key) != new_data.get(key)]


def claim_dataset_folder(folder: Path, dataset_json: DatasetJson) -> None:
    """Create ``folder`` and write dataset.json, unless that would overwrite another dataset.

    Written before any case, so that an interrupted run is recognised as the same dataset when
    it is resumed. dataset.json is rewritten only when its content changes.
    """
    dataset_id = parse_dataset_name(folder.name)[0]
    if folder.parent.is_dir():
        others = [p.name for p in folder.parent.iterdir() if p.is_dir() and p != folder]
        clashes = sorted(n for n in others if (parse_dataset_name(n) or (None,))[0] == dataset_id)
        if clashes:  # two folders with one id would make '-d ID' ambiguous everywhere
            raise ConversionError(f"dataset id {dataset_id:03d} is already used by "
                                  f"{', '.join(clashes)} in {folder.parent}; choose another -d")
    json_path = folder / "dataset.json"
    if json_path.is_file():
        try:
            existing = DatasetJson.load(json_path)
        except DatasetJsonError as err:
            raise ConversionError(f"{folder} already exists and its dataset.json is invalid "
                                  f"({err}); remove the folder or choose another -d") from None
        differences = _identity_differences(existing, dataset_json)
        if differences:
            raise ConversionError(
                f"{folder} already holds a different dataset ({'; '.join(differences)}); "
                "refusing to overwrite it: remove the folder or choose another -d/--name")
        if existing.to_dict() == dataset_json.to_dict():
            return
    elif folder.is_dir() and any(folder.iterdir()):
        raise ConversionError(f"{folder} exists, is not empty and has no dataset.json; refusing "
                              "to write into it: remove it or choose another -d/--name")
    folder.mkdir(parents=True, exist_ok=True)
    dataset_json.save(json_path)


# ----------------------------------------------------------------------------- files
def is_nifti(path: Path) -> bool:
    return path.name.lower().endswith((".nii", ".nii.gz"))


def copy_image(source: Path, destination: Path) -> None:
    """Copy a NIfTI file byte for byte (gzipping a plain ``.nii``), atomically.

    Copying instead of re-writing is the only way to be sure that voxels and header, qform and
    sform included, are exactly those of the original.
    """
    with atomic_path(destination) as tmp:
        if source.name.lower().endswith(".gz"):
            shutil.copyfile(source, tmp)
            return
        with open(source, "rb") as raw, open(tmp, "wb") as out, \
                gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as packed:
            shutil.copyfileobj(raw, packed, 1 << 20)


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def name_some(items: Sequence[str], limit: int = 10) -> str:
    """'a, b, c' or 'a, b, ... and 7 more': error messages stay readable for big cohorts."""
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


# ----------------------------------------------------------------------------- the case loop
def _limit_threads(num_processes: int) -> None:
    """Share the cores between workers instead of letting each ITK filter take them all."""
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(
        max(1, (os.cpu_count() or 1) // max(1, num_processes)))


def _run_guarded(worker: Callable, job) -> tuple[str, str | None]:
    """Run one case; turn its exception into a message so the other cases go on."""
    try:
        worker(job)
    except Exception as err:  # every failure of one case is that case's report
        known = isinstance(err, (ConversionError, OSError, ValueError, RuntimeError))
        return job.case_id, str(err) if known else f"{type(err).__name__}: {err}"
    return job.case_id, None


def run_cases(worker: Callable, jobs: Sequence, report: ConversionReport,
              num_processes: int = 1, desc: str = "convert", progress: bool = True) -> None:
    """Run ``worker(job)`` for every job whose ``outputs()`` do not all exist yet.

    Fills ``report``; raises :class:`ConversionError` naming every failed case at the end.
    """
    done = [all(p.is_file() for p in job.outputs()) for job in jobs]
    todo = [job for job, finished in zip(jobs, done) if not finished]
    report.skipped += [job.case_id for job, finished in zip(jobs, done) if finished]
    if report.skipped:
        print(f"{len(report.skipped)} case(s) already converted, skipped", file=sys.stderr)
    bar = dict(total=len(todo), desc=desc, unit="case", disable=not progress or not todo)
    run = functools.partial(_run_guarded, worker)
    if num_processes > 1 and len(todo) > 1:
        processes = min(num_processes, len(todo))
        with Pool(processes, initializer=_limit_threads, initargs=(processes,)) as pool:
            results = list(tqdm(pool.imap_unordered(run, todo), **bar))
    else:
        results = [run(job) for job in tqdm(todo, **bar)]
    for case_id, error in sorted(results):
        if error is None:
            report.converted.append(case_id)
        else:
            report.failed[case_id] = error
    if report.failed:
        lines = "\n".join(f"  {case}: {error}" for case, error in sorted(report.failed.items()))
        raise ConversionError(f"{len(report.failed)} case(s) failed, {len(report.converted)} "
                              "converted (kept: fix the failed ones and run the same command "
                              f"again, finished cases are skipped):\n{lines}")


# ----------------------------------------------------------------------------- command line
def add_common_arguments(parser: argparse.ArgumentParser, default_name: str) -> None:
    """The options every converter takes: input, dataset id and name, output root, processes."""
    parser.add_argument("-i", "--input", required=True, type=Path,
                        help="folder holding the downloaded data set (searched recursively)")
    parser.add_argument("-d", "--dataset-id", required=True, type=int,
                        help="dataset id 0-999; the output folder is DatasetXXX_NAME")
    parser.add_argument("--name", default=default_name,
                        help=f"dataset name, the NAME of DatasetXXX_NAME (default: {default_name})")
    parser.add_argument("-o", "--output-root", type=Path, default=None,
                        help="folder in which DatasetXXX_NAME is written (default: $AUTOSYNTH_RAW)")
    parser.add_argument("-np", "--num-processes", type=int, default=min(4, os.cpu_count() or 1),
                        help="cases converted in parallel (default: min(4, CPU count))")
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")


def run_command(convert: Callable[..., ConversionReport], **kwargs) -> int:
    """Run a converter for a CLI: summary on success (0), every error on stderr (1)."""
    try:
        report = convert(**kwargs)
    except ConversionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(report.summary())
    print(f"check it with: autosynth_verify -d {report.folder.name}")
    return 0
