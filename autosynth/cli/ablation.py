"""``autosynth_ablation``: train the paper's ablation variants and compare them on the test cases."""
from __future__ import annotations

import argparse
import sys

import torch

from autosynth import results_layout as layout
from autosynth.cli.device_option import add_device_option, resolve_device
from autosynth.evaluation.comparison import write_comparison
from autosynth.evaluation.preprocessed_validation import validate_cases
from autosynth.experiment_planning.splits import SPLITS_FILE, load_splits
from autosynth.paths import DatasetNotFoundError, results_dataset_folder
from autosynth.training.checkpointing import load_checkpoint
from autosynth.training.context import TrainingRun
from autosynth.training.registry import get_trainer_class

DEFAULT_VARIANTS = ("SynthesisTrainer,SynthesisTrainer_TransposedConv,"
                    "SynthesisTrainer_BatchNorm,SynthesisTrainer_MAELoss")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autosynth_ablation",
        description="Train the trainer variants that have no finished model yet (or only "
        "collect finished ones with --collect), score each on the same held-out test cases "
        f"({SPLITS_FILE} 'test'; in the preprocessed space: normalised [0, 1], data range 1) "
        "and write ablation.md, ablation.json and ablation.png to $AUTOSYNTH_RESULTS/DatasetXXX/"
        "ablation/<SRC>_to_<TGT>__<config>__fold<k>/: mean ± SD of every metric per variant and the paired Wilcoxon signed-rank "
        "p-value of each variant against the first one.")
    parser.add_argument("-d", "--dataset", required=True, help="dataset id or name")
    parser.add_argument("-s", "--source", required=True, help="source contrast(s), e.g. T1")
    parser.add_argument("-t", "--target", required=True, help="target contrast, e.g. FLAIR")
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


def train_or_load(trainer_class, run, args, device: str):
    """A variant's trainer with its best weights, training it first when needed."""
    trainer = trainer_class(run, device=device, num_epochs=args.epochs,
                            num_workers=args.num_workers, progress=not args.no_progress)
    trainer.initialize()
    finished = (run.output_folder / layout.checkpoint_name("final")).is_file()
    if not finished:
        if args.collect:
            return None
        trainer.resume()
        trainer.run_training()
    return trainer


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    sources = [s.strip() for s in args.source.split(",") if s.strip()]
    device = resolve_device(args.device)
    rows, folder = {}, None
    try:
        for name in [v.strip() for v in args.variants.split(",") if v.strip()]:
            trainer_class = get_trainer_class(name)
            run = TrainingRun.create(args.dataset, args.configuration, args.fold, sources,
                                     args.target, trainer_class.__name__)
            trainer = train_or_load(trainer_class, run, args, device)
            if trainer is None:
                print(f"autosynth_ablation: {name} has no finished model in "
                      f"{run.output_folder}; skipped (--collect)", file=sys.stderr)
                continue
            trainer.network.load_state_dict(load_checkpoint(
                run.output_folder / layout.checkpoint_name("best"),
                torch.device(device))["network"])
            splits = load_splits(run.preprocessed_folder.parent)
            test_cases = splits.test
            if not test_cases:
                raise ValueError(f"{splits.file}: no 'test' cases to compare the variants on")
            scored = validate_cases(trainer.network, run.preprocessed_folder, test_cases,
                                    run.source_channels, run.target_channel,
                                    torch.device(device),
                                    run.output_folder / "test_preprocessed_space.json",
                                    tuple(run.configuration.patch_size))
            rows[name] = scored["cases"]
            folder = layout.ablation_folder(results_dataset_folder(run.dataset_name), run.sources,
                                            run.target, args.configuration, args.fold)
    except (DatasetNotFoundError, FileNotFoundError, ValueError, ImportError) as err:
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
