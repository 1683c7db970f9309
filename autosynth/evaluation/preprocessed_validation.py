"""End-of-training check: predict the fold's validation cases whole and score them.

Each case is predicted with the sliding windows of ``autosynth_predict`` over the patch the
network was trained on.

Scored in the preprocessed space (normalised [0, 1], the model's own grid), which needs no
inversion and matches what the loss saw; ``autosynth_predict``/``autosynth_evaluate`` score
new cohorts in the original space.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from autosynth import results_layout as layout
from autosynth.evaluation.metrics import compute_metrics
from autosynth.inference.networks import SlicePredictor
from autosynth.preprocessing.storage import load_case
from autosynth.training.checkpointing import load_checkpoint
from autosynth.training.trainer import BEST, SynthesisTrainer
from autosynth.utils.files import write_json_atomic


VALIDATION_BATCH = 8  # windows per forward pass


def summarise(per_case: dict[str, dict[str, float]]) -> dict:
    """Mean and SD of every metric over cases (finite values only)."""
    keys = sorted({k for metrics in per_case.values() for k in metrics})
    summary = {}
    for key in keys:
        values = np.array([m[key] for m in per_case.values() if key in m], float)
        values = values[np.isfinite(values)]
        summary[key] = {"mean": float(values.mean()) if values.size else float("nan"),
                        "sd": float(values.std()) if values.size else float("nan"),
                        "n": int(values.size)}
    return summary


def validate_cases(network: nn.Module, folder: Path, cases: list[str],
                   source_channels: list[int], target_channel: int, device: torch.device,
                   output: Path, patch: tuple[int, ...] | None = None,
                   context_slices: int = 1) -> dict:
    """Write ``output`` (``validation_preprocessed/summary.json``): per-case metrics and
    their mean +- SD."""
    network.eval()
    predictor = SlicePredictor([network], device, VALIDATION_BATCH, patch=patch,
                               context_slices=context_slices)
    per_case = {}
    for case in cases:
        data, mask, labels, _ = load_case(folder, case)
        prediction = np.clip(predictor(np.asarray(data[source_channels])), 0, 1)
        reference = np.asarray(data[target_channel], dtype=np.float32)
        brain = np.asarray(mask) > 0
        metrics = compute_metrics(prediction * brain, reference * brain, mask=brain,
                                  labels=None if labels is None else np.array(labels))
        per_case[case] = {k: float(v) for k, v in metrics.items() if np.isscalar(v)}
    result = {"space": "preprocessed (normalised [0, 1], model grid)", "data_range": 1.0,
              "mean_sd": summarise(per_case), "cases": per_case}
    write_json_atomic(output, result)
    return result


def validate_fold(trainer: SynthesisTrainer, checkpoint: str = BEST) -> dict:
    """Score a trained fold's best model on its validation cases in the preprocessed space
    (``validation_preprocessed/summary.json``; the original space is ``cross_validation.py``).

    Rank 0 alone scores; no collective follows, so no other rank waits on it.
    """
    if not trainer.dist.is_main:
        return {}
    best = trainer.output_folder / checkpoint
    if best.is_file():
        trainer.network.load_state_dict(load_checkpoint(best, trainer.device)["network"])
    run = trainer.run
    result = validate_cases(trainer.network, run.preprocessed_folder, run.val_cases,
                            run.source_channels, run.target_channel, trainer.device,
                            trainer.output_folder / layout.PREPROCESSED_VALIDATION_FOLDER
                            / "summary.json",
                            tuple(trainer.config.patch_size), trainer.config.context_slices)
    means = {k: round(v["mean"], 4) for k, v in result["mean_sd"].items()
             if k in ("psnr_brain", "ssim_brain", "mae_brain", "psnr", "ssim")}
    trainer.log(f"validation cases ({len(run.val_cases)}): {means}")
    return result
