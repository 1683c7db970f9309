"""Each configuration on BraTS-sized cases: disk per case, training throughput against the
machine's matrix-multiply peak, and CPU prediction seconds per volume.

    .venv/bin/python benchmarks/configurations.py [-c 2d 2.5d ...] [--steps 3]

Six cases of 240 x 240 x 155 at 1 mm (4 contrasts; brains of different sizes, as in
``geometry_core.py``) are planned with every configuration (default ``--memory-gb`` 8) and
preprocessed. Per configuration: megabytes per case of its folder; the trainer's own step
(``SynthesisTrainer.train_step`` on the loader's batches, T1 -> FLAIR) timed over ``--steps``
steps after one warm-up, as samples (slices or 3D patches) per second, voxels per second and
GFLOP/s (FLOPs counted with ``torch.utils.flop_counter``), that as a fraction of the measured
fp32 matmul peak; and ``autosynth_predict`` end to end for the largest case with the
(untrained, He-initialised) network. The peak is measured before and after. Prints JSON and
writes it to ``--output`` (default ``benchmarks/results/configurations.json``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from geometry_core import SCALES, write_dataset  # six BraTS-sized cases, beside this script
from machine_speed import matmul_gflops  # beside this script, on sys.path when it runs
from torch.utils.flop_counter import FlopCounterMode

from autosynth.cli.plan_and_preprocess import main as plan_and_preprocess
from autosynth.cli.predict import main as predict
from autosynth.experiment_planning.configurations import PLANNERS
from autosynth.training.context import TrainingRun
from autosynth.training.trainer import BEST, SynthesisTrainer

HERE = Path(__file__).resolve().parent
CONTRASTS = ("T1", "T2", "FLAIR", "T1ce")


def training_speed(name: str, steps: int) -> dict:
    run = TrainingRun.create("903", name, 0, ["T1"], "FLAIR")
    trainer = SynthesisTrainer(run, num_workers=0, progress=False)
    trainer.initialize()
    loader = iter(trainer._train_loader())
    batch = next(loader)
    trainer.train_step(batch)                                   # warm-up
    with FlopCounterMode(display=False) as counter:
        trainer.train_step(batch)
    seconds = []
    for _ in range(steps):
        batch = next(loader)
        started = time.perf_counter()
        trainer.train_step(batch)
        seconds.append(time.perf_counter() - started)
    step = float(np.median(seconds))
    samples = batch["data"].shape[0]
    voxels = int(np.prod(batch["target"].shape))
    trainer.save(BEST)
    return {"batch": samples, "patch": list(batch["target"].shape[2:]),
            "seconds_per_step": round(step, 3), "samples_per_second": round(samples / step, 2),
            "voxels_per_second": round(voxels / step), "step_gflop": round(
                counter.get_total_flops() / 1e9, 1),
            "gflops": round(counter.get_total_flops() / 1e9 / step, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--configurations", nargs="+", default=list(PLANNERS))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--disk-only", action="store_true",
                        help="only plan, preprocess and measure the disk per case")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "configurations.json")
    args = parser.parse_args()
    torch.set_num_threads(2)
    peak_before = matmul_gflops()
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "case": "240x240x155 at 1 mm, 4 contrasts, float32", "configurations": {}}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AUTOSYNTH_HOME"] = tmp
        raw = Path(tmp) / "raw" / "Dataset903_Configurations"
        write_dataset(raw, CONTRASTS)
        code = plan_and_preprocess(["-d", "903", "-c", *args.configurations, "-np", "1",
                                    "--no-progress"])
        if code:
            raise SystemExit(f"plan_and_preprocess exited {code}")
        folder = Path(tmp) / "preprocessed" / "Dataset903_Configurations"
        largest = raw / "imagesTr" / f"case_{len(SCALES) - 1:03d}_0000.nii.gz"
        (Path(tmp) / "one").mkdir()
        os.symlink(largest, Path(tmp) / "one" / largest.name)
        for name in args.configurations:
            entry = {"mb_per_case": round(sum(p.stat().st_size for p in (folder / name).glob(
                "*") if p.is_file()) / len(SCALES) / 1e6, 1)}
            if args.disk_only:
                result["configurations"][name] = entry
                print(name, entry, flush=True)
                continue
            entry.update(training_speed(name, args.steps))
            started = time.perf_counter()
            code = predict(["-i", str(Path(tmp) / "one"), "-o", str(Path(tmp) / f"out_{name}"),
                            "-s", "T1", "-t", "FLAIR", "-c", name, "-d", "903",
                            "--masks", str(raw / "masksTr"), "--checkpoint", "best",
                            "--no-progress"])
            entry["predict_seconds_per_volume"] = round(time.perf_counter() - started, 1)
            if code:
                entry["predict_exit"] = code
            result["configurations"][name] = entry
            print(name, entry, flush=True)
    peak_after = matmul_gflops()
    result["matmul_gflops"] = {"before": round(peak_before, 1), "after": round(peak_after, 1)}
    for entry in result["configurations"].values():
        if "gflops" not in entry:
            continue
        entry["fraction_of_peak"] = round(entry["gflops"] / max(peak_before, peak_after), 3)
    result["load_average"] = os.getloadavg()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    sys.exit(main())
