"""Hand-made model folders and cohorts for prediction tests: no training, tiny networks."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from autosynth.architectures import UNetConfig, build_network
from autosynth.dataset.dataset_json import DatasetJson
from autosynth.dataset.image_io import Geometry, write_image
from autosynth.experiment_planning.plans import (ConfigurationPlan,
                                                 NormalizationPlan, Plans, TrainingPlan)
from autosynth.training.checkpointing import save_checkpoint

CONTRASTS = ("T1", "T2", "FLAIR")
RAS = (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)   # ITK direction of a RAS-stored file
LPS = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def oblique(degrees: float = 4.0) -> tuple[float, ...]:
    """An LPS direction rotated about two axes by a few degrees."""
    a, b = math.radians(degrees), math.radians(degrees / 2)
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    return tuple(float(v) for v in (rz @ rx).ravel())


def tiny_plan(patch=(32, 32), inplane_spacing=(1.5, 1.5), features=(4, 8),
              contrasts=CONTRASTS) -> Plans:
    """A configuration that really crops to the brain and resamples (spacing)."""
    stages = len(features)
    config = ConfigurationPlan(
        data_folder="2d", slice_axis=0, patch_size=list(patch),
        inplane_spacing=list(inplane_spacing), resize="spacing", crop_to_brain=True,
        null_slice_fraction=0.05, storage_dtype="float32", batch_size=4,
        normalization={c: NormalizationPlan("brain_zscore_01", z_low=-3.0, z_high=3.0)
                       for c in contrasts},
        network=UNetConfig(features_per_stage=list(features), convs_per_stage=[2] * stages,
                           dropout_per_stage=[0.1] * stages),
        training=TrainingPlan(epochs=1, iterations_per_epoch=1, val_iterations=1, patience=1))
    return Plans(dataset_name="Dataset042_Tiny", contrasts=list(contrasts),
                 configurations={"2d": config})


def tiny_plan_3d(patch=(8, 16, 16), spacing=(1.2, 1.2, 1.2), features=(4, 8),
                 contrasts=CONTRASTS) -> Plans:
    """A ``3d_fullres``-like configuration that crops, resamples in 3D and pads."""
    stages = len(features)
    plans = tiny_plan(patch=patch[1:], inplane_spacing=spacing[1:], features=features,
                      contrasts=contrasts)
    config = dataclasses.replace(
        plans.configurations["2d"], data_folder="3d_fullres", patch_size=list(patch),
        slice_spacing=spacing[0], null_slice_fraction=0.0,
        network=UNetConfig(features_per_stage=list(features), convs_per_stage=[1] * stages,
                           dropout_per_stage=[0.0] * stages, dimensions=3, block="residual",
                           norm="instance", nonlinearity="leaky_relu",
                           final_activation="identity", upsampling="transposed"))
    return dataclasses.replace(plans, configurations={"3d_fullres": config})


def make_model_folder(results: Path, sources=("T1",), target="FLAIR", folds=("0",),
                      plans: Plans | None = None, seed: int = 0,
                      checkpoints=("best", "final")) -> Path:
    """``results/Dataset042_Tiny/SynthesisTrainer__autosynthPlans__<CONFIG>/<SRC>_to_<TGT>``,
    CONFIG the plans' one configuration."""
    plans = plans or tiny_plan()
    configuration = next(iter(plans.configurations))
    folder = (Path(results) / plans.dataset_name /
              f"SynthesisTrainer__autosynthPlans__{configuration}"
              / f"{'+'.join(sources)}_to_{target}")
    folder.mkdir(parents=True, exist_ok=True)
    plans.save(folder / "plans.json")
    DatasetJson(name=plans.dataset_name, channel_names=dict(enumerate(plans.contrasts)),
                numTraining=3).save(folder / "dataset.json")
    plan = plans.configurations[configuration]
    for i, fold in enumerate(folds):
        torch.manual_seed(seed + i)
        config = dataclasses.replace(plan.network,
                                     input_channels=len(sources) * plan.context_slices)
        state = {"network": build_network(config).state_dict(),
                 "network_config": config.to_dict(), "trainer": "SynthesisTrainer"}
        for name in checkpoints:
            save_checkpoint(state, folder / f"fold_{fold}" / f"checkpoint_{name}.pth")
    return folder


class OneMinus(nn.Module):
    """Stands in for a trained network: target = 1 - normalised source."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.0 - x[:, :1]


def smooth_case(shape_zyx=(18, 30, 34), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A slowly varying positive 'source' inside an ellipsoidal brain; (image, mask)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*[np.linspace(-1, 1, s) for s in shape_zyx], indexing="ij")
    mask = (z ** 2 / 0.8 + (y - 0.05) ** 2 / 0.6 + (x + 0.05) ** 2 / 0.55) < 1
    phase = rng.uniform(0, 1)
    image = 100 + 30 * np.sin(1.3 * x + phase) + 20 * np.cos(1.1 * y) + 10 * z
    return np.where(mask, image, 0).astype(np.float32), mask.astype(np.uint8)


def write_cohort(folder: Path, n_cases: int = 2, direction=LPS, spacing=(1.0, 1.2, 2.0),
                 shape_zyx=(18, 30, 34), channels=(0,), plain: bool = False,
                 mask_folder: Path | None = None) -> list[str]:
    """Input images ``CASE_XXXX.nii.gz`` (or plain ``CASE.nii.gz``) of smooth cases."""
    geometry = Geometry(tuple(reversed(shape_zyx)), tuple(spacing), (12.5, -30.25, 7.0),
                        tuple(direction))
    ids = []
    for i in range(n_cases):
        case = f"sub{i:02d}"
        image, mask = smooth_case(shape_zyx, seed=i)
        for c in channels:
            name = f"{case}.nii.gz" if plain else f"{case}_{c:04d}.nii.gz"
            write_image(image * (1 + 0.5 * c), geometry, Path(folder) / name)
        if mask_folder is not None:
            write_image(mask, geometry, Path(mask_folder) / f"{case}.nii.gz")
        ids.append(case)
    return ids
