"""``autosynth_ensemble -i DIR1 DIR2 ... -o OUT``: average finished prediction folders."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autosynth.dataset.dataset_json import SUPPORTED_FILE_ENDINGS
from autosynth.inference import PredictionError
from autosynth.inference.ensemble_folders import ensemble_folders

PROG = "autosynth_ensemble"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Average two or more finished prediction folders (e.g. of autosynth_predict "
        "with different models) case by case, voxel by voxel. The folders must hold the same "
        "cases, each case on one grid in all of them (size, spacing, origin, direction) and on "
        "one intensity scale (their prediction_info.json); outputs take the first folder's "
        "file headers. To ensemble models directly, give autosynth_predict several -m (or -c) "
        "instead. See documentation/model_selection.md.")
    parser.add_argument("-i", "--input", nargs="+", required=True, type=Path,
                        help="prediction folders to average (two or more); never modified")
    parser.add_argument("-o", "--output", required=True, type=Path,
                        help="output folder (created): CASE<ending> per case and "
                        "prediction_info.json naming the members")
    parser.add_argument("--file-ending", default=".nii.gz", choices=SUPPORTED_FILE_ENDINGS,
                        help="ending of the prediction files (default .nii.gz)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        count = ensemble_folders(args.input, args.output, args.file_ending)
    except PredictionError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    print(f"{PROG}: {count} case(s), the mean of {len(args.input)} folders -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
