"""``autosynth_make_demo_dataset``: write the simulated BraTS-like demo cohort."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from autosynth.paths import raw_root
from dataset_conversion.simulated_brats.anatomy import MissingDemoDependencyError
from dataset_conversion.simulated_brats.cohort import CohortSettingsError, generate_cohort


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autosynth_make_demo_dataset",
        description="Simulate a BraTS-like cohort (T1, T2, FLAIR, brain masks, tumour labels) "
                    "from the MNI ICBM152 anatomy and MR signal equations, in the raw layout. "
                    "Needs nilearn (pip install 'autosynth[demo]'). Re-running completes an "
                    "interrupted run.")
    parser.add_argument("-o", "--output-root", type=Path, default=None,
                        help="folder that receives DatasetXXX_Name (default: AUTOSYNTH_RAW)")
    parser.add_argument("--cases", type=int, default=24, help="number of subjects (default 24)")
    parser.add_argument("--spacing", type=float, default=2.0,
                        help="isotropic voxel size in mm (default 2.0; 1.0 is BraTS-like)")
    parser.add_argument("--seed", type=int, default=0, help="base random seed (default 0)")
    parser.add_argument("--id", dest="dataset_id", type=int, default=900,
                        help="dataset id (default 900)")
    parser.add_argument("--name", default="SimBraTS", help="dataset name (default SimBraTS)")
    parser.add_argument("-np", "--num-processes", type=int, default=1,
                        help="parallel processes (default 1)")
    parser.add_argument("--no-montage", action="store_true",
                        help="do not write the montage PNG")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    output_root = args.output_root if args.output_root is not None else raw_root()
    start = time.perf_counter()
    try:
        folder = generate_cohort(output_root, args.cases, args.spacing, args.seed,
                                 args.dataset_id, args.name, args.num_processes,
                                 montage=not args.no_montage, progress=not args.quiet)
    except (MissingDemoDependencyError, CohortSettingsError, ValueError) as err:
        print(f"autosynth_make_demo_dataset: {err}", file=sys.stderr)
        return 1
    print(f"wrote {folder} ({args.cases} cases at {args.spacing:g} mm) in "
          f"{time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
