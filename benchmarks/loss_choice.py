"""Which training loss for the new configurations: a short, fixed-budget comparison.

Run: PYTHONPATH=. .venv/bin/python benchmarks/loss_choice.py [--steps 150] [--cases 10]
-> prints a table and writes benchmarks/results/loss_choice.json (with the matmul peak).

The embedded demo cohort (simulated T1/T2/FLAIR with lesions, 2 mm) is generated into a
temporary folder and preprocessed as ``2d``. The 2D residual U-Net (the modern block,
features 16-32-64, linear head) is trained T1 -> FLAIR for the same number of Adam steps,
the same seed and the same batches (patches centred on brain voxels, a third on tumour voxels)
with each loss; then scored on patches of held-out cases: in-brain PSNR (data range 1), the
evaluation's in-brain masked SSIM, and the MAE over tumour voxels. It is a short screening run
(minutes, not a training), so only differences well beyond the spread between losses count.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from autosynth.architectures import UNetConfig, build_network
from autosynth.cli.plan_and_preprocess import main as plan_and_preprocess
from autosynth.evaluation.masked_ssim import masked_ssim
from autosynth.paths import find_dataset_name, preprocessed_root
from autosynth.preprocessing.storage import list_cases, load_case
from autosynth.training.losses import build_loss
from dataset_conversion.simulated_brats.cli import main as make_demo_dataset
from machine_speed import matmul_gflops  # beside this script, on sys.path when it runs

LOSS_SETTINGS = [("mse", True, 1.0), ("l1", True, 1.0), ("l1_ssim", True, 1.0),
                 ("l1_ssim", False, 1.0), ("l1", True, 3.0), ("l1_ssim", True, 3.0)]
PATCH, BATCH, FEATURES, DATASET_ID = 48, 8, [16, 32, 64], 913
SOURCE, TARGET = 0, 2   # channel order of the plan: T1, T2, FLAIR


def prepare(home: Path, cases: int) -> list[tuple]:
    os.environ["AUTOSYNTH_HOME"] = str(home)
    make_demo_dataset(["--cases", str(cases), "--spacing", "2", "--id", str(DATASET_ID),
                       "-np", "2", "--quiet", "--no-montage"])
    plan_and_preprocess(["-d", str(DATASET_ID), "-c", "2d", "-np", "2", "--no-progress"])
    folder = preprocessed_root() / find_dataset_name(str(DATASET_ID)) / "2d"
    return [load_case(folder, case, mmap=False)[:3] for case in list_cases(folder)]


def sample_patches(volumes, n: int, rng: np.random.Generator, tumour_fraction: float = 0.33):
    """(source, target, mask, labels) arrays of n patches, each (n, 1, PATCH, PATCH)."""
    out = [[], [], [], []]
    half = PATCH // 2
    for index in range(n):
        data, mask, labels = volumes[rng.integers(len(volumes))]
        tumour = labels is not None and labels.any() and rng.random() < tumour_fraction
        candidates = np.argwhere(labels > 0) if tumour else np.argwhere(mask)
        s, y, x = candidates[rng.integers(len(candidates))]
        pad = [(0, 0), (half, half), (half, half)]
        window = (s, slice(y, y + PATCH), slice(x, x + PATCH))
        planes = [np.pad(data[c], pad)[window] for c in (SOURCE, TARGET)]
        planes += [np.pad(mask, pad)[window],
                   np.pad(labels if labels is not None else np.zeros_like(mask), pad)[window]]
        for store, plane in zip(out, planes):
            store.append(plane[None])
    return [torch.from_numpy(np.stack(a).astype(np.float32)) for a in out]


def train_and_score(name, in_brain, weight, train_batches, test_set, seed=0) -> dict:
    torch.manual_seed(seed)
    network = build_network(UNetConfig.residual(FEATURES, 2))
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    loss = build_loss(name, in_brain, weight)
    started = time.perf_counter()
    network.train()
    for source, target, mask, labels in train_batches:
        optimizer.zero_grad(set_to_none=True)
        loss(network(source), target, mask, labels).backward()
        optimizer.step()
    seconds = time.perf_counter() - started
    network.eval()
    source, target, mask, labels = test_set
    with torch.no_grad():
        pred = torch.cat([network(source[i:i + 32]) for i in range(0, len(source), 32)]).clamp(0, 1)
    brain, tumour = mask.bool(), labels > 0
    mse = float(((pred - target) ** 2)[brain].mean())
    ssim = float(np.mean([masked_ssim(pred[i, 0], target[i, 0], brain[i, 0])
                          for i in range(len(pred)) if brain[i].any()]))
    return {"loss": name, "in_brain": in_brain, "tumour_weight": weight,
            "brain_psnr_db": round(10 * math.log10(1 / mse), 3), "brain_ssim": round(ssim, 4),
            "tumour_mae": round(float((pred - target).abs()[tumour].mean()), 5),
            "train_seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: on a shared 2-core machine two threads ran a "
                        "step 10x slower)")
    parser.add_argument("--held-out", type=int, default=2, help="cases kept for scoring")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        volumes = prepare(Path(home), args.cases)
    gflops = matmul_gflops(threads=args.threads)
    train, test = volumes[:-args.held_out], volumes[-args.held_out:]
    rng = np.random.default_rng(0)
    batches = [sample_patches(train, BATCH, rng) for _ in range(args.steps)]
    test_set = sample_patches(test, 64, np.random.default_rng(1))
    rows = [train_and_score(name, in_brain, weight, batches, test_set)
            for name, in_brain, weight in LOSS_SETTINGS]
    print(f"{'loss':>8} {'in brain':>8} {'w':>4} {'PSNR dB':>8} {'SSIM':>7} {'tumour MAE':>10}")
    for r in rows:
        print(f"{r['loss']:>8} {str(r['in_brain']):>8} {r['tumour_weight']:>4} "
              f"{r['brain_psnr_db']:>8.2f} {r['brain_ssim']:>7.4f} {r['tumour_mae']:>10.4f}"
              f"  ({r['train_seconds']} s)")
    print(f"{args.steps} steps of batch {BATCH} ({PATCH}x{PATCH}), {len(train)} training / "
          f"{len(test)} held-out cases; matmul peak in this run: {gflops:.0f} GFLOP/s (fp32, "
          f"{args.threads} thread(s))")
    out = Path(__file__).parent / "results" / "loss_choice.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"matmul_gflops": gflops, "threads": args.threads, "steps": args.steps, "batch": BATCH,
                               "patch": PATCH, "features": FEATURES, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
