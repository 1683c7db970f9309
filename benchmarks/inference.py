"""Prediction speed of the paper network on one BraTS-sized volume, on this machine.

A 240x240x155 volume whose brain spans ~100 axial slices is synthesised and written as an
int16 .nii.gz (as BraTS ships); a model folder with the paper network (configuration
``2d_paper``: whole slices stretched to 224x224, one fold, He-initialised weights, which cost
the same as trained ones) predicts it with ``autosynth_predict``'s code path. Measured:

1. the network alone over the case's slices, per batch size and memory format (to choose the
   defaults in ``autosynth/inference/networks.py``);
2. the whole prediction of the volume (read, mask, preprocess, network, restore, write), with
   and without a mask file, median of several runs, and its split into steps.

    .venv/bin/python benchmarks/inference.py [--runs 5] [--batch-sizes 1 4 8 16 32]

Prints a table and writes benchmarks/results/inference.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHAPE_ZYX = (155, 240, 240)
BRAIN_SLICES = 100


def synthesise(folder: Path) -> tuple[Path, Path]:
    """Source image (int16) and mask of one volume; the brain covers BRAIN_SLICES slices."""
    from autosynth.dataset.image_io import Geometry, write_image

    z, y, x = np.ogrid[:SHAPE_ZYX[0], :SHAPE_ZYX[1], :SHAPE_ZYX[2]]
    half = BRAIN_SLICES / 2 - 0.5
    r = ((z - 77) / half) ** 2 + ((y - 120) / 85.0) ** 2 + ((x - 120) / 70.0) ** 2
    mask = r < 1
    rng = np.random.default_rng(0)
    image = 400 + 150 * np.sin(x / 7.0) * np.cos(y / 11.0) + rng.normal(0, 20, SHAPE_ZYX)
    geometry = Geometry((240, 240, 155), (1.0, 1.0, 1.0), (0.0, -239.0, 0.0),
                        (-1, 0, 0, 0, -1, 0, 0, 0, 1))
    source, mask_file = folder / "in" / "bench_0000.nii.gz", folder / "masks" / "bench.nii.gz"
    write_image(np.where(mask, image, 0), geometry, source, dtype=np.int16)
    write_image(mask.astype(np.uint8), geometry, mask_file)
    return source, mask_file


def model_folder(results: Path) -> Path:
    """A 2d_paper model folder with one fold of the paper network."""
    from autosynth.architectures import UNetConfig, build_network
    from autosynth.dataset.dataset_json import DatasetJson
    from autosynth.experiment_planning.plans import (ConfigurationPlan,
                                                     NormalizationPlan, Plans, TrainingPlan)
    from autosynth.training.checkpointing import save_checkpoint

    config = ConfigurationPlan(
        data_folder="2d_paper", slice_axis=0, patch_size=[224, 224], inplane_spacing=None,
        resize="stretch", crop_to_brain=False, null_slice_fraction=0.0, storage_dtype="float32",
        batch_size=32, normalization={c: NormalizationPlan("brain_zscore_01", z_low=-3.0,
                                                           z_high=4.0) for c in ("T1", "FLAIR")},
        network=UNetConfig.paper(),
        training=TrainingPlan(120, 1, 1, 20))
    folder = results / "Dataset900_Bench" / "SynthesisTrainer__autosynthPlans__2d_paper" \
        / "T1_to_FLAIR"
    folder.mkdir(parents=True)
    Plans("Dataset900_Bench", ["T1", "FLAIR"], {"2d_paper": config}).save(folder / "plans.json")
    DatasetJson("Bench", {0: "T1", 1: "FLAIR"}, 1).save(folder / "dataset.json")
    torch.manual_seed(0)
    network = build_network(UNetConfig.paper())
    save_checkpoint({"network": network.state_dict(), "network_config":
                     UNetConfig.paper().to_dict()}, folder / "fold_0" / "checkpoint_best.pth")
    return folder


def time_network(slices: np.ndarray, batch_sizes: list[int], runs: int) -> list[dict]:
    """Seconds for the network alone over ``slices`` (C, S, H, W), per batch and format."""
    from autosynth.architectures import UNetConfig, build_network
    from autosynth.inference.networks import SlicePredictor

    rows = []
    for channels_last in (True, False):
        network = build_network(UNetConfig.paper()).eval()
        if channels_last:
            network = network.to(memory_format=torch.channels_last)
        for batch in batch_sizes:
            predictor = SlicePredictor([network], "cpu", batch, channels_last=channels_last)
            predictor(slices[:, :batch])                                   # warm-up
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                predictor(slices)
                times.append(time.perf_counter() - started)
            median = statistics.median(times)
            rows.append({"channels_last": channels_last, "batch_size": batch,
                         "median_s": round(median, 3),
                         "ms_per_slice": round(1000 * median / slices.shape[1], 1)})
            print(f"network  channels_last={channels_last!s:5}  batch {batch:2d}: "
                  f"{median:6.2f} s  ({rows[-1]['ms_per_slice']} ms/slice)", flush=True)
    return rows


def time_volume(work: Path, model, with_mask: bool, runs: int) -> dict:
    """Median seconds of the whole prediction of the volume, and of each step."""
    from autosynth.inference import PredictionSettings, discover_input_cases, predict_cohort

    cases = discover_input_cases(work / "in", model.sources, model.dataset_json,
                                 work / "masks" if with_mask else None)
    settings = PredictionSettings(device="cpu")   # the default batch size
    records = []
    for run in range(runs + 1):                                   # the first run warms up
        out = work / f"out_{with_mask}_{run}"
        started = time.perf_counter()
        result = predict_cohort(cases, model, out, settings, progress=False)
        total = time.perf_counter() - started
        if run:
            steps = result["timings"]["bench"]
            records.append({"total": total, "read_and_mask": steps.read,
                            "preprocess": steps.preprocess, "network": steps.network,
                            "restore": steps.restore, "write": steps.write,
                            "slices": steps.slices})
    median = {k: round(statistics.median(r[k] for r in records), 3) for k in records[0]}
    median["runs"] = [round(r["total"], 3) for r in records]
    print(f"volume   mask {'file' if with_mask else 'derived'}: {median}", flush=True)
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--network-slices", type=int, default=32,
                        help="slices of the network-only sweep (default 32)")
    args = parser.parse_args()
    from autosynth.inference import TrainedModel
    from autosynth.inference.case_prediction import read_input
    from autosynth.inference.input_cases import InputCase
    from autosynth.preprocessing.case_preprocessing import preprocess_case

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source, mask = synthesise(work)
        model = TrainedModel.load(model_folder(work / "results"))
        images, brain, geometry = read_input(InputCase("bench", (source,), mask))
        slices = preprocess_case(images, brain, geometry, model.configuration, ["T1"],
                                 null_slice_fraction=0.0)[0]
        network = time_network(slices[:, :args.network_slices], args.batch_sizes, args.runs)
        volume = {"mask_file": time_volume(work, model, True, args.runs),
                  "mask_derived": time_volume(work, model, False, args.runs)}
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(),
              "machine": platform.processor() or platform.machine(),
              "volume_shape_zyx": list(SHAPE_ZYX), "brain_slices": int(slices.shape[1]),
              "patch": [224, 224], "folds": 1, "runs": args.runs,
              "load_average_1min": {"before": round(load_before, 2),
                                    "after": round(os.getloadavg()[0], 2)},
              "network_only": network, "whole_volume": volume}
    out = ROOT / "benchmarks" / "results" / "inference.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
