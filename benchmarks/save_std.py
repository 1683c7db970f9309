#!/usr/bin/env python3
"""What ``--save-std`` costs: one BraTS-sized volume, two folds of the paper network, predicted
without and with ``--save-std``, beside the machine's matmul speed measured in the same run.

    PYTHONPATH=. python benchmarks/save_std.py     # prints one JSON line

``--save-std`` runs each fold once more on its own (its passes go through the whole inverse
mapping before the spread is taken), so the network time should about double.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autosynth.architectures import UNetConfig, build_network  # noqa: E402
from autosynth.cli.predict import main as predict  # noqa: E402
from autosynth.training.checkpointing import save_checkpoint  # noqa: E402
from benchmarks.inference import model_folder, synthesise  # noqa: E402
from benchmarks.machine_speed import matmul_gflops  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        os.environ["AUTOSYNTH_RESULTS"] = str(work / "results")
        _, mask = synthesise(work)
        folder = model_folder(work / "results")
        torch.manual_seed(1)   # a second fold with other weights
        save_checkpoint({"network": build_network(UNetConfig.paper()).state_dict(),
                         "network_config": UNetConfig.paper().to_dict()},
                        folder / "fold_1" / "checkpoint_best.pth")
        result = {"matmul_gflops_before": round(matmul_gflops(), 1)}
        for name, extra in (("plain", []), ("save_std", ["--save-std"]), ("plain_again", [])):
            started = time.perf_counter()
            assert predict(["-i", str(work / "in"), "-o", str(work / name), "-m", str(folder),
                            "--masks", str(mask.parent), "--no-progress", *extra]) == 0
            result[f"{name}_s"] = round(time.perf_counter() - started, 2)
            shutil.rmtree(work / name)
        result["matmul_gflops_after"] = round(matmul_gflops(), 1)
        result["ratio_save_std_to_plain"] = round(
            result["save_std_s"] / ((result["plain_s"] + result["plain_again_s"]) / 2), 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
