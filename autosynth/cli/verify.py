"""``autosynth_verify``: the integrity check of a raw dataset, on its own."""
from __future__ import annotations

import argparse
import os
import sys

from autosynth.dataset.integrity import verify_dataset
from autosynth.paths import DatasetNotFoundError, raw_dataset_folder


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autosynth_verify",
        description="Check a raw dataset (in $AUTOSYNTH_RAW) for every defect at once: missing "
        "contrasts, unreadable, truncated or non-3D files, NaN/Inf voxels, empty images, "
        "size/spacing/origin/direction mismatches between a case's files, an invalid "
        "dataset.json and a wrong numTraining. Prints one line per problem (file: defect) and "
        "exits 1 if there is any. Never modifies a file.")
    parser.add_argument("-d", "--dataset", required=True,
                        help="dataset id (1, 001) or full name (Dataset001_BraTS2018)")
    parser.add_argument("-np", "--num-processes", type=int, default=max(1, min(4, os.cpu_count() or 1)),
                        help="worker processes reading files in parallel (default: up to 4)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        folder = raw_dataset_folder(args.dataset)
    except DatasetNotFoundError as err:
        print(f"autosynth_verify: {err}", file=sys.stderr)
        return 2
    problems = verify_dataset(folder, args.num_processes, progress=not args.no_progress)
    if problems:
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s) in {folder}", file=sys.stderr)
        return 1
    print(f"{folder}: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
