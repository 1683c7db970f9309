"""``autosynth_predict``: synthesise the target contrast for a new cohort with a trained model."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from autosynth import results_layout as layout
from autosynth.cli.device_option import add_device_option, resolve_device
from autosynth.dataset.dataset_json import DatasetJsonError
from autosynth.experiment_planning.plans import PLANS_NAME
from autosynth.inference import (PredictionError, PredictionSettings, TrainedModel,
                                 discover_input_cases, predict_cohort, select_part)
from autosynth.inference.cohort import STD_FOLDER
from autosynth.inference.inference_information import FindBestError, read_inference_information
from autosynth.paths import DatasetNotFoundError

PROG = "autosynth_predict"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Synthesise TARGET from SOURCE for every case of an input folder and write "
        "OUT/CASE.nii.gz on exactly the input's grid (size, spacing, origin, direction), 0 "
        "outside the brain. The model's own plan (the copy in its folder) preprocesses the "
        "input; every step is inverted afterwards. Intensities are on the normalised [0, 1] "
        "scale the model was trained on unless --denormalize. See documentation/prediction.md.")
    io = parser.add_argument_group("input and output")
    io.add_argument("-i", "--input", required=True, type=Path,
                    help="folder of input images: CASE_XXXX.nii.gz with XXXX the channel "
                    "number in the model's dataset.json, or, for a model with one source "
                    "contrast, plain CASE.nii.gz files. Never modified")
    io.add_argument("-o", "--output", required=True, type=Path,
                    help="output folder (created); gets CASE.nii.gz per case and "
                    "prediction_info.json")
    io.add_argument("--masks", type=Path, default=None,
                    help="folder of brain masks CASE.nii.gz on the inputs' grids; without it "
                    "the mask is derived from the source images (non-zero, largest component, "
                    "holes filled: right for skull-stripped images); a derived mask covering "
                    "most of the field of view or of its border is refused as not "
                    "skull-stripped")
    io.add_argument("--force-derived-mask", action="store_true",
                    help="predict with the derived mask even where it looks like a whole head "
                    "(not skull-stripped input) rather than a brain")
    model = parser.add_argument_group("model (by name, or -m)")
    model.add_argument("-s", "--source", default=None,
                       help="source contrast(s) as named in dataset.json; several joined by "
                       "commas, e.g. T1,T2 (required unless -m)")
    model.add_argument("-t", "--target", default=None,
                       help="target contrast, e.g. FLAIR (required unless -m)")
    model.add_argument("-d", "--dataset", default=None,
                       help="dataset id or name the model was trained on; may be left out when "
                       "one dataset in $AUTOSYNTH_RESULTS has this translation")
    model.add_argument("-c", "--configuration", nargs="+", default=["2d"],
                       help="configuration the model was trained with (default 2d); several "
                       "name an ensemble, e.g. -c 2d 2d_paper, paired with -tr in order (one "
                       "value of either applies to all)")
    model.add_argument("-tr", "--trainer", nargs="+", default=[layout.DEFAULT_TRAINER],
                       help="trainer class the model was trained with (default "
                       f"{layout.DEFAULT_TRAINER}); several name an ensemble, paired with -c")
    model.add_argument("-p", "--plans", default=PLANS_NAME,
                       help=f"plans name the model folder is named with (default {PLANS_NAME})")
    model.add_argument("-m", "--model-folder", type=Path, nargs="+", default=None,
                       help="the model folder itself (.../<Trainer>__<plans>__<config>/"
                       "<SRC>_to_<TGT>), instead of -d/-c/-tr/-s/-t; several folders are an "
                       "ensemble: each predicts with its own preprocessing and the results are "
                       "averaged on the input grid")
    model.add_argument("--best", action="store_true",
                       help="use the model or ensemble, folds and checkpoint that "
                       "autosynth_find_best_configuration chose for -s/-t (its "
                       f"{layout.INFERENCE_INFORMATION_FILE}); -f/--checkpoint/--tta given "
                       "here override its choice")
    model.add_argument("-f", "--folds", nargs="+", default=None,
                       help="folds to average, e.g. -f 0 1 2 3 4 or -f all (default: every fold "
                       "of the model folder that has the checkpoint); an ensemble uses these "
                       "folds of every member")
    model.add_argument("--checkpoint", default=None, choices=list(layout.CHECKPOINTS),
                       help="checkpoint of each fold: best (lowest validation loss, the paper's "
                       "choice; default), final or latest")
    run = parser.add_argument_group("how")
    run.add_argument("--tta", action="store_true",
                     help="test-time augmentation: also predict the left-right mirrored slices "
                     "and average (twice the network time)")
    run.add_argument("--save-std", action="store_true",
                     help=f"also write OUT/{STD_FOLDER}/CASE.nii.gz: the voxel-wise standard "
                     "deviation over the folds (and the mirrored passes with --tta; over all "
                     "members of an ensemble), on the prediction's grid and scale. Costs one "
                     "more network pass per fold")
    run.add_argument("--denormalize", action="store_true",
                     help="write intensities on the target contrast's scale of the training "
                     "set (median in-brain mean/SD of the development cases) instead of [0, 1]")
    run.add_argument("--continue", dest="resume", action="store_true",
                     help="skip cases whose output exists (outputs are written atomically, so "
                     "an existing file is complete). Several runs with --continue into one "
                     "folder share the cohort: each case is claimed with a lock file")
    run.add_argument("-np", "--num-processes", type=int, default=1,
                     help="worker processes, each predicting whole cases with cores/N threads "
                     "(default 1: all cores on one case at a time)")
    run.add_argument("--num-parts", type=int, default=1,
                     help="split the cohort into K disjoint parts (sorted case ids, every K-th "
                     "case) to run K predictions side by side, e.g. one per GPU (default 1)")
    run.add_argument("--part-id", type=int, default=0, help="which part this run does, 0..K-1")
    add_device_option(run)
    run.add_argument("--batch-size", type=int, default=None,
                     help="slices per forward pass (default 4 on CPU, 32 on GPU; measured in "
                     "benchmarks/inference.py)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def _pairs(configurations: list[str], trainers: list[str]) -> list[tuple[str, str]]:
    """-c and -tr paired in order; one value of either applies to every value of the other."""
    if len(configurations) == 1 or len(trainers) == 1 or len(configurations) == len(trainers):
        n = max(len(configurations), len(trainers))
        return [(configurations[i if len(configurations) > 1 else 0],
                 trainers[i if len(trainers) > 1 else 0]) for i in range(n)]
    raise PredictionError(f"{len(configurations)} configurations (-c) and {len(trainers)} "
                          "trainers (-tr): give one of either, or as many of both")


def resolve_models(args: argparse.Namespace) -> list[TrainedModel]:
    """The :class:`TrainedModel` (several: an ensemble) named by -m, by --best or by
    -d/-c/-tr/-s/-t; checks -s/-t against each. ``--best`` also fills in folds, checkpoint
    and test-time mirroring where they were not given."""
    sources = [s.strip() for s in args.source.split(",") if s.strip()] if args.source else None
    if args.best and args.model_folder is None:
        if not sources or not args.target:
            raise PredictionError("--best needs the translation: -s SOURCE -t TARGET")
        folders = _follow_best(args, sources)
    elif args.model_folder is None:
        if not sources or not args.target:
            raise PredictionError("give the translation with -s SOURCE -t TARGET (or the model "
                                  "folder with -m)")
        try:
            folders = [layout.find_model_folder(args.dataset, sources, args.target,
                                                configuration, trainer, args.plans)
                       for configuration, trainer in _pairs(args.configuration, args.trainer)]
        except layout.ResultsLayoutError as err:
            raise PredictionError(str(err)) from None
    else:
        if args.best:
            raise PredictionError("give either --best or -m, not both")
        folders = args.model_folder
    models = [TrainedModel.load(folder) for folder in folders]
    for model in models:
        if sources is not None and \
                [s.lower() for s in sources] != [s.lower() for s in model.sources]:
            raise PredictionError(f"{model.folder}: the model translates "
                                  f"{'+'.join(model.sources)}, not {'+'.join(sources)}")
        if args.target and args.target.lower() != model.target.lower():
            raise PredictionError(f"{model.folder}: the model synthesises {model.target}, not "
                                  f"{args.target}")
    return models


def _follow_best(args: argparse.Namespace, sources: list[str]) -> list[Path]:
    """Model folders of ``inference_information.json``; its folds, checkpoint and mirroring
    unless given on the command line."""
    try:
        chosen = read_inference_information(args.dataset, sources, args.target)
    except FindBestError as err:
        raise PredictionError(str(err)) from None
    if args.folds is None:
        args.folds = chosen.folds
    if args.checkpoint is None:
        args.checkpoint = chosen.checkpoint
    args.tta = args.tta or chosen.tta
    return chosen.model_folders


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        models = resolve_models(args)
        model = models[0]
        cases = discover_input_cases(args.input, model.sources, model.dataset_json, args.masks)
        part = select_part(cases, args.num_parts, args.part_id)
        settings = PredictionSettings(folds=args.folds, checkpoint=args.checkpoint or "best",
                                      save_std=args.save_std,
                                      mirror=args.tta, denormalize=args.denormalize,
                                      device=resolve_device(args.device),
                                      batch_size=args.batch_size,
                                      force_derived_mask=args.force_derived_mask)
        result = predict_cohort(part, models, args.output, settings, args.num_processes,
                                args.resume, progress=not args.no_progress,
                                report=_report_case)
    except (PredictionError, DatasetNotFoundError, DatasetJsonError) as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    described = model.describe() if len(models) == 1 else \
        f"ensemble of {len(models)}: " + "; ".join(m.describe() for m in models)
    print(f"{PROG}: {described}: {result['predicted']} case(s) predicted, "
          f"{result['skipped']} skipped (already done), {result['elsewhere']} left to other "
          f"runs (locked) -> {args.output}")
    return 0


def _report_case(message: str) -> None:
    """One failed case, one line, as it happens (above the progress bar)."""
    tqdm.write(f"{PROG}: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
