"""Which configuration, at equal cost: ``2d``, ``2d_paper``, ``2.5d`` and ``3d_fullres`` trained
SOURCE -> TARGET on the demo cohort for the same time budget, then ``autosynth_test`` and the
demo's two baselines on the held-out test cases.

    .venv/bin/python benchmarks/configuration_comparison.py [--home DIR] [--minutes 6]
        [--clock cpu] [-c 2d 2.5d ...]

Each configuration is planned as ``autosynth_plan_and_preprocess`` plans it (nothing tuned
here) and trained with ``autosynth_train --time-budget MINUTES`` on fold 0, one after the
other. With ``--clock cpu`` (the default) the budget is the training process's CPU time, with
the batches built in that process (``--num-workers 0``), so that other jobs on a shared machine
take little from any one configuration; ``--clock wall`` is what a user's budget means on a
machine of their own. The machine's matrix-multiply speed is measured before and after, and
the load average recorded. Prints the test table and writes JSON to ``--output`` (default
``benchmarks/results/configuration_comparison.json``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from machine_speed import matmul_gflops  # beside this script, on sys.path when it runs

from autosynth.cli.plan_and_preprocess import main as plan_and_preprocess
from autosynth.cli.test import main as autosynth_test
from autosynth.cli.train import main as train
from autosynth.training.checkpointing import load_checkpoint
from autosynth.training.context import TrainingRun
from autosynth.utils.files import read_json
from dataset_conversion import demo

CONFIGURATIONS = ("2d", "2d_paper", "2.5d", "3d_fullres")
HERE = Path(__file__).resolve().parent


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", default="demo_data_comparison",
                        help="AUTOSYNTH_HOME for the cohort, preprocessed data and models")
    parser.add_argument("--minutes", type=float, default=6.0,
                        help="training budget per configuration (default 6)")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="what the budget counts (default cpu; see the module docstring)")
    parser.add_argument("-c", "--configurations", nargs="+", default=list(CONFIGURATIONS))
    parser.add_argument("-s", "--source", default="T1")
    parser.add_argument("-t", "--target", default="FLAIR")
    parser.add_argument("--output", default=str(HERE / "results" /
                                                "configuration_comparison.json"))
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ["AUTOSYNTH_HOME"] = str(Path(args.home).resolve())  # read by autosynth.paths

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    peak_before = matmul_gflops()
    dataset = str(demo.DATASET_ID)
    demo.run("simulation", demo.make_demo_dataset,
             ["--cases", "24", "--spacing", "2.0", "--id", dataset, "-np", "2", "--quiet"])
    demo.run("planning", plan_and_preprocess,
             ["-d", dataset, "-c", *args.configurations, "-np", "2", "--no-progress"])
    runs = {}
    for name in args.configurations:
        folder = TrainingRun.create(dataset, name, "0", [args.source], args.target).output_folder
        resume = ["--c"] if (folder / "checkpoint_latest.pth").is_file() else []
        clock = time.perf_counter()
        demo.run(f"training {name}", train,
                 [args.source, args.target, "0", "-d", dataset, "-c", name, "--epochs", "1000",
                  "--time-budget", str(args.minutes), "--budget-clock", args.clock,
                  "--num-workers", "0" if args.clock == "cpu" else "2", "--device", "cpu",
                  "--no-progress"] + resume)
        history = load_checkpoint(folder / "checkpoint_final.pth")["history"]
        runs[name] = {"epochs": len(history["train_loss"]),
                      "budget_seconds": round(sum(history["budget_seconds"]), 1),
                      "wall_seconds_this_call": round(time.perf_counter() - clock, 1),
                      "best_val_loss": min(history["val_loss"]),
                      "val_psnr_last": history["val_psnr"][-1]}
        print(name, runs[name], flush=True)
    # one call for every trained configuration, so that each gets its own row (predictions
    # already made by an earlier call are reused: --continue)
    demo.run("testing", autosynth_test,
             ["-d", dataset, "-s", args.source, "-t", args.target, "-f", "0", "--continue",
              "--no-figures", "--no-progress"])
    table = demo.add_baseline_rows(dataset, [args.source], args.target, "0")
    print(table)
    summary = read_json(Path(os.environ["AUTOSYNTH_HOME"]) / "results" /
                        "Dataset900_SimBraTS" / "test_summary.json")
    result = {"date": started, "budget_minutes": args.minutes, "clock": args.clock,
              "matmul_gflops_before": round(peak_before, 1),
              "matmul_gflops_after": round(matmul_gflops(), 1),
              "load_average_after": os.getloadavg(), "runs": runs,
              "test_rows": {name: {k: v for k, v in row["mean_sd"].items()
                                   if k.startswith(("psnr", "ssim", "mae"))}
                            for name, row in summary["rows"].items()}}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "test_rows"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
