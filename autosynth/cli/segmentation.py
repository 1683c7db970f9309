"""``autosynth_train_segmenter`` and ``autosynth_segmentation_utility``: does a synthetic target
serve a tumour segmenter as the real one does (documentation/evaluation.md)?"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autosynth import results_layout as layout
from autosynth.cli.device_option import add_device_option, resolve_device
from autosynth.dataset.dataset_json import DatasetJsonError
from autosynth.evaluation.errors import EvaluationError
from autosynth.evaluation.held_out import brain_masks, held_out_cases
from autosynth.evaluation.segmentation_utility import (check_same_scale, measure_utility,
                                                       predict_test_targets, write_utility)
from autosynth.evaluation.utility_table import REAL
from autosynth.experiment_planning.plans import PlansError
from autosynth.experiment_planning.splits import SplitsError
from autosynth.inference import PredictionError, PredictionSettings, TrainedModel
from autosynth.inference.segmentation import Segmenter
from autosynth.paths import (DatasetNotFoundError, find_dataset_name, preprocessed_root,
                             raw_root, results_root)
from autosynth.training.segmentation_trainer import (DEFAULT_FOLD, SegmentationRun,
                                                     SegmentationTrainer)

TRAIN_PROG = "autosynth_train_segmenter"
UTILITY_PROG = "autosynth_segmentation_utility"
LATEST = layout.checkpoint_name("latest")


def build_train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=TRAIN_PROG,
        description="Train the tumour segmenter that measures the segmentation utility of "
        "synthetic images: the configuration's U-Net at half the features, a softmax over "
        "background + the dataset's labels, Dice + cross-entropy, every real contrast of the "
        "development cases as input. It goes to $AUTOSYNTH_RESULTS/DatasetXXX/"
        f"{layout.SEGMENTER_FOLDER}/{layout.run_name(layout.SEGMENTER_TRAINER, '<plans>', '<config>')}"
        f"/ ({layout.SEGMENTER_PLAN_FILE}, fold_<FOLD>/ with checkpoints, training_log.txt and "
        "progress.png). An evaluation tool, small and fast by default (an epoch costs about "
        "what a synthesis epoch of the configuration costs: an estimated 10 minutes for the 12 "
        "epochs on the demo cohort with 2 free CPU cores): not a BraTS-grade segmenter.")
    parser.add_argument("-d", "--dataset", required=True, help="dataset id or name")
    parser.add_argument("-c", "--configuration", default="2d",
                        help="planned 2D configuration whose preprocessed data it reads "
                        "(default 2d)")
    parser.add_argument("-f", "--fold", default=DEFAULT_FOLD,
                        help="fold 0-4, or 'all' (default: every development case; the test "
                        "cases are never used)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="override the planned epochs (12); with --c this extends a "
                        "finished run")
    parser.add_argument("--c", dest="resume", action="store_true",
                        help=f"continue from {LATEST} exactly where it stopped")
    add_device_option(parser)
    parser.add_argument("--num-workers", type=int, default=None,
                        help="background processes building batches (default 2; 0 = in the "
                        "main process)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def train_main(argv: list[str] | None = None) -> int:
    args = build_train_parser().parse_args(argv)
    try:
        run = SegmentationRun.create(args.dataset, args.configuration, args.fold)
        if not args.resume and (run.output_folder / LATEST).is_file():
            print(f"{TRAIN_PROG}: {run.output_folder} already holds a run; use --c to continue "
                  "it or delete the folder to start again", file=sys.stderr)
            return 2
        trainer = SegmentationTrainer(run, device=resolve_device(args.device),
                                      num_workers=args.num_workers,
                                      progress=not args.no_progress)
        trainer.initialize()
        if args.resume and not trainer.resume():
            print(f"{TRAIN_PROG}: --c given but no {LATEST} in {run.output_folder}; starting "
                  "from scratch", file=sys.stderr)
        if args.epochs is not None:
            trainer.extend(args.epochs)
        trainer.run_training()
    except (DatasetNotFoundError, DatasetJsonError, PlansError, SplitsError,
            FileNotFoundError, ValueError) as err:
        print(f"{TRAIN_PROG}: {err}", file=sys.stderr)
        return 2
    print(f"done: {run.output_folder}")
    return 0


def build_utility_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=UTILITY_PROG,
        description="Segmentation utility of a synthesis model: predict the held-out test "
        "cases' target with the model, segment each test case with the trained segmenter "
        "(autosynth_train_segmenter) twice, with the real target and with the synthetic one "
        "in its place, and report per case and as mean [bootstrap 95 % interval] the Dice and "
        "HD95 of the BraTS regions (whole tumour 1+2+3, tumour core 1+3, enhancing 3) and the "
        "difference real - synthetic. Written to <model folder>/"
        f"{layout.UTILITY_FOLDER}/utility_summary.{{md,json}} with the segmentations.")
    parser.add_argument("-d", "--dataset", default=None,
                        help="dataset id or name (with -s/-t; -m needs none)")
    parser.add_argument("-m", "--model", default=None, help="model folder (<run>/<SRC>_to_<TGT>)")
    parser.add_argument("-s", "--source", default=None,
                        help="source contrast(s) of the model, several joined by commas")
    parser.add_argument("-t", "--target", default=None, help="target contrast of the model")
    parser.add_argument("-c", "--configuration", default="2d",
                        help="configuration of the model (with -s/-t; default 2d)")
    parser.add_argument("-tr", "--trainer", default=layout.DEFAULT_TRAINER,
                        help=f"trainer of the model (with -s/-t; default {layout.DEFAULT_TRAINER})")
    parser.add_argument("-f", "--folds", nargs="+", default=None,
                        help="model folds to average (default: every fold with the checkpoint)")
    parser.add_argument("--checkpoint", default="best", choices=["best", "final", "latest"],
                        help="model checkpoint of each fold (default best)")
    parser.add_argument("--segmenter-configuration", default="2d",
                        help="configuration of the segmenter (default 2d)")
    parser.add_argument("--segmenter-fold", default=DEFAULT_FOLD,
                        help=f"fold of the segmenter (default {DEFAULT_FOLD})")
    parser.add_argument("--substitute", action="append", default=[], metavar="NAME=FOLDER",
                        help="also score this folder of CASE<ending> target images (normalised "
                        "scale, case grid; e.g. a baseline) in place of the real target; "
                        "repeatable")
    parser.add_argument("--continue", dest="resume", action="store_true",
                        help="keep test predictions that exist (e.g. autosynth_test's); "
                        "default: predict again")
    parser.add_argument("-np", "--num-processes", type=int, default=1,
                        help="processes for the prediction (default 1)")
    add_device_option(parser)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def find_model(args) -> TrainedModel:
    if args.model:
        return TrainedModel.load(args.model)
    if not (args.source and args.target):
        raise EvaluationError("give the model folder with -m, or -s SOURCE -t TARGET")
    sources = [s.strip() for s in args.source.split(",") if s.strip()]
    try:
        folder = layout.find_model_folder(args.dataset, sources, args.target,
                                          args.configuration, args.trainer)
    except layout.ResultsLayoutError as err:
        raise EvaluationError(str(err)) from None
    return TrainedModel.load(folder)


def load_segmenter(dataset: str, configuration: str, fold: str, device: str) -> Segmenter:
    return Segmenter(layout.segmenter_folder(results_root() / dataset, configuration),
                     fold, "final", device)


def parse_substitutes(items: list[str]) -> dict[str, Path]:
    out = {}
    for item in items:
        name, _, folder = item.partition("=")
        if not name or not folder or name == REAL:
            raise EvaluationError(f"--substitute {item}: expected NAME=FOLDER (NAME not "
                                  f"'{REAL}')")
        if not Path(folder).is_dir():
            raise EvaluationError(f"--substitute {item}: {folder} is not a folder")
        out[name] = Path(folder)
    return out


def utility_main(argv: list[str] | None = None) -> int:
    args = build_utility_parser().parse_args(argv)
    device = resolve_device(args.device)
    settings = PredictionSettings(folds=args.folds, checkpoint=args.checkpoint, device=device)
    try:
        model = find_model(args)
        name = find_dataset_name(args.dataset or model.dataset_name)
        extra = parse_substitutes(args.substitute)
        segmenter = load_segmenter(name, args.segmenter_configuration, args.segmenter_fold,
                                   device)
        check_same_scale(segmenter, model.target, model.configuration.normalization[model.target],
                         str(model.folder))
        dataset_json, cases = held_out_cases(raw_root() / name, preprocessed_root() / name)
        masks = brain_masks(cases, results_root() / name / "test_set_masks")
        synthetic = predict_test_targets(model, dataset_json, cases, masks, settings,
                                         args.num_processes, args.resume, not args.no_progress)
        folder = layout.utility_folder(model.folder)
        result = measure_utility(segmenter, cases, masks, dataset_json, model.target,
                                 {"synthetic": synthetic, **extra}, folder / "segmentations")
    except (EvaluationError, PredictionError, DatasetNotFoundError, DatasetJsonError,
            PlansError) as err:
        print(f"{UTILITY_PROG}: {err}", file=sys.stderr)
        return 2
    print(write_utility(folder, result, f"Segmentation utility: {model.describe()}"))
    print(f"{UTILITY_PROG}: written {folder / 'utility_summary.md'} and "
          f"{folder / 'utility_summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(utility_main())
