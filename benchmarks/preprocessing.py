"""Preprocessing speed and memory on BraTS-sized cases (3 contrasts, 240x240x155, 1 mm).

The cases are synthesised here (a skull-stripped ellipsoidal "brain" with smooth tissue-like
patterns, a lesion and noise), written as .nii.gz, then each stage runs in a fresh process on
one core (one thread) so that its peak resident memory is its own:

    .venv/bin/python benchmarks/preprocessing.py [--cases 3] [--workdir DIR]

Prints a table and writes benchmarks/results/preprocessing.json. Seconds per case include
reading the NIfTI files and writing the outputs.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHAPE_ZYX = (155, 240, 240)
CONTRASTS = ("T1", "T2", "FLAIR")


def synthesise_case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(3, 155, 240, 240) float32 images, zero outside an ellipsoidal brain, and the mask."""
    rng = np.random.default_rng(seed)
    z, y, x = np.ogrid[:SHAPE_ZYX[0], :SHAPE_ZYX[1], :SHAPE_ZYX[2]]
    centre = np.array([75, 120, 120]) + rng.integers(-5, 6, 3)
    r = ((z - centre[0]) / 65.0) ** 2 + ((y - centre[1]) / 85.0) ** 2 + ((x - centre[2]) / 70.0) ** 2
    mask = r < 1
    pattern = (np.sin(x / 7.0) * np.cos(y / 11.0) + 0.5 * np.sin(z / 5.0)).astype(np.float32)
    lesion = ((z - centre[0] - 10) ** 2 + (y - centre[1] + 20) ** 2 + (x - centre[2]) ** 2) < 15 ** 2
    images = []
    for c, (base, gain, bright) in enumerate(((600, 150, -200), (400, 120, 500), (300, 80, 600))):
        image = base + gain * pattern + bright * lesion + rng.normal(0, 15, SHAPE_ZYX)
        images.append(np.where(mask, np.abs(image), 0).astype(np.float32))
    return np.stack(images), mask.astype(np.uint8)


def write_dataset(folder: Path, n_cases: int) -> None:
    from autosynth.dataset.dataset_json import DatasetJson
    from autosynth.dataset.image_io import Geometry, write_image

    geometry = Geometry(tuple(reversed(SHAPE_ZYX)), (1.0, 1.0, 1.0), (0.0, -239.0, 0.0),
                        (-1.0, 0, 0, 0, -1.0, 0, 0, 0, 1.0))
    for i in range(n_cases):
        images, mask = synthesise_case(i)
        for c, image in enumerate(images):
            write_image(image, geometry, folder / "imagesTr" / f"bench_{i:03d}_{c:04d}.nii.gz")
        write_image(mask, geometry, folder / "masksTr" / f"bench_{i:03d}.nii.gz")
    DatasetJson(name=folder.name, channel_names=dict(enumerate(CONTRASTS)),
                numTraining=n_cases).save(folder / "dataset.json")


# ----------------------------------------------------------------------------- child stages
def run_stage(stage: str, raw: Path, pre: Path) -> dict:
    """One stage, case by case, in this (fresh, single-threaded) process."""
    import torch

    torch.set_num_threads(1)
    from autosynth.dataset.cases import discover_cases
    from autosynth.dataset.dataset_json import DatasetJson
    from autosynth.experiment_planning.fingerprint import CaseJob, fingerprint_case
    from autosynth.experiment_planning.plans import Plans
    from autosynth.preprocessing.preprocessor import CaseJob as PreJob
    from autosynth.preprocessing.preprocessor import Target, case_signature, preprocess_raw_case

    dj = DatasetJson.load(raw)
    channels = tuple(sorted(dj.channel_names))
    contrasts = tuple(dj.channel_names[c] for c in channels)
    seconds, baseline = [], peak_rss_mib()  # after the imports (torch, SimpleITK)
    for case in discover_cases(raw, dj):
        start = time.perf_counter()
        if stage == "fingerprint":
            fingerprint_case(CaseJob(case, channels, contrasts, 10_000, 0))
        else:
            from dataclasses import asdict

            config = Plans.load(pre).configuration(stage)
            job = PreJob(case, channels, contrasts, (Target(
                stage, asdict(config), str(pre / config.data_folder),
                case_signature(case, config)),))
            assert preprocess_raw_case(job) == {stage: "done"}
        seconds.append(time.perf_counter() - start)
    return {"seconds_per_case": seconds, "peak_rss_mib": peak_rss_mib(),
            "rss_after_imports_mib": baseline}


def peak_rss_mib() -> float:
    """This process's peak resident memory. VmHWM, not getrusage: ru_maxrss survives execve, so
    a child would report its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_fresh_process(stage: str, raw: Path, pre: Path) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    result = subprocess.run([sys.executable, __file__, "--stage", stage, "--raw", str(raw),
                             "--pre", str(pre)], capture_output=True, text=True, env=env)
    if result.returncode:
        sys.exit(f"stage {stage} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=3, help="synthetic cases (default 3)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where to write the synthetic dataset (default: a temporary folder)")
    parser.add_argument("--output", type=Path,
                        default=ROOT / "benchmarks" / "results" / "preprocessing.json")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--raw", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pre", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(run_stage(args.stage, args.raw, args.pre)))
        return

    from autosynth.experiment_planning.fingerprint import extract_fingerprint
    from autosynth.experiment_planning.configurations import plan_experiment

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        raw, pre = Path(tmp) / "Dataset900_Bench", Path(tmp) / "pre"
        print(f"synthesising {args.cases} case(s) of 3 x {SHAPE_ZYX} ...", flush=True)
        write_dataset(raw, args.cases)  # with masksTr; a copy without tests the derived mask
        no_masks = Path(tmp) / "Dataset901_BenchNoMasks"
        (no_masks / "imagesTr").mkdir(parents=True)
        for path in [raw / "dataset.json", *(raw / "imagesTr").iterdir()]:
            os.link(path, no_masks / path.relative_to(raw))
        rows = {"fingerprint": in_fresh_process("fingerprint", raw, pre),
                "fingerprint (no mask)": in_fresh_process("fingerprint", no_masks, pre)}
        extract_fingerprint(raw, pre, progress=False)
        plan_experiment(pre)
        for configuration in ("2d", "2d_paper"):
            rows[f"preprocess {configuration}"] = in_fresh_process(configuration, raw, pre)
    print(f"\n{'stage':<22}{'s/case (mean)':>14}{'s/case (max)':>14}{'peak RSS MiB':>14}"
          f"{'of which imports':>18}")
    for name, row in rows.items():
        s = row["seconds_per_case"]
        print(f"{name:<22}{np.mean(s):>14.2f}{np.max(s):>14.2f}{row['peak_rss_mib']:>14.0f}"
              f"{row['rss_after_imports_mib']:>18.0f}")
    result = {"case_shape_zyx": list(SHAPE_ZYX), "contrasts": len(CONTRASTS),
              "cases": args.cases, "threads": 1, "machine": platform.processor() or
              platform.machine(), "cpu_count": os.cpu_count(), "stages": rows}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten {args.output}")


if __name__ == "__main__":
    main()
