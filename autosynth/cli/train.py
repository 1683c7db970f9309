"""``autosynth_train SOURCE TARGET FOLD``: train one translation on one fold."""
from __future__ import annotations

import argparse
import os
import sys

import torch
from torch.multiprocessing.spawn import ProcessException

from autosynth import results_layout as layout
from autosynth.cli.device_option import add_device_option, resolve_device
from autosynth.evaluation.cross_validation import validate_fold_original_space
from autosynth.evaluation.errors import EvaluationError
from autosynth.evaluation.preprocessed_validation import validate_fold
from autosynth.inference.errors import PredictionError
from autosynth.experiment_planning.plans import PLANS_FILE
from autosynth.paths import DatasetNotFoundError, preprocessed_root
from autosynth.training import distributed as ddp
from autosynth.training.context import TrainingRun
from autosynth.training.pretrained import load_pretrained_weights
from autosynth.training.registry import get_trainer_class

LATEST, BEST, FINAL = (layout.checkpoint_name(c) for c in ("latest", "best", "final"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autosynth_train",
        description="Train a network that synthesises the TARGET contrast from SOURCE on one "
        "fold of a planned and preprocessed dataset (e.g. `autosynth_train T1 FLAIR 0`). The "
        "model goes to $AUTOSYNTH_RESULTS/DatasetXXX/"
        f"{layout.run_name('<trainer>', '<plans>', '<config>')}/"
        f"{layout.translation_name(['<SRC>'], '<TGT>')}/{layout.folder_name_of('<FOLD>')}/ "
        f"with {BEST} (lowest validation loss), {LATEST} (every epoch), {FINAL}, "
        "training_log.txt and progress.png. At the end the fold's validation cases are "
        f"predicted from the raw images (as autosynth_predict -f FOLD would) into "
        f"{layout.VALIDATION_FOLDER}/ and scored there (summary.json); "
        f"{layout.PREPROCESSED_VALIDATION_FOLDER}/ holds the preprocessed-space scores.")
    parser.add_argument("source", help="source contrast name(s) from dataset.json; several "
                        "joined by commas for multi-input synthesis, e.g. T1,T2")
    parser.add_argument("target", help="target contrast name, e.g. FLAIR")
    parser.add_argument("fold", help="cross-validation fold 0-4, or 'all' (train on every "
                        "non-test case)")
    parser.add_argument("-d", "--dataset", default=None, help="dataset id or name; may be left "
                        "out when exactly one dataset is preprocessed")
    parser.add_argument("-c", "--configuration", default="2d",
                        help="planned configuration: 2d (default), 2d_paper, 2.5d or "
                        "3d_fullres (autosynth_plan_and_preprocess --help says what each is)")
    parser.add_argument("-tr", "--trainer", default=layout.DEFAULT_TRAINER,
                        help="trainer class: SynthesisTrainer (default), "
                        "SynthesisTrainer_TransposedConv, SynthesisTrainer_BatchNorm, "
                        "SynthesisTrainer_MAELoss, SynthesisTrainer_<N>epochs, or a class from "
                        "a module named in $AUTOSYNTH_EXTRA_TRAINERS")
    parser.add_argument("--c", dest="resume", action="store_true",
                        help=f"continue from {LATEST} exactly where it stopped")
    parser.add_argument("--val", action="store_true",
                        help=f"only redo the end-of-training validation in the original space "
                        f"({layout.folder_name_of('<FOLD>')}/{layout.VALIDATION_FOLDER}/) with "
                        f"the fold's {BEST}; no training")
    parser.add_argument("--pretrained-weights", default=None, metavar="CHECKPOINT",
                        help="start from the network weights of this checkpoint (e.g. another "
                        f"model's fold_0/{BEST}; fine-tuning) instead of a random "
                        "initialisation; every layer must match in name and shape. Optimiser, "
                        "epochs and history start fresh. Not with --c")
    parser.add_argument("--epochs", type=int, default=None,
                        help="override the planned number of epochs; with --c this extends a "
                        "finished run")
    add_device_option(parser)
    parser.add_argument("--num-workers", type=int, default=None,
                        help="background processes building batches (default 2; 0 = in the "
                        "main process)")
    parser.add_argument("--num-gpus", type=int, default=1,
                        help="data-parallel processes to spawn on this machine (DDP; one per "
                        "GPU, NCCL; with --device cpu they share the CPU over gloo). The plan's "
                        "batch stays the global batch: each process takes batch / K slices. "
                        "Under torchrun leave this at 1: the process count comes from torchrun")
    parser.add_argument("--time-budget", type=float, default=None, metavar="MINUTES",
                        help="stop training once this many minutes of training have passed "
                        "(counted over resumed runs; the epoch running then ends early, is "
                        "validated and checkpointed): to compare configurations at equal cost")
    parser.add_argument("--budget-clock", choices=("wall", "cpu"), default="wall",
                        help="what --time-budget counts: wall-clock time (default) or this "
                        "process's CPU time (fairer on a shared machine; use --num-workers 0 "
                        "so that batch building is counted too)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def single_preprocessed_dataset() -> str:
    names = sorted(p.name for p in preprocessed_root().iterdir()
                   if p.is_dir() and (p / PLANS_FILE).is_file())
    if len(names) != 1:
        raise DatasetNotFoundError(
            f"give the dataset with -d: {len(names)} preprocessed datasets in "
            f"{preprocessed_root()} ({', '.join(names) or 'none'})")
    return names[0]


def train_process(args: argparse.Namespace) -> int:
    """One process's share of a run: the whole run, or one rank under DDP."""
    context = ddp.context_from_environment()
    try:
        dataset = args.dataset or single_preprocessed_dataset()
        trainer_class = get_trainer_class(args.trainer)
        run = TrainingRun.create(dataset, args.configuration, args.fold,
                                 [s.strip() for s in args.source.split(",") if s.strip()],
                                 args.target, trainer_class.__name__)
    except (DatasetNotFoundError, FileNotFoundError, ValueError, ImportError) as err:
        print(f"autosynth_train: {err}", file=sys.stderr)
        return 2
    if args.val:
        return validate_original_space(run, resolve_device(args.device), strict=True)
    if args.resume and args.pretrained_weights:
        print("autosynth_train: give --c (continue this run) or --pretrained-weights (start a "
              "new one from other weights), not both", file=sys.stderr)
        return 2
    if not args.resume and (run.output_folder / LATEST).is_file():
        print(f"autosynth_train: {run.output_folder} already holds a run; use --c to continue "
              "it or delete the folder to start again", file=sys.stderr)
        return 2
    device = ddp.device_for(context, resolve_device(args.device))
    ddp.initialize(context, device)
    try:
        trainer = trainer_class(run, device=device, num_workers=args.num_workers,
                                compile_network=args.compile, progress=not args.no_progress,
                                distributed=context)
        if args.time_budget is not None:
            trainer.set_time_budget(args.time_budget * 60, args.budget_clock)
        trainer.initialize()
        if args.pretrained_weights:
            count = load_pretrained_weights(trainer.network, args.pretrained_weights)
            loss, psnr = trainer.validate()
            trainer.log(f"{count} weight tensors from {args.pretrained_weights}; validation "
                        f"loss before training {loss:.6f} (PSNR {psnr:.2f} dB)")
        if args.resume and not trainer.resume() and context.is_main:
            print(f"autosynth_train: --c given but no {LATEST} in "
                  f"{run.output_folder}; starting from scratch", file=sys.stderr)
        if args.epochs is not None:
            trainer.extend(args.epochs)
        trainer.run_training()
        validate_fold(trainer)
    except (FileNotFoundError, ValueError) as err:
        print(f"autosynth_train: {err}", file=sys.stderr)
        return 2
    finally:
        ddp.shutdown()
    if context.is_main:
        if str(run.fold).isdigit():
            validate_original_space(run, device, strict=False)
        print(f"done: {run.output_folder}")
    return 0


def validate_original_space(run: TrainingRun, device, strict: bool) -> int:
    """The fold's validation in the original space; a failure after a finished training is
    reported (``--val`` redoes it) but does not fail the training (``strict`` False)."""
    try:
        summary = validate_fold_original_space(run.model_folder, str(run.fold),
                                               device=str(device))
    except (EvaluationError, PredictionError, FileNotFoundError) as err:
        print(f"autosynth_train: validation in the original space "
              f"{'failed' if strict else 'skipped'}: {err}", file=sys.stderr)
        return 2 if strict else 0
    means = {k: round(v["mean"], 4) for k, v in summary["mean_sd"].items()
             if k in ("psnr_brain", "ssim_brain", "mae_brain") and v.get("mean") is not None}
    print(f"autosynth_train: fold {run.fold} validation ({summary['n_cases']} case(s), original "
          f"space): {means} -> {layout.validation_folder(run.model_folder, run.fold)}")
    return 0


def _spawned_process(args: argparse.Namespace) -> None:
    if train_process(args) != 0:
        raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.num_gpus > 1 and "WORLD_SIZE" not in os.environ:
        if resolve_device(args.device) == "cuda" and \
                torch.cuda.device_count() < args.num_gpus:
            print(f"autosynth_train: --num-gpus {args.num_gpus} but only "
                  f"{torch.cuda.device_count()} CUDA device(s) visible", file=sys.stderr)
            return 2
        try:
            ddp.spawn(_spawned_process, args.num_gpus, (args,))
        except ProcessException:
            return 2  # the failing rank printed its one-line message
        return 0
    return train_process(args)


if __name__ == "__main__":
    sys.exit(main())
