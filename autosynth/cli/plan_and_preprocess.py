"""``autosynth_plan_and_preprocess`` and its three steps as separate commands:
``autosynth_extract_fingerprint``, ``autosynth_plan`` and ``autosynth_preprocess``.

Each prints known failures as one clear message (file: problem) and exits non-zero, without a
traceback: 1 for a problem with the data or the plans, 2 for an unknown dataset.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable

from autosynth.dataset.cases import discover_cases
from autosynth.dataset.dataset_json import DATASET_JSON_FILE, DatasetJson, DatasetJsonError
from autosynth.dataset.image_io import ImageIOError
from autosynth.dataset.integrity import DatasetIntegrityError, assert_dataset_ok
from autosynth.experiment_planning.fingerprint import FingerprintError, extract_fingerprint
from autosynth.experiment_planning.configurations import (PLANNERS, PREPROCESSED_BY_DEFAULT,
                                                          plan_experiment)
from autosynth.experiment_planning.plans import Plans, PlansError
from autosynth.experiment_planning.splits import DEFAULT_SEED, SPLITS_FILE, SplitsError, ensure_splits
from autosynth.paths import DatasetNotFoundError, preprocessed_dataset_folder, raw_dataset_folder
from autosynth.dataset.case_io import CaseReadError
from autosynth.preprocessing.case_preprocessing import PreprocessingError
from autosynth.preprocessing.preprocessor import preprocess_dataset
from autosynth.preprocessing.properties import PropertiesError
from autosynth.utils.parallel import worker_pool

KNOWN_ERRORS = (DatasetJsonError, ImageIOError, FingerprintError, PlansError, SplitsError,
                CaseReadError, PreprocessingError, PropertiesError)
# On the 2-core development machine -np 2 took 1.15x as long as -np 1 (2026-12-02, 4 BraTS-sized
# cases, benchmarks/limits.py, documentation/benchmarks.md): one worker per two cores, at most 4
DEFAULT_PROCESSES = max(1, min(4, (os.cpu_count() or 1) // 2))
# documentation/plans.md gives each configuration's disk cost (benchmarks/configurations.py)
CONFIGURATIONS_HELP = (
    "2d: slices planned from the data (paper U-Net); 2d_paper: the paper's exact settings "
    "(whole slices at 224x224); 2.5d: as 2d with neighbouring slices as extra inputs and the "
    "modern residual U-Net; 3d_fullres: 3D patches at the median spacing, residual 3D U-Net. "
    "Disk per BraTS-sized case (240x240x155, 4 contrasts, float32): 2d 45 MB, 2d_paper "
    "103 MB, 2.5d 45 MB, 3d_fullres 44 MB")


# ----------------------------------------------------------------------------- options
def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-d", "--dataset", required=True,
                        help="dataset id (1, 001) or full name (Dataset001_BraTS2018); the raw "
                        "dataset is read from $AUTOSYNTH_RAW, results go to "
                        "$AUTOSYNTH_PREPROCESSED/<name>/")
    parser.add_argument("-np", "--num-processes", type=int, default=DEFAULT_PROCESSES,
                        help="worker processes, each holding one case at a time (memory grows "
                        "with this number; default: half the CPU count, at most 4, at least 1)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _verify_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verify", action="store_true",
                        help="first run the integrity check of the raw dataset (as "
                        "autosynth_verify) and stop with its list of problems if any")


def _fingerprint_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true",
                        help="recompute fingerprint.json even when the raw files are unchanged "
                        "(by default it is reused while their names, sizes and times match); "
                        "also re-plan configurations already in plans.json, discarding edits "
                        "made to them, and make a new split (a " + SPLITS_FILE + " in the raw "
                        "folder is always used)")


def _plan_options(parser: argparse.ArgumentParser, configurations_help: str) -> None:
    parser.add_argument("-c", "--configurations", nargs="+", default=None,
                        metavar="CONFIG", help=configurations_help)
    parser.add_argument("--memory-gb", type=float, default=8.0,
                        help="memory (GiB, of the GPU that will train) the 2d configuration's "
                        "batch size is planned for: the largest batch whose estimated "
                        "training memory fits, clipped to [2, 32] and to 5%% of the training "
                        "slices (default 8, as nnU-Net); 2d_paper keeps the paper's 32. Like "
                        "--precision and --storage-dtype it applies to configurations planned "
                        "now, not to those kept from plans.json (see --overwrite)")
    parser.add_argument("--precision", choices=("float32", "bfloat16", "float16"),
                        default="float32",
                        help="number format of the activations assumed by the memory estimate "
                        "(default float32; bfloat16/float16 for mixed-precision GPU training)")
    parser.add_argument("--storage-dtype", choices=("float32", "float16"), default="float32",
                        help="number format of the preprocessed image arrays (float16 halves "
                        "disk and page-cache use; default float32)")
    parser.add_argument("--split-seed", type=int, default=DEFAULT_SEED,
                        help=f"seed of the patient-level split (default {DEFAULT_SEED}); used "
                        f"only when no {SPLITS_FILE} exists yet, or with --overwrite")


# ----------------------------------------------------------------------------- steps
def _folders(dataset: str):
    raw = raw_dataset_folder(dataset)
    return raw, preprocessed_dataset_folder(raw.name)


def _verify(raw, args) -> None:
    assert_dataset_ok(raw, args.num_processes, progress=not args.no_progress)


def _fingerprint(args) -> None:
    raw, pre = _folders(args.dataset)
    if getattr(args, "verify", False):
        _verify(raw, args)
    fingerprint = extract_fingerprint(raw, pre, args.num_processes, not args.no_progress,
                                      args.overwrite)
    print(f"fingerprint of {fingerprint['n_cases']} case(s): {pre / 'fingerprint.json'}")


def _plan(args) -> None:
    raw, pre = _folders(args.dataset)
    configurations = list(dict.fromkeys([*PLANNERS, *(args.configurations or [])])) \
        if getattr(args, "plan_all", False) else (args.configurations or list(PLANNERS))
    plans, kept = plan_experiment(pre, configurations, args.memory_gb, args.precision,
                                  args.storage_dtype, args.overwrite)
    dataset_json = DatasetJson.load(raw)
    dataset_json.save(pre / DATASET_JSON_FILE)
    for name in configurations:
        config = plans.configurations[name]
        how = "kept from plans.json (use --overwrite to re-plan)" if name in kept else "planned"
        print(f"{name}: {how}; patch {config.patch_size}, batch {config.batch_size}, "
              f"{config.network.num_stages} stages")
    patients = dataset_json.extra.get("patients")
    if patients is not None and not isinstance(patients, dict):
        raise DatasetJsonError(f"{raw / DATASET_JSON_FILE}: 'patients' must map case ids to "
                               "patient ids")
    case_ids = [c.case_id for c in discover_cases(raw, dataset_json, "Tr")]
    splits = ensure_splits(raw, pre, case_ids, args.split_seed, patients, args.overwrite)
    print(f"splits: {len(splits['test'])} test case(s), {len(splits['folds'])} folds: "
          f"{pre / SPLITS_FILE}")


def _preprocess(args) -> None:
    raw, pre = _folders(args.dataset)
    plans = Plans.load(pre)
    names = args.configurations or [c for c in PREPROCESSED_BY_DEFAULT
                                    if c in plans.configurations]
    counts = preprocess_dataset(raw, pre, plans, names, args.num_processes,
                                not args.no_progress)
    for name in names:
        print(f"{name}: {counts[name]['done']} case(s) preprocessed, {counts[name]['skipped']} "
              f"already up to date: {pre / plans.configuration(name).data_folder}")


def _run(prog: str, step: Callable, args) -> int:
    try:
        with worker_pool(args.num_processes):   # one pool for every step of the run
            step(args)
    except DatasetNotFoundError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 2
    except DatasetIntegrityError as err:
        for problem in err.problems:
            print(problem)
        print(f"{prog}: {len(err.problems)} problem(s) in the dataset; fix them and run again",
              file=sys.stderr)
        return 1
    except KNOWN_ERRORS as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    return 0


# ----------------------------------------------------------------------------- commands
def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=prog, description=description)


def build_parser() -> argparse.ArgumentParser:
    parser = _parser("autosynth_plan_and_preprocess",
                     "Fingerprint a raw dataset, plan its configurations (plans.json), make the "
                     f"patient-level split ({SPLITS_FILE}) and preprocess every training "
                     "case, into $AUTOSYNTH_PREPROCESSED/<dataset>/. Each step reuses what is "
                     "still valid, so running it again is cheap. documentation/plans.md "
                     "describes every output.")
    _common(parser)
    _verify_option(parser)
    _fingerprint_options(parser)
    _plan_options(parser, "configurations to preprocess (all of "
                          f"{', '.join(PLANNERS)} are planned; default: preprocess "
                          f"{' '.join(PREPROCESSED_BY_DEFAULT)}). " + CONFIGURATIONS_HELP)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    def all_steps(a):
        _fingerprint(a)
        a.plan_all = True
        _plan(a)
        a.configurations = a.configurations or list(PREPROCESSED_BY_DEFAULT)
        _preprocess(a)

    return _run(parser.prog, all_steps, args)


def build_extract_fingerprint_parser() -> argparse.ArgumentParser:
    parser = _parser("autosynth_extract_fingerprint",
                     "Measure a raw dataset once: geometry, brain box, slice occupancy and "
                     "intensity statistics per case, and dataset-wide medians, written to "
                     "$AUTOSYNTH_PREPROCESSED/<dataset>/fingerprint.json.")
    _common(parser)
    _verify_option(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="recompute even when the raw files are unchanged")
    return parser


def extract_fingerprint_main(argv: list[str] | None = None) -> int:
    parser = build_extract_fingerprint_parser()
    return _run(parser.prog, _fingerprint, parser.parse_args(argv))


def build_plan_parser() -> argparse.ArgumentParser:
    parser = _parser("autosynth_plan",
                     "Plan configurations from fingerprint.json into plans.json (configurations"
                     " already there are kept with their edits unless --overwrite) and write "
                     f"the patient-level split {SPLITS_FILE}.")
    _common(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="re-plan configurations already in plans.json (discarding edits "
                        "made to them) and make a new split")
    _plan_options(parser, f"configurations to plan (default: {' '.join(PLANNERS)}). "
                  + CONFIGURATIONS_HELP)
    return parser


def plan_main(argv: list[str] | None = None) -> int:
    parser = build_plan_parser()
    return _run(parser.prog, _plan, parser.parse_args(argv))


def build_preprocess_parser() -> argparse.ArgumentParser:
    parser = _parser("autosynth_preprocess",
                     "Preprocess every training case for configurations of plans.json into "
                     "$AUTOSYNTH_PREPROCESSED/<dataset>/<configuration>/. Cases whose raw files "
                     "and relevant plan fields are unchanged are skipped.")
    _common(parser)
    parser.add_argument("-c", "--configurations", nargs="+", default=None, metavar="CONFIG",
                        help="configurations to preprocess (default: "
                        f"{' '.join(PREPROCESSED_BY_DEFAULT)}, those of them in plans.json). "
                        + CONFIGURATIONS_HELP)
    return parser


def preprocess_main(argv: list[str] | None = None) -> int:
    parser = build_preprocess_parser()
    return _run(parser.prog, _preprocess, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
