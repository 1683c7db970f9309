"""The whole demo cohort in the raw layout: subjects in parallel, resumable, with dataset.json.

A run that is interrupted resumes where it stopped: a case is finished once its parameters
file ``simulation/CASE.json`` exists (written after its five images, which are written
atomically), and finished cases are skipped. The settings that define the cohort (seed,
spacing, name, generator version) are recorded in ``simulation/settings.json``; resuming with
different settings is refused rather than mixing two cohorts in one folder.
"""
from __future__ import annotations

from multiprocessing import Pool
from pathlib import Path

from tqdm import tqdm

from autosynth.dataset.cases import split_channel_name
from autosynth.dataset.dataset_json import DatasetJson
from autosynth.paths import dataset_name
from autosynth.utils.files import read_json, write_json_atomic, write_text_atomic
from dataset_conversion.simulated_brats.anatomy import load_anatomy, mni_notice
from dataset_conversion.simulated_brats.signal import (CONTRASTS, MPRAGE_PROBABILITY, MPRAGE_RANGES,
                                                      SEQUENCE_RANGES)
from dataset_conversion.simulated_brats.subject import (LABELS, case_files, parameters_file,
                                                        simulate_subject, write_subject)
from dataset_conversion.simulated_brats.montage import write_montage

GENERATOR_VERSION = 2  # 2: sharpened tissue fractions, MPRAGE T1 option, rounder lesions
MONTAGE_FILE = "montage.png"
NOTICE_COPY = "NOTICE_MNI_ICBM152.txt"
DESCRIPTION = (
    "SIMULATED data, not real patients: a BraTS-like cohort made by autosynth_make_demo_dataset. "
    "Anatomy: MNI ICBM152 2009a grey/white-matter probability maps and brain mask (from "
    "nilearn; CSF = brain - GM - WM), per subject a random affine (rotation +-10 deg, scale "
    "+-10 %), a smooth elastic warp and, in about 80 % of subjects, a glioma-like lesion "
    "(necrotic core, enhancing rim, oedema spreading along white matter, mild mass effect). "
    "Images: T1w from a spin echo or (half of the subjects) a 3D MPRAGE, spin-echo T2w and "
    "inversion-recovery FLAIR (TI at the CSF null) from the signal equations, on tissue "
    "fractions sharpened from the template's population probabilities, with per-subject "
    "field strength (1.5 or 3 T), tissue T1/T2/PD jittered 5-10 % with a smooth texture, a "
    "smooth bias field (10-40 % peak to peak), Rician noise (1-5 % of the 99th percentile) "
    "and a random gain; skull-stripped (0 outside the brain). "
    "Labels: 1 necrosis, 2 oedema, 3 enhancing tumour, as in BraTS. Per-case parameters are in "
    "simulation/CASE.json. See documentation/demo_cohort.md.")
REFERENCE = (
    "Templates: Fonov et al., NeuroImage 47 S102 (2009) and 54(1) 313-327 (2011); Collins et al., "
    "IPMI 1999. Relaxation values: Stanisz et al., Magn Reson Med 54 507-512 (2005); Wansapura "
    "et al., J Magn Reson Imaging 9 531-538 (1999). Network: Osman & Tamam, J Appl Clin Med Phys "
    "(2022).")


class CohortSettingsError(RuntimeError):
    """The output folder holds a cohort made with other settings."""


def case_id(name: str, index: int) -> str:
    return f"{name}_{index:03d}"


def is_finished(folder: Path, case: str) -> bool:
    return parameters_file(folder, case).is_file() and all(
        p.is_file() for p in case_files(folder, case))


def _check_settings(folder: Path, settings: dict, wanted_cases: set[str]) -> None:
    path = folder / "simulation" / "settings.json"
    if path.is_file() and read_json(path) != settings:
        raise CohortSettingsError(
            f"{folder} was generated with other settings ({read_json(path)}); remove it or "
            f"choose another output root or dataset id")
    images = folder / "imagesTr"
    existing = {split_channel_name(p.name, ".nii.gz") for p in images.iterdir()} \
        if images.is_dir() else set()
    extra = sorted({c[0] for c in existing if c} - wanted_cases)
    if extra:
        raise CohortSettingsError(
            f"{folder} holds {len(extra)} case(s) beyond the {len(wanted_cases)} requested "
            f"(e.g. {extra[0]}); ask for at least as many cases or remove the folder")
    write_json_atomic(path, settings)


_worker: dict = {}


def _init_worker(spacing: float, seed: int, folder: Path, name: str) -> None:
    _worker.update(anatomy=load_anatomy(spacing), seed=seed, folder=folder, name=name)


def _make_case(index: int) -> str:
    case = case_id(_worker["name"], index)
    subject = simulate_subject(_worker["anatomy"], _worker["seed"], index, case)
    write_subject(subject, _worker["folder"])
    return case


def dataset_json(folder: Path, cases: int, settings: dict) -> DatasetJson:
    return DatasetJson(
        name=folder.name, channel_names=dict(enumerate(CONTRASTS)), numTraining=cases,
        description=DESCRIPTION, labels=dict(LABELS), licence=mni_notice(), reference=REFERENCE,
        extra={"simulated": True, "simulation": dict(
            settings, sequences=SEQUENCE_RANGES, t1_mprage=MPRAGE_RANGES,
            t1_mprage_probability=MPRAGE_PROBABILITY)})


def generate_cohort(output_root: Path, cases: int = 24, spacing: float = 2.0, seed: int = 0,
                    dataset_id: int = 900, name: str = "SimBraTS", num_processes: int = 1,
                    montage: bool = True, progress: bool = True) -> Path:
    """Write (or complete) ``output_root/DatasetXXX_Name`` and return its path."""
    if cases < 1:
        raise ValueError(f"--cases must be at least 1, got {cases}")
    folder = Path(output_root) / dataset_name(dataset_id, name)
    settings = {"generator": "autosynth_make_demo_dataset", "version": GENERATOR_VERSION,
                "seed": int(seed), "spacing_mm": float(spacing), "name": name}
    load_anatomy(float(spacing))  # fails early (and once) without nilearn
    wanted = [case_id(name, i) for i in range(cases)]
    _check_settings(folder, settings, set(wanted))
    todo = [i for i, case in enumerate(wanted) if not is_finished(folder, case)]
    bar = dict(total=len(todo), desc=f"simulate {folder.name}", unit="case",
               disable=not progress)
    init = (float(spacing), int(seed), folder, name)
    if num_processes > 1 and len(todo) > 1:
        with Pool(min(num_processes, len(todo)), _init_worker, init) as pool:
            for _ in tqdm(pool.imap_unordered(_make_case, todo), **bar):
                pass
    else:
        _init_worker(*init)
        for index in tqdm(todo, **bar):
            _make_case(index)
    write_text_atomic(folder / NOTICE_COPY, mni_notice() + "\n")
    dataset_json(folder, cases, settings).save(folder / "dataset.json")
    if montage:
        write_montage(folder, wanted, folder / MONTAGE_FILE)
    return folder
