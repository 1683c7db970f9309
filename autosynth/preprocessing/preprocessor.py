"""Preprocess every training case of a dataset for one configuration, into
``preprocessed/DatasetXXX/<configuration>/``: ``CASE.npy`` (C, S, H, W), ``CASE_mask.npy`` and
``CASE_labels.npy`` (S, H, W) uint8, ``CASE.json`` (properties).

Idempotent: ``CASE.json`` is written last and records a signature of the raw files and of the
plan fields that change the arrays, so a case whose signature still matches is skipped and a
killed run resumes where it stopped. Every file is written atomically.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from autosynth.dataset.cases import CaseFiles, discover_cases
from autosynth.dataset.dataset_json import DATASET_JSON_FILE, DatasetJson
from autosynth.experiment_planning.plans import ConfigurationPlan, Plans
from autosynth.dataset.case_io import CaseReadError, load_case_with_mask, load_labels
from autosynth.preprocessing.case_preprocessing import PreprocessingError, preprocess_case
from autosynth.utils.parallel import map_cases
from autosynth.preprocessing.properties import CaseProperties, PropertiesError
from autosynth.preprocessing.storage import case_paths, save_npy

FORMAT_VERSION = 2  # 2: canonical orientation, planned spacing kept, cases larger than the patch
ARRAY_FIELDS = ("orientation", "slice_axis", "patch_size", "inplane_spacing", "resize",
                "crop_to_brain", "null_slice_fraction", "storage_dtype", "normalization",
                "context_slices", "slice_spacing")  # the last two: which slices are kept


@dataclass(frozen=True)
class CaseJob:
    case: CaseFiles
    channels: tuple[int, ...]
    contrasts: tuple[str, ...]
    configuration: str
    config: dict
    output_folder: str
    signature: str


def case_signature(case: CaseFiles, config: ConfigurationPlan) -> str:
    """Hash of the raw files' names, sizes and times and of the plan fields that shape the data."""
    files = [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in case.all_files()]
    plan = {k: v for k, v in asdict(config).items() if k in ARRAY_FIELDS}
    text = json.dumps([FORMAT_VERSION, files, plan], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def is_up_to_date(paths: dict[str, Path], signature: str) -> bool:
    if not paths["properties"].is_file():
        return False
    try:
        properties = CaseProperties.load(paths["properties"])
    except (PropertiesError, TypeError):
        return False
    needed = ["data", "mask"] + (["labels"] if properties.has_labels else [])
    return properties.signature == signature and all(paths[k].is_file() for k in needed)


def preprocess_raw_case(job: CaseJob) -> str:
    """Worker: read, preprocess and write one case; returns 'done' or 'skipped'."""
    paths = case_paths(job.output_folder, job.case.case_id)
    if is_up_to_date(paths, job.signature):
        return "skipped"
    config = ConfigurationPlan.from_dict(job.config, f"configuration {job.configuration}")
    try:
        images, mask, source, geometry = load_case_with_mask(job.case, job.channels)
        labels = load_labels(job.case, geometry)
        data, out_mask, out_labels, properties = preprocess_case(
            images, mask, geometry, config, list(job.contrasts), labels, job.case.case_id,
            job.configuration)
    except (CaseReadError, PreprocessingError, ValueError) as err:
        raise PreprocessingError(f"case {job.case.case_id}: {err}") from None
    properties.mask_source = source
    properties.signature = job.signature
    save_npy(paths["data"], data)
    save_npy(paths["mask"], out_mask)
    if out_labels is not None:
        save_npy(paths["labels"], out_labels)
    elif paths["labels"].exists():
        paths["labels"].unlink()
    properties.save(paths["properties"])
    return "done"


def preprocess_dataset(raw_folder: str | Path, preprocessed_folder: str | Path, plans: Plans,
                       configuration: str, num_processes: int = 1, progress: bool = True
                       ) -> dict[str, int]:
    """Preprocess all training cases for ``configuration``; returns counts done / skipped."""
    raw_folder = Path(raw_folder)
    config = plans.configuration(configuration)
    dataset_json = DatasetJson.load(raw_folder)
    channels = tuple(sorted(dataset_json.channel_names))
    contrasts = tuple(dataset_json.channel_names[c] for c in channels)
    if list(contrasts) != plans.contrasts:
        raise PreprocessingError(f"plans.json was made for contrasts {plans.contrasts}, "
                                 f"{raw_folder / DATASET_JSON_FILE} names {list(contrasts)}; "
                                 "re-plan with --overwrite")
    output = Path(preprocessed_folder) / config.data_folder
    output.mkdir(parents=True, exist_ok=True)
    jobs = [CaseJob(case, channels, contrasts, configuration, config.to_dict(), str(output),
                    case_signature(case, config))
            for case in discover_cases(raw_folder, dataset_json, "Tr")]
    results = map_cases(preprocess_raw_case, jobs, num_processes, progress,
                        f"preprocess {configuration}")
    return {"done": results.count("done"), "skipped": results.count("skipped")}

