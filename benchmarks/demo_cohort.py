"""The demo cohort's generation speed and reproducibility, with the machine's matmul peak.

    .venv/bin/python benchmarks/demo_cohort.py [--cases 24] [--spacing 2] [--workdir DIR]

Generates the cohort with -np 2 and with -np 1 (no montage), checks that the two are identical
file by file, and measures the fp32 matrix-multiply rate before and after, so that the seconds
can be read against how busy the machine was. Prints a line per run and writes
benchmarks/results/demo_cohort.json. Tissue ratios: ``python -m
dataset_conversion.simulated_brats.checks``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autosynth.dataset.image_io import read_image  # noqa: E402
from dataset_conversion.simulated_brats.cohort import case_id, generate_cohort  # noqa: E402
from dataset_conversion.simulated_brats.subject import case_files  # noqa: E402


def matmul_gflops(n: int = 2048, seconds: float = 3.0) -> float:
    """fp32 matrix-multiply rate of this machine now (all torch threads)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return round(2 * n ** 3 * count / (time.perf_counter() - start) / 1e9, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=24)
    parser.add_argument("--spacing", type=float, default=2.0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="demo_cohort_"))
    report = {"cases": args.cases, "spacing_mm": args.spacing,
              "matmul_gflops_before": matmul_gflops(), "runs": {}}
    folders = {}
    for processes in (2, 1):
        start = time.perf_counter()
        folders[processes] = generate_cohort(work / f"np{processes}", args.cases, args.spacing,
                                             seed=0, num_processes=processes, montage=False,
                                             progress=False)
        seconds = round(time.perf_counter() - start, 1)
        report["runs"][f"np{processes}"] = seconds
        print(f"-np {processes}: {args.cases} cases at {args.spacing:g} mm in {seconds} s",
              flush=True)
    identical = all(
        np.array_equal(read_image(a)[0], read_image(b)[0])
        for i in range(args.cases)
        for a, b in zip(case_files(folders[2], case_id("SimBraTS", i)),
                        case_files(folders[1], case_id("SimBraTS", i))))
    report["np2_equals_np1"] = identical
    report["matmul_gflops_after"] = matmul_gflops()
    print(f"-np 2 == -np 1: {identical}; matmul {report['matmul_gflops_before']} -> "
          f"{report['matmul_gflops_after']} GFLOP/s")
    out = ROOT / "benchmarks" / "results" / "demo_cohort.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
