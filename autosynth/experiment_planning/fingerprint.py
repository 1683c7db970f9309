"""The dataset fingerprint: what the planner needs to know about the data, measured once.

Per case: geometry, brain mask source, brain bounding box, slice occupancy along each axis and
intensity statistics of each contrast inside the brain. Per dataset: medians, anisotropy and
intensity properties pooled over voxels sampled in every case's brain. Each worker reads one
case at a time and returns only numbers and a bounded voxel sample, so memory stays flat.
All shapes and spacings are in array order ``(Z, Y, X)`` of the case reoriented to the canonical
orientation (:mod:`autosynth.dataset.orientation`); each case also records the orientation it is
stored in, and its stored shape and spacing.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import autosynth
from autosynth.dataset.cases import CaseFiles, discover_cases
from autosynth.dataset.dataset_json import DatasetJson
from autosynth.dataset.brain_mask import bounding_box, brain_voxels_per_slice, index_runs
from autosynth.dataset.case_io import CaseReadError, load_case_with_mask
from autosynth.dataset.image_io import ImageIOError, read_image_on_grid
from autosynth.dataset.orientation import CANONICAL, Reorientation
from autosynth.utils.json_text import write_json_readable
from autosynth.utils.parallel import map_cases
from autosynth.utils.files import read_json

FINGERPRINT_FILE = "fingerprint.json"
SAMPLES_PER_CASE = 10_000
PERCENTILES = (0.5, 50.0, 99.5)
Z_STEP = 0.1                       # the planner rounds windows to 0.1, so the table is exact
Z_ABOVE = np.round(np.arange(0.0, 30.0 + Z_STEP / 2, Z_STEP), 1)
Z_BELOW = np.round(np.arange(-10.0, 0.0 + Z_STEP / 2, Z_STEP), 1)


class FingerprintError(RuntimeError):
    """A case cannot be fingerprinted; the message names the case and the file."""


@dataclass(frozen=True)
class CaseJob:
    case: CaseFiles
    channels: tuple[int, ...]
    contrasts: tuple[str, ...]
    samples: int
    seed: int


# ----------------------------------------------------------------------------- one case
def intensity_statistics(values: np.ndarray) -> dict:
    low, median, high = np.percentile(values, PERCENTILES)
    return {"mean": float(values.mean(dtype=np.float64)), "std": float(values.std(dtype=np.float64)),
            "median": float(median), "percentile_00_5": float(low),
            "percentile_99_5": float(high), "min": float(values.min()),
            "max": float(values.max())}


def fingerprint_case(job: CaseJob) -> tuple[dict, dict[str, np.ndarray]]:
    """The fingerprint of one case, and per contrast a sample of raw and z-scored brain voxels
    with a tumour flag (labels > 0; all 0 without labels)."""
    try:
        images, mask, source, geometry = load_case_with_mask(job.case, job.channels)
        tumour = None if job.case.label is None else read_image_on_grid(
            job.case.label, geometry, "the case's images") > 0
    except (CaseReadError, ImageIOError) as err:
        raise FingerprintError(str(err)) from None
    reorientation = Reorientation.of(geometry.direction, CANONICAL)
    canonical_mask = reorientation.to_canonical(mask)
    box = bounding_box(canonical_mask)
    occupancy = {}
    for axis, name in enumerate("ZYX"):
        counts = brain_voxels_per_slice(canonical_mask, axis)
        occupied = np.flatnonzero(counts)
        occupancy[name] = {"fraction": round(occupied.size / counts.size, 6),
                           "slices": index_runs(occupied),
                           "brain_voxels_per_slice": [int(c) for c in counts]}
    rng = np.random.default_rng([job.seed, *job.case.case_id.encode()])
    brain_index = np.flatnonzero(mask)
    chosen = np.sort(rng.choice(brain_index, min(job.samples, brain_index.size), replace=False))
    intensities, samples = {}, {}
    flag = (np.zeros(chosen.size, np.float32) if tumour is None
            else tumour.ravel()[chosen].astype(np.float32))
    for contrast, image in zip(job.contrasts, images):
        values = image[mask]
        stats = intensity_statistics(values)
        intensities[contrast] = stats
        sample = image.ravel()[chosen].astype(np.float64)
        z = (sample - stats["mean"]) / max(stats["std"], 1e-8)
        samples[contrast] = np.stack([sample, z, flag]).astype(np.float32)  # 120 kB
    record = {  # shapes, spacings, boxes and occupancy in the canonical orientation
        "orientation": reorientation.stored,
        "canonical_orientation": reorientation.canonical,
        "stored_spacing_zyx": list(reversed(geometry.spacing)),
        "stored_shape_zyx": list(geometry.shape_zyx),
        "direction": list(geometry.direction),
        "spacing_zyx": reorientation.canonical_zyx(list(reversed(geometry.spacing))),
        "shape_zyx": [int(n) for n in canonical_mask.shape],
        "mask_source": source,
        "brain_voxels": int(brain_index.size),
        "crop_box_zyx": box,
        "cropped_shape_zyx": [stop - start for start, stop in box],
        "slice_occupancy": occupancy,
        "intensity": intensities,
    }
    return record, samples


# ----------------------------------------------------------------------------- whole dataset
def raw_signature(cases: list[CaseFiles]) -> list[list]:
    """Name, size and modification time of every raw file: a fingerprint is stale if it changes."""
    out = []
    for case in cases:
        for path in case.all_files():
            stat = path.stat()
            out.append([str(Path(path.parent.name) / path.name), stat.st_size, stat.st_mtime_ns])
    return out


def z_tail_table(z: np.ndarray, tumour: np.ndarray) -> dict:
    """Fractions of the sampled brain and tumour voxels with z above each of ``Z_ABOVE`` and
    below each of ``Z_BELOW``: what any window on the 0.1 grid clips (the planner reports it)."""
    def fractions(values: np.ndarray, grid: np.ndarray, above: bool) -> list[float]:
        if values.size == 0:
            return []
        ordered = np.sort(values)
        side = "right" if above else "left"
        counts = np.searchsorted(ordered, grid, side=side)
        share = (values.size - counts) if above else counts
        return [round(float(f), 6) for f in share / values.size]

    in_tumour = z[tumour > 0]
    return {"z_above": [float(v) for v in Z_ABOVE], "z_below": [float(v) for v in Z_BELOW],
            "brain_above": fractions(z, Z_ABOVE, True),
            "brain_below": fractions(z, Z_BELOW, False),
            "tumour_above": fractions(in_tumour, Z_ABOVE, True),
            "tumour_below": fractions(in_tumour, Z_BELOW, False),
            "n_brain": int(z.size), "n_tumour": int(in_tumour.size)}


def pooled_intensity_properties(samples: list[np.ndarray]) -> dict:
    """Statistics of all cases' samples together; row 0 raw intensities, row 1 z-scores,
    row 2 (when present) the tumour flag."""
    pooled = np.concatenate(samples, axis=1).astype(np.float64)
    stats = intensity_statistics(pooled[0])
    z_low, z_high = np.percentile(pooled[1], (0.5, 99.5))
    tumour = pooled[2] if pooled.shape[0] > 2 else np.zeros(pooled.shape[1])
    stats.update(zscore_percentile_00_5=float(z_low), zscore_percentile_99_5=float(z_high),
                 n_samples=int(pooled.shape[1]), z_tail=z_tail_table(pooled[1], tumour))
    return stats


def summarise(cases: dict[str, dict]) -> dict:
    """Dataset-wide medians and counts from the per-case records."""
    records = list(cases.values())
    spacing = np.median([r["spacing_zyx"] for r in records], axis=0)
    return {
        "median_spacing_zyx": [float(s) for s in spacing],
        "median_shape_zyx": [float(s) for s in np.median([r["shape_zyx"] for r in records], 0)],
        "median_cropped_shape_zyx": [float(s) for s in np.median(
            [r["cropped_shape_zyx"] for r in records], axis=0)],
        "anisotropy": float(spacing.max() / spacing.min()),
        "median_slice_occupancy_zyx": [float(np.median(
            [r["slice_occupancy"][a]["fraction"] for r in records])) for a in "ZYX"],
        "orientations": dict(Counter(r["orientation"] for r in records)),
        "canonical_orientation": CANONICAL,
        "mask_sources": dict(Counter(r["mask_source"] for r in records)),
    }


def compute_fingerprint(raw_folder: str | Path, num_processes: int = 1, progress: bool = True,
                        samples_per_case: int = SAMPLES_PER_CASE, seed: int = 0) -> dict:
    raw_folder = Path(raw_folder)
    dataset_json = DatasetJson.load(raw_folder)
    cases = discover_cases(raw_folder, dataset_json, "Tr")
    if not cases:
        raise FingerprintError(f"{raw_folder / 'imagesTr'}: no training case found")
    channels = tuple(sorted(dataset_json.channel_names))
    contrasts = tuple(dataset_json.channel_names[c] for c in channels)
    jobs = [CaseJob(case, channels, contrasts, samples_per_case, seed) for case in cases]
    results = map_cases(fingerprint_case, jobs, num_processes, progress, "fingerprint")
    records = {job.case.case_id: record for job, (record, _) in zip(jobs, results)}
    return {
        "autosynth_version": autosynth.__version__,
        "dataset_name": raw_folder.name,
        "contrasts": list(contrasts),
        "n_cases": len(records),
        **summarise(records),
        "intensity_properties": {
            contrast: pooled_intensity_properties([samples[contrast] for _, samples in results])
            for contrast in contrasts},
        "raw_files": raw_signature(cases),
        "cases": records,
    }


def extract_fingerprint(raw_folder: str | Path, preprocessed_folder: str | Path,
                        num_processes: int = 1, progress: bool = True,
                        overwrite: bool = False) -> dict:
    """Compute and write ``fingerprint.json``; an existing one is reused while the raw files
    (names, sizes, modification times) are unchanged, unless ``overwrite``."""
    raw_folder, target = Path(raw_folder), Path(preprocessed_folder) / FINGERPRINT_FILE
    if target.is_file() and not overwrite:
        existing = read_json(target)
        cases = discover_cases(raw_folder, DatasetJson.load(raw_folder), "Tr")
        if existing.get("raw_files") == raw_signature(cases):
            return existing
    fingerprint = compute_fingerprint(raw_folder, num_processes, progress)
    write_json_readable(target, fingerprint)
    return fingerprint


def load_fingerprint(preprocessed_folder: str | Path) -> dict:
    path = Path(preprocessed_folder) / FINGERPRINT_FILE
    if not path.is_file():
        raise FingerprintError(f"{path}: not found; run autosynth_extract_fingerprint first")
    return read_json(path)
