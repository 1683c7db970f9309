"""What the integrity check of every input costs prediction, next to SimpleITK's own read.

    .venv/bin/python benchmarks/input_checks.py [--repeats 5] [--workdir DIR]

A BraTS-sized volume (240x240x155) is written as int16 and as float32 ``.nii.gz``; for each,
the median seconds of ``check_images`` (gzip + nibabel + header, as ``autosynth_verify``) and
of ``read_case`` (SimpleITK, what prediction then reads) are printed, with the fp32 matrix-
multiply rate measured in the same run (the machine's speed at that moment). Writes
benchmarks/results/input_checks.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from machine_speed import matmul_gflops  # beside this script, on sys.path when it runs

from autosynth.dataset.image_io import Geometry, read_case, write_image
from autosynth.dataset.integrity import check_images

RESULTS = Path(__file__).resolve().parent / "results"
SHAPE_ZYX = (155, 240, 240)


def volume() -> np.ndarray:
    rng = np.random.default_rng(0)
    z, y, x = np.meshgrid(*[np.linspace(-1, 1, s) for s in SHAPE_ZYX], indexing="ij")
    brain = (z ** 2 / 0.5 + y ** 2 / 0.6 + x ** 2 / 0.45) < 1
    image = 600 + 200 * np.sin(4 * x) * np.cos(3 * y) + rng.normal(0, 20, SHAPE_ZYX)
    return np.where(brain, image, 0)


def median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="autosynth_checks_"))
    geometry = Geometry(tuple(reversed(SHAPE_ZYX)), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0),
                        (1, 0, 0, 0, 1, 0, 0, 0, 1))
    peak_before = matmul_gflops()
    rows = {}
    for dtype in (np.int16, np.float32):
        path = work / f"volume_{np.dtype(dtype).name}.nii.gz"
        write_image(volume().astype(dtype), geometry, path)
        assert check_images([(path, "image")]) == []
        rows[np.dtype(dtype).name] = {
            "file_mib": round(path.stat().st_size / 2 ** 20, 1),
            "check_s": round(median_seconds(lambda: check_images([(path, "image")]),
                                            args.repeats), 3),
            "simpleitk_read_s": round(median_seconds(lambda: read_case([path]), args.repeats), 3)}
    peak_after = matmul_gflops()
    result = {"shape_zyx": list(SHAPE_ZYX), "threads": torch.get_num_threads(),
              "matmul_fp32_gflops_before": round(peak_before, 1),
              "matmul_fp32_gflops_after": round(peak_after, 1), "volumes": rows}
    print(f"fp32 matmul: {peak_before:.1f} GFLOP/s before, {peak_after:.1f} after "
          f"({torch.get_num_threads()} threads)")
    print(f"{'volume':<10}{'file MiB':>10}{'check s':>10}{'SimpleITK read s':>18}")
    for name, row in rows.items():
        print(f"{name:<10}{row['file_mib']:>10}{row['check_s']:>10}{row['simpleitk_read_s']:>18}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "input_checks.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
