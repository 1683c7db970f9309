"""``autosynth_demo``: the main job end to end on the simulated cohort (what ``make demo`` runs).

simulate cohort -> plan and preprocess -> train SOURCE -> TARGET on one fold -> score the model
and two baselines on the held-out test cases -> print the table and where the figures are.
Every step is idempotent, so an interrupted demo continues where it stopped.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

DATASET_ID = 900


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autosynth_demo",
        description="Run autosynth end to end on the embedded simulated cohort: generate it, "
        "plan and preprocess, train SOURCE -> TARGET on one fold with a CPU-sized schedule, "
        "and compare the model with two baselines (the normalised source itself, and the "
        "source through the histogram-matching intensity map fitted on the training cases) on "
        "the held-out test cases. Data go under $AUTOSYNTH_HOME (or --home).")
    parser.add_argument("--home", default=None,
                        help="root for raw/, preprocessed/ and results/ (sets AUTOSYNTH_HOME; "
                        "default: the environment's)")
    parser.add_argument("-s", "--source", default="T1", help="source contrast (default T1)")
    parser.add_argument("-t", "--target", default="FLAIR", help="target contrast (default FLAIR)")
    parser.add_argument("--cases", type=int, default=24, help="simulated subjects (default 24)")
    parser.add_argument("--spacing", type=float, default=2.0, help="voxel size in mm (default 2)")
    parser.add_argument("--epochs", type=int, default=20,
                        help="training epochs (default 20: about 6 minutes on 2 CPU cores)")
    parser.add_argument("--fold", default="0", help="fold to train (default 0)")
    parser.add_argument("-np", "--num-processes", type=int, default=2,
                        help="processes for simulation and preprocessing (default 2)")
    parser.add_argument("--device", default=None, choices=["cpu", "cuda", "mps"],
                        help="training device (default: cuda if available, else cpu)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def step(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def run(label: str, main, argv: list[str]) -> None:
    code = main(argv)
    if code:
        raise SystemExit(f"autosynth_demo: {label} failed (exit {code})")


def score_test_split(dataset: str, sources: list[str], target: str, fold: str,
                     device: str) -> tuple[dict, Path]:
    """Per-case metrics of the model and both baselines on the test cases, one table."""
    import torch

    from autosynth.evaluation.comparison import write_comparison
    from autosynth.evaluation.intensity_baselines import (fit_histogram_mapping,
                                                          score_in_preprocessed_space)
    from autosynth.training.checkpointing import load_checkpoint
    from autosynth.training.context import TrainingRun
    from autosynth.training.trainer import SynthesisTrainer
    from autosynth.training.validation import validate_cases
    from autosynth.utils.files import read_json

    run_ = TrainingRun.create(dataset, "2d", fold, sources, target)
    trainer = SynthesisTrainer(run_, device=device, progress=False)
    trainer.initialize()
    best = run_.output_folder / "checkpoint_best.pth"
    trainer.network.load_state_dict(load_checkpoint(best, torch.device(device))["network"])
    test_cases = read_json(run_.preprocessed_folder.parent / "splits_final.json")["test"]
    model = validate_cases(trainer.network, run_.preprocessed_folder, test_cases,
                           run_.source_channels, run_.target_channel, torch.device(device),
                           run_.output_folder / "test_preprocessed_space.json")
    mapping = fit_histogram_mapping(run_.preprocessed_folder, run_.train_cases,
                                    run_.source_channels[0], run_.target_channel)
    baselines = score_in_preprocessed_space(run_.preprocessed_folder, test_cases,
                                            run_.source_channels[0], run_.target_channel,
                                            mapping)
    rows = {f"U-Net ({run_.trainer_name})": model["cases"], **baselines}
    folder = run_.model_folder / "demo"
    title = (f"{'+'.join(sources)} -> {target}, {len(test_cases)} held-out test cases, "
             "normalised [0, 1] scale on the model grid")
    metrics = ("psnr_brain", "ssim_brain", "mae_brain", "mse_brain")
    return write_comparison(rows, folder, "model_vs_baselines", title=title,
                            metrics=metrics), folder


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.home:
        os.environ["AUTOSYNTH_HOME"] = str(Path(args.home).resolve())
    from autosynth.cli.plan_and_preprocess import main as plan_and_preprocess
    from autosynth.cli.train import default_device, main as train
    from autosynth.paths import raw_root, results_root
    from dataset_conversion.simulated_brats.cli import main as make_demo_dataset

    started = time.perf_counter()
    quiet = ["--no-progress"] if args.no_progress else []
    device = args.device or default_device()
    step(f"1/4 simulate {args.cases} subjects at {args.spacing} mm")
    run("simulation", make_demo_dataset,
        ["--cases", str(args.cases), "--spacing", str(args.spacing), "--id", str(DATASET_ID),
         "-np", str(args.num_processes)] + (["--quiet"] if args.no_progress else []))
    step("2/4 fingerprint, plan, preprocess (configuration 2d)")
    run("planning", plan_and_preprocess,
        ["-d", str(DATASET_ID), "-c", "2d", "-np", str(args.num_processes)] + quiet)
    step(f"3/4 train {args.source} -> {args.target}, fold {args.fold}, {args.epochs} epochs")
    from autosynth.training.context import TrainingRun

    sources = [s.strip() for s in args.source.split(",")]
    fold_folder = TrainingRun.create(str(DATASET_ID), "2d", args.fold, sources,
                                     args.target).output_folder
    if (fold_folder / "checkpoint_final.pth").is_file():
        print(f"already trained: {fold_folder}")
    else:
        resume = ["--c"] if (fold_folder / "checkpoint_latest.pth").is_file() else []
        run("training", train, [args.source, args.target, args.fold, "-d", str(DATASET_ID),
                                "--epochs", str(args.epochs), "--device", device] + resume + quiet)
    step("4/4 test split: model against baselines")
    comparison, folder = score_test_split(str(DATASET_ID), sources, args.target, args.fold,
                                          device)
    print((folder / "model_vs_baselines.md").read_text())
    rows = comparison["rows"]
    model_row = next(iter(rows))
    ahead = all(rows[model_row][m]["mean"] > rows[b][m]["mean"]
                for b in list(rows)[1:] for m in ("psnr_brain", "ssim_brain"))
    print(f"model ahead of both baselines in in-brain PSNR and SSIM: {'yes' if ahead else 'NO'}")
    print("\nfigures and tables:")
    for path in (raw_root() / f"Dataset{DATASET_ID}_SimBraTS" / "montage.png",
                 fold_folder / "progress.png", fold_folder / "validation" / "summary.json",
                 folder / "model_vs_baselines.md", folder / "model_vs_baselines.png"):
        print(f"  {path}")
    print(f"\nautosynth_demo finished in {(time.perf_counter() - started) / 60:.1f} min; "
          f"results under {results_root()}")
    return 0 if ahead else 1


if __name__ == "__main__":
    sys.exit(main())
