"""``autosynth_ablation``: train ablation variants and compare them on the test cases.

Two modes: ``--variants`` (trainer names, one run each) or ``--study STUDY.yaml``
(:mod:`autosynth.training.study`: variants as trainers and/or plan edits, folds and seeds; the
table has the spread over seeds, Holm-adjusted paired tests and bootstrap intervals).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from autosynth import results_layout as layout
from autosynth.cli.device_option import add_device_option, resolve_device
from autosynth.evaluation.comparison import write_comparison
from autosynth.evaluation.preprocessed_validation import validate_cases
from autosynth.evaluation.study_table import write_study_table
from autosynth.experiment_planning.splits import SPLITS_FILE, load_splits
from autosynth.paths import DatasetNotFoundError, results_dataset_folder
from autosynth.training.checkpointing import load_checkpoint
from autosynth.training.context import TrainingRun
from autosynth.training.registry import get_trainer_class
from autosynth.training.study import Study, StudyError, run_trainer_class

DEFAULT_VARIANTS = ("SynthesisTrainer,SynthesisTrainer_TransposedConv,"
                    "SynthesisTrainer_BatchNorm,SynthesisTrainer_MAELoss")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autosynth_ablation",
        description="Train the trainer variants that have no finished model yet (or only "
        "collect finished ones with --collect), score each on the same held-out test cases "
        f"({SPLITS_FILE} 'test'; in the preprocessed space: normalised [0, 1], data range 1) "
        "and write ablation.md, ablation.json and ablation.png to $AUTOSYNTH_RESULTS/DatasetXXX/"
        "ablation/<SRC>_to_<TGT>__<config>__fold<k>/: mean ± SD [case-level bootstrap 95 % "
        "interval] of every metric per variant (brain, tumour, non-tumour brain, whole image) "
        "and the paired Wilcoxon signed-rank p-value of each variant against the first one, "
        "Holm-adjusted over the table. With --study, the variants, folds and seeds come from a "
        "YAML file and the table gives the spread over seeds (study.md, study.json).")
    parser.add_argument("-d", "--dataset", required=True, help="dataset id or name")
    parser.add_argument("-s", "--source", default=None,
                        help="source contrast(s), e.g. T1 (required without --study)")
    parser.add_argument("-t", "--target", default=None,
                        help="target contrast, e.g. FLAIR (required without --study)")
    parser.add_argument("--study", type=Path, default=None,
                        help="a study YAML (variants as trainers and/or plan edits, folds, "
                        "seeds; see documentation/training.md): writes study.md and study.json "
                        "to $AUTOSYNTH_RESULTS/DatasetXXX/ablation/<study name>/")
    parser.add_argument("--seeds", type=int, default=None,
                        help="with --study: train each variant with seeds 0..N-1 (default: the "
                        "study's seeds)")
    parser.add_argument("-f", "--fold", default="0", help="fold to train/collect (default 0)")
    parser.add_argument("-c", "--configuration", default="2d", help="configuration (default 2d)")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS,
                        help="comma-separated trainer names; the first is the reference of the "
                        f"p-values (default {DEFAULT_VARIANTS})")
    parser.add_argument("--collect", action="store_true",
                        help="do not train: compare only the variants already trained")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs for variants trained now (default: the plan's)")
    add_device_option(parser)
    parser.add_argument("--num-workers", type=int, default=None,
                        help="data-loading processes per training run (default 2)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def train_or_load(trainer_class, run, args, device: str, epochs: int | None = None):
    """A variant's trainer with its best weights, training it first when needed."""
    trainer = trainer_class(run, device=device, num_epochs=epochs or args.epochs,
                            num_workers=args.num_workers, progress=not args.no_progress)
    trainer.initialize()
    finished = (run.output_folder / "checkpoint_final.pth").is_file()
    if not finished:
        if args.collect:
            return None
        trainer.resume()
        trainer.run_training()
    return trainer


