"""Preprocessing and prediction of the ``2d`` configuration on BraTS-sized cases, for this tree
or another (``--tree``), with the machine's matrix-multiply speed measured in the same run.

A raw dataset of 6 cases (3 contrasts, 240x240x155 at 1 mm, brains of different sizes) is
synthesised and planned (``autosynth_plan_and_preprocess -c 2d``); a model folder with the
planned network (He-initialised weights, which cost what trained ones do) then predicts the
largest case with ``autosynth_predict``. Reported: preprocessing seconds per case, prediction
seconds for the volume (end to end, in-process), the number of prediction windows, and, with
``--windows``, the same prediction with a patch about 30 % smaller than the planned one, so
the brain needs several overlapping windows per slice (the sliding-window overhead).

    .venv/bin/python benchmarks/geometry_core.py [--tree DIR] [--windows] [--runs 2]

Only public commands and files are used, so an older checkout can be measured with the same
script (``--tree`` puts it first on ``sys.path``). Prints JSON and writes it to ``--output``
(default ``benchmarks/results/geometry_core.json``).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine_speed import matmul_gflops  # beside this script, on sys.path when it runs

HERE = Path(__file__).resolve().parent
SHAPE_ZYX = (155, 240, 240)
CONTRASTS = ("T1", "T2", "FLAIR")
SCALES = (0.85, 0.9, 0.95, 1.0, 1.05, 1.12)   # brain size of each case


def write_dataset(folder: Path, contrasts: tuple[str, ...] = CONTRASTS) -> None:
    """Six BraTS-sized cases (240 x 240 x 155, int16 .nii.gz, brains scaled 0.85-1.12 with
    masks), one image per contrast; the first contrasts are the same whatever their number."""
    from autosynth.dataset.dataset_json import DatasetJson
    from autosynth.dataset.image_io import Geometry, write_image

    z, y, x = np.ogrid[:SHAPE_ZYX[0], :SHAPE_ZYX[1], :SHAPE_ZYX[2]]
    geometry = Geometry((240, 240, 155), (1.0, 1.0, 1.0), (0.0, -239.0, 0.0),
                        (-1, 0, 0, 0, -1, 0, 0, 0, 1))
    for i, scale in enumerate(SCALES):
        rng = np.random.default_rng(i)
        r = ((z - 77) / (62 * scale)) ** 2 + ((y - 120) / (82 * scale)) ** 2 \
            + ((x - 120) / (66 * scale)) ** 2
        mask = r < 1
        for c in range(len(contrasts)):
            image = 400 + 100 * (c + 1) * np.sin(x / (7.0 + c)) * np.cos(y / 11.0) \
                + rng.normal(0, 20, SHAPE_ZYX)
            write_image(np.where(mask, image, 0), geometry,
                        folder / "imagesTr" / f"case_{i:03d}_{c:04d}.nii.gz", dtype=np.int16)
        write_image(mask.astype(np.uint8), geometry, folder / "masksTr" / f"case_{i:03d}.nii.gz")
    DatasetJson(name=folder.name, channel_names=dict(enumerate(contrasts)),
                numTraining=len(SCALES)).save(folder / "dataset.json")


def make_model(results: Path, plans_file: Path, patch: list[int] | None) -> Path:
    """A one-fold T1 -> FLAIR model folder with the planned network (optionally another patch)."""
    import torch

    from autosynth.architectures import UNetConfig, build_network
    from autosynth.dataset.dataset_json import DatasetJson
    from autosynth.training.checkpointing import save_checkpoint

    plans = json.loads(plans_file.read_text())
    plans["configurations"] = {"2d": plans["configurations"]["2d"]}
    if patch is not None:
        plans["configurations"]["2d"]["patch_size"] = patch
    network = dict(plans["configurations"]["2d"]["network"])
    network.pop("n_stages", None)
    known = set(UNetConfig.__dataclass_fields__)
    config = UNetConfig(**{k: v for k, v in network.items() if k in known})
    folder = results / "Dataset901_Bench" / "SynthesisTrainer__autosynthPlans__2d" / "T1_to_FLAIR"
    (folder / "fold_0").mkdir(parents=True, exist_ok=True)
    (folder / "plans.json").write_text(json.dumps(plans))
    DatasetJson(name="Dataset901_Bench", channel_names=dict(enumerate(CONTRASTS)),
                numTraining=len(SCALES)).save(folder / "dataset.json")
    torch.manual_seed(0)
    save_checkpoint({"network": build_network(config).state_dict(),
                     "network_config": config.to_dict(), "trainer": "SynthesisTrainer"},
                    folder / "fold_0" / "checkpoint_best.pth")
    return folder


def timed(function, argv: list[str]) -> float:
    started = time.perf_counter()
    code = function(argv)
    if code:
        raise SystemExit(f"{function.__module__} {' '.join(argv)} exited {code}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=HERE.parent,
                        help="checkout whose autosynth is measured (default: this one)")
    parser.add_argument("--windows", action="store_true",
                        help="also predict with a patch about 30 %% smaller than planned")
    parser.add_argument("--runs", type=int, default=2, help="timed prediction runs (median)")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "geometry_core.json")
    args = parser.parse_args()
    sys.path.insert(0, str(args.tree.resolve()))
    import torch

    torch.set_num_threads(2)
    peak_before = matmul_gflops()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for root in ("raw", "preprocessed", "results"):
            os.environ[f"AUTOSYNTH_{root.upper()}"] = str(work / root)
        write_dataset(work / "raw" / "Dataset901_Bench")
        from autosynth.cli.plan_and_preprocess import main as plan_and_preprocess
        from autosynth.cli.predict import main as predict

        seconds = timed(plan_and_preprocess, ["-d", "901", "-c", "2d", "-np", "1",
                                              "--no-progress"])
        plans_file = work / "preprocessed" / "Dataset901_Bench" / "plans.json"
        planned_patch = json.loads(plans_file.read_text())["configurations"]["2d"]["patch_size"]
        cohort = work / "cohort"
        (cohort / "in").mkdir(parents=True)
        (cohort / "masks").mkdir()
        raw = work / "raw" / "Dataset901_Bench"
        (cohort / "in" / "big_0000.nii.gz").symlink_to(raw / "imagesTr" / "case_005_0000.nii.gz")
        (cohort / "masks" / "big.nii.gz").symlink_to(raw / "masksTr" / "case_005.nii.gz")
        variants = {"planned patch": None}
        if args.windows:
            variants["patch 30 % smaller"] = [max(16, int(p * 0.7) // 16 * 16)
                                              for p in planned_patch]
        prediction = {}
        for name, patch in variants.items():
            results = work / f"results_{len(prediction)}"
            os.environ["AUTOSYNTH_RESULTS"] = str(results)
            model = make_model(results, plans_file, patch)
            runs = [timed(predict, ["-i", str(cohort / "in"), "-o", str(work / f"out_{name}_{r}"),
                                    "-m", str(model), "--masks", str(cohort / "masks"),
                                    "--no-progress"]) for r in range(args.runs + 1)][1:]
            prediction[name] = {"patch": patch or planned_patch,
                                "seconds_per_volume": round(statistics.median(runs), 2),
                                "runs": [round(r, 2) for r in runs]}
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "tree": str(args.tree.resolve()),
              "torch": torch.__version__, "threads": 2,
              "matmul_gflops_fp32_2_threads": {"before": round(peak_before, 1),
                                               "after": round(matmul_gflops(), 1)},
              "load_average_1min": round(os.getloadavg()[0], 2),
              "plan_and_preprocess_seconds_per_case": round(seconds / 6, 2),
              "planned_patch": planned_patch, "prediction_largest_case": prediction}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
