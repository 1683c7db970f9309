"""Preprocess every training case of a dataset for one or several configurations, into
``preprocessed/DatasetXXX/<configuration>/``: ``CASE.npy`` (C, S, H, W), ``CASE_mask.npy`` and
``CASE_labels.npy`` (S, H, W) uint8, ``CASE.json`` (properties).

A case is read once for all the configurations of a run (reading four BraTS-sized .nii.gz
files is about 0.5 s of the 1.3 s a configuration costs per case).

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
class Target:
    """One configuration a case is preprocessed for."""

    configuration: str
    config: dict
    output_folder: str
    signature: str


@dataclass(frozen=True)
class CaseJob:
    case: CaseFiles
    channels: tuple[int, ...]
    contrasts: tuple[str, ...]
    targets: tuple[Target, ...]


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


def preprocess_raw_case(job: CaseJob) -> dict[str, str]:
    """Worker: read one case once, preprocess and write it for each configuration that is
    not up to date; returns configuration -> 'done' or 'skipped'."""
    case_id = job.case.case_id
    todo = [t for t in job.targets
            if not is_up_to_date(case_paths(t.output_folder, case_id), t.signature)]
    results = {t.configuration: "skipped" for t in job.targets}
    if not todo:
        return results
    try:
        images, mask, source, geometry = load_case_with_mask(job.case, job.channels)
        labels = load_labels(job.case, geometry)
    except (CaseReadError, ValueError) as err:
        raise PreprocessingError(f"case {case_id}: {err}") from None
    for target in todo:
        config = ConfigurationPlan.from_dict(target.config,
                                             f"configuration {target.configuration}")
        try:
            data, out_mask, out_labels, properties = preprocess_case(
                images, mask, geometry, config, list(job.contrasts), labels, case_id,
                target.configuration)
        except (PreprocessingError, ValueError) as err:
            raise PreprocessingError(f"case {case_id}: {err}") from None
        properties.mask_source = source
        properties.signature = target.signature
        write_case(case_paths(target.output_folder, case_id), data, out_mask, out_labels,
                   properties)
        results[target.configuration] = "done"
    return results


def write_case(paths: dict[str, Path], data, mask, labels, properties: CaseProperties) -> None:
    """The arrays first, the properties (with the signature) last: a case is complete once its
    ``CASE.json`` exists."""
    save_npy(paths["data"], data)
    save_npy(paths["mask"], mask)
    if labels is not None:
        save_npy(paths["labels"], labels)
    elif paths["labels"].exists():
        paths["labels"].unlink()
    properties.save(paths["properties"])


def preprocess_dataset(raw_folder: str | Path, preprocessed_folder: str | Path, plans: Plans,
                       configurations: str | list[str], num_processes: int = 1,
                       progress: bool = True) -> dict[str, dict[str, int]]:
    """Preprocess all training cases for ``configurations`` (each case read once); returns,
    per configuration, the counts done / skipped."""
    names = [configurations] if isinstance(configurations, str) else list(configurations)
    raw_folder = Path(raw_folder)
    dataset_json = DatasetJson.load(raw_folder)
    channels = tuple(sorted(dataset_json.channel_names))
    contrasts = tuple(dataset_json.channel_names[c] for c in channels)
    if list(contrasts) != plans.contrasts:
        raise PreprocessingError(f"plans.json was made for contrasts {plans.contrasts}, "
                                 f"{raw_folder / DATASET_JSON_FILE} names {list(contrasts)}; "
                                 "re-plan with --overwrite")
    configs = {name: plans.configuration(name) for name in names}
    outputs = {name: Path(preprocessed_folder) / c.data_folder for name, c in configs.items()}
    for output in outputs.values():
        output.mkdir(parents=True, exist_ok=True)
    jobs = [CaseJob(case, channels, contrasts, tuple(
                Target(name, config.to_dict(), str(outputs[name]), case_signature(case, config))
                for name, config in configs.items()))
            for case in discover_cases(raw_folder, dataset_json, "Tr")]
    results = map_cases(preprocess_raw_case, jobs, num_processes, progress,
                        f"preprocess {', '.join(names)}")
    return {name: {"done": sum(r[name] == "done" for r in results),
                   "skipped": sum(r[name] == "skipped" for r in results)} for name in names}