def score_run(trainer_class, run, args, device: str, epochs: int | None = None
              ) -> dict | None:
    """Train (when needed) and score one run on the test cases in the preprocessed space;
    None when --collect finds it unfinished."""

    trainer = train_or_load(trainer_class, run, args, device, epochs)
    if trainer is None:
        print(f"autosynth_ablation: {trainer_class.__name__} has no finished model in "
              f"{run.output_folder}; skipped (--collect)", file=sys.stderr)
        return None
    trainer.network.load_state_dict(load_checkpoint(
        run.output_folder / layout.checkpoint_name("best"), torch.device(device))["network"])
    splits = load_splits(run.preprocessed_folder.parent)
    if not splits.test:
        raise ValueError(f"{splits.file}: no 'test' cases to compare the variants on")
    scored = validate_cases(trainer.network, run.preprocessed_folder, splits.test,
                            run.source_channels, run.target_channel, torch.device(device),
                            run.output_folder / "test_preprocessed_space.json",
                            tuple(run.configuration.patch_size),
                            run.configuration.context_slices)
    return scored["cases"]


def run_study(args, device: str) -> int:
    """``--study``: every variant x fold x seed, one table with the spread over runs."""

    study = Study.load(args.study)
    if args.seeds is not None:
        study = study.with_seeds(args.seeds)
    if args.source:
        study.sources = [s.strip() for s in args.source.split(",") if s.strip()]
    study.target = args.target or study.target
    variants, folder = {}, None
    for variant in study.variants:
        runs = {}
        for fold in study.folds:
            for seed in study.seeds:
                trainer_class = run_trainer_class(variant, seed)
                run = TrainingRun.create(args.dataset, variant.configuration or
                                         study.configuration, fold, study.sources,
                                         study.target, trainer_class.__name__)
                print(f"autosynth_ablation: {variant.name}, fold {fold}, seed {seed}",
                      file=sys.stderr)
                cases = score_run(trainer_class, run, args, device, study.epochs)
                if cases is not None:
                    runs[f"fold{fold}_seed{seed}"] = cases
                folder = layout.study_folder(results_dataset_folder(run.dataset_name),
                                             study.name)
        if runs:
            variants[variant.name] = runs
    if study.reference_name not in variants:
        print(f"autosynth_ablation: the reference '{study.reference_name}' has no finished "
              "run", file=sys.stderr)
        return 1
    title = (f"Study {study.name}: {'+'.join(study.sources)} -> {study.target}, folds "
             f"{', '.join(study.folds)}, seeds {', '.join(map(str, study.seeds))}")
    write_study_table(folder, variants, study.reference_name, title)
    print((folder / "study.md").read_text())
    print(f"written {folder / 'study'}.{{md,json}}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    device = resolve_device(args.device)
    if args.study is None and (not args.source or not args.target):
        print("autosynth_ablation: give -s SOURCE and -t TARGET (or a --study file)",
              file=sys.stderr)
        return 2
    rows, folder = {}, None
    try:
        if args.study is not None:
            return run_study(args, device)
        sources = [s.strip() for s in args.source.split(",") if s.strip()]
        for name in [v.strip() for v in args.variants.split(",") if v.strip()]:
            trainer_class = get_trainer_class(name)
            run = TrainingRun.create(args.dataset, args.configuration, args.fold, sources,
                                     args.target, trainer_class.__name__)
            cases = score_run(trainer_class, run, args, device)
            if cases is None:
                continue
            rows[name] = cases
            folder = layout.ablation_folder(results_dataset_folder(run.dataset_name),
                                            run.sources, run.target, args.configuration,
                                            args.fold)
    except (DatasetNotFoundError, FileNotFoundError, ValueError, ImportError,
            StudyError) as err:
        print(f"autosynth_ablation: {err}", file=sys.stderr)
        return 2
    if not rows:
        print("autosynth_ablation: no variant to compare", file=sys.stderr)
        return 1
    stem = "ablation"
    title = (f"Ablation: {'+'.join(sources)} -> {args.target}, fold {args.fold}, "
             f"{len(next(iter(rows.values())))} test cases")
    comparison = write_comparison(rows, folder, stem, reference=next(iter(rows)), title=title)
    print((folder / f"{stem}.md").read_text())
    print(f"written {folder / stem}.{{md,json,png}}")
    return 0 if comparison else 1


if __name__ == "__main__":
    sys.exit(main())
