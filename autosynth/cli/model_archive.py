"""``autosynth_export_model_to_zip`` and ``autosynth_install_model_from_zip``: hand a trained
model to someone else as an inference-only archive."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autosynth import results_layout as layout
from autosynth.cli.predict import resolve_models
from autosynth.dataset.dataset_json import DatasetJsonError
from autosynth.experiment_planning.plans import PLANS_NAME
from autosynth.inference import PredictionError
from autosynth.inference.inference_information import information_path
from autosynth.inference.model_archive import export_models, install_archive
from autosynth.paths import DatasetNotFoundError, results_root

EXPORT = "autosynth_export_model_to_zip"
INSTALL = "autosynth_install_model_from_zip"


def build_export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=EXPORT,
        description="Write an inference-only archive of trained model folder(s): per fold the "
        "chosen checkpoint reduced to the weights and the network description (loadable with "
        "torch.load(weights_only=True)), the plan, dataset.json (contrast names), the intensity "
        "reference --denormalize needs, the validation summaries, the dataset's licence and "
        "notice text and a generated README. Nothing of the training data is included. "
        f"Install it with {INSTALL}. See documentation/prediction.md.")
    parser.add_argument("-o", "--output", required=True, type=Path,
                        help="the archive to write, e.g. T1_to_FLAIR.zip")
    parser.add_argument("-s", "--source", default=None,
                        help="source contrast(s), several joined by commas (unless -m)")
    parser.add_argument("-t", "--target", default=None, help="target contrast (unless -m)")
    parser.add_argument("-d", "--dataset", default=None,
                        help="dataset id or name (may be left out when one dataset has the "
                        "translation)")
    parser.add_argument("-c", "--configuration", nargs="+", default=["2d"],
                        help="configuration(s) to export (default 2d), paired with -tr")
    parser.add_argument("-tr", "--trainer", nargs="+", default=[layout.DEFAULT_TRAINER],
                        help=f"trainer(s) to export (default {layout.DEFAULT_TRAINER})")
    parser.add_argument("-p", "--plans", default=PLANS_NAME,
                        help=f"plans name (default {PLANS_NAME})")
    parser.add_argument("-m", "--model-folder", nargs="+", type=Path, default=None,
                        help="model folder(s) themselves, instead of -d/-c/-tr/-s/-t")
    parser.add_argument("--best", action="store_true",
                        help="export the model or ensemble autosynth_find_best_configuration "
                        f"chose (and its {layout.INFERENCE_INFORMATION_FILE}, so that "
                        "autosynth_predict --best works after installing)")
    parser.add_argument("-f", "--folds", nargs="+", default=None,
                        help="folds to export (default: every fold with the checkpoint; with "
                        "--best, the chosen folds)")
    parser.add_argument("--checkpoint", default=None, choices=list(layout.CHECKPOINTS),
                        help="checkpoint of each fold to export (default best)")
    return parser


def export_main(argv: list[str] | None = None) -> int:
    args = build_export_parser().parse_args(argv)
    args.tta = False
    try:
        models = resolve_models(args)
        extra = {}
        if args.best:
            chosen = information_path(models[0].dataset_name, models[0].sources,
                                      models[0].target)
            for file in (chosen, chosen.with_name(layout.INFERENCE_INSTRUCTIONS_FILE)):
                if file.is_file():
                    extra[file.relative_to(results_root()).as_posix()] = file
        manifest = export_models([m.folder for m in models], args.output, args.folds,
                                 args.checkpoint or "best", extra)
    except (PredictionError, DatasetNotFoundError, DatasetJsonError) as err:
        print(f"{EXPORT}: {err}", file=sys.stderr)
        return 2
    described = "; ".join(f"{m['folder']} folds {' '.join(m['folds'])}"
                          for m in manifest["models"])
    print(f"{EXPORT}: {described} -> {args.output} ({len(manifest['files'])} files)")
    return 0


def build_install_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=INSTALL,
        description=f"Unpack an archive written by {EXPORT} into $AUTOSYNTH_RESULTS, after "
        "checking its file names, the SHA-256 of every file and that every checkpoint loads "
        "with torch.load(weights_only=True). A file that already exists with other content "
        "belongs to a different model and is never overwritten (the install is refused before "
        "anything is written); installing the same archive again changes nothing.")
    parser.add_argument("archive", type=Path, help="the .zip archive")
    return parser


def install_main(argv: list[str] | None = None) -> int:
    args = build_install_parser().parse_args(argv)
    try:
        folders = install_archive(args.archive, results_root())
    except (PredictionError, OSError) as err:
        print(f"{INSTALL}: {err}", file=sys.stderr)
        return 2
    for folder in folders:
        print(f"{INSTALL}: installed {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(export_main())
