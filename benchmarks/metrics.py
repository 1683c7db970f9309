"""Time compute_metrics on a BraTS-sized volume (155 x 240 x 240) against scikit-image/numpy.

Run: .venv/bin/python benchmarks/metrics.py [--repeats 5]
Prints the medians and writes benchmarks/results/metrics.json. The baseline computes the same
numbers the slow way: skimage SSIM on the volume (full map, for the region means), skimage SSIM
slice by slice, and numpy MAE / MSE / PSNR per region.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from skimage.metrics import structural_similarity

from autosynth.evaluation import compute_metrics

SHAPE = (155, 240, 240)   # SimpleITK order (Z, Y, X): slices along axis 0
SK = dict(data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)


def make_case(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A head-like phantom on [0, 1] with texture and a lesion, and a blurred noisy 'synthesis'."""
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*[np.linspace(-1, 1, n) for n in SHAPE], indexing="ij")
    radius = (z / 0.8) ** 2 + (y / 0.85) ** 2 + (x / 0.7) ** 2
    mask = radius < 1
    texture = ndimage.gaussian_filter(rng.standard_normal(SHAPE), 2.0)
    ref = np.where(mask, 0.5 + 0.15 * texture / texture.std(), 0.0)
    labels = (((z - 0.2) ** 2 + (y + 0.1) ** 2 + (x - 0.3) ** 2) < 0.04).astype(np.uint8) * 2
    ref = np.clip(np.where(labels > 0, 0.85, ref), 0, 1).astype(np.float32)
    pred = ndimage.gaussian_filter(ref, 0.8) + 0.02 * rng.standard_normal(SHAPE)
    return np.clip(pred, 0, 1).astype(np.float32), ref, mask, labels


def baseline(pred: np.ndarray, ref: np.ndarray, mask: np.ndarray, labels: np.ndarray) -> dict:
    value, s_map = structural_similarity(ref, pred, full=True, **SK)
    out = {"ssim": value}
    tumour = (labels > 0) & mask
    error = pred.astype(np.float64) - ref
    for suffix, region in {"": None, "_brain": mask, "_tumour": tumour,
                           "_non_tumour_brain": mask & ~tumour}.items():
        e = error.ravel() if region is None else error[region]
        out["mae" + suffix] = float(np.abs(e).mean())
        out["mse" + suffix] = float(np.square(e).mean())
        out["psnr" + suffix] = float(10 * np.log10(1.0 / out["mse" + suffix]))
        if region is not None:
            out["ssim" + suffix] = float(s_map[region].mean())
    brain_slices = [i for i in range(ref.shape[0]) if mask[i].any()]
    out["ssim_per_slice"] = float(np.mean([structural_similarity(ref[i], pred[i], **SK)
                                           for i in brain_slices]))
    return out


def median_time(fn, repeats: int) -> tuple[float, list[float], object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    pred, ref, mask, labels = make_case()
    compute_metrics(pred, ref, mask, labels)   # warm-up (filter matrices, allocator)
    ours, ours_times, metrics = median_time(lambda: compute_metrics(pred, ref, mask, labels),
                                            args.repeats)
    plain, plain_times, _ = median_time(lambda: compute_metrics(pred, ref), args.repeats)
    base, base_times, expected = median_time(lambda: baseline(pred, ref, mask, labels),
                                             args.repeats)
    max_diff = {key: abs(metrics[key] - expected[key]) for key in expected}
    report = {
        "shape": list(SHAPE), "dtype": "float32", "repeats": args.repeats,
        "compute_metrics_s": ours, "compute_metrics_times_s": ours_times,
        "compute_metrics_no_regions_s": plain, "compute_metrics_no_regions_times_s": plain_times,
        "skimage_numpy_baseline_s": base, "skimage_numpy_baseline_times_s": base_times,
        "speedup": base / ours, "max_abs_difference_vs_baseline": max(max_diff.values()),
        "abs_difference_by_key": max_diff, "metrics": metrics,
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "torch": torch.__version__, "python": platform.python_version()},
    }
    print(f"compute_metrics (mask + labels): {ours:.3f} s median of {args.repeats}")
    print(f"compute_metrics (whole image):   {plain:.3f} s")
    print(f"skimage + numpy baseline:        {base:.3f} s  -> {base / ours:.1f}x")
    print(f"largest |difference| over {len(max_diff)} values: {max(max_diff.values()):.2e}")
    out = Path(__file__).parent / "results" / "metrics.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
