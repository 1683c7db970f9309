"""The ``3d_fullres`` configuration: 3D patches at the median spacing, planned as nnU-Net does.

Spacing: the median per axis; an axis more than 3x coarser than the finest keeps the 10th
percentile of its spacings instead (fewer interpolated slices). Patch: the median canonical brain
at that spacing, then, while the estimated training memory of batch 2 exceeds the budget, the
axis with the largest patch / median-brain ratio shrinks by one pooling step. Poolings: an axis
is pooled while its feature map stays at least 4 voxels and its spacing is within 2x of the
finest (a coarse axis waits until the others caught up); each axis is divisible by 2^(its
poolings). Batch: as many as fit the budget, at least 2, at most 5 % of the dataset's voxels.
"""
from __future__ import annotations

import math

import numpy as np

from autosynth.architectures.config import UNetConfig
from autosynth.experiment_planning.memory import (activation_mib_per_sample, fixed_mib,
                                                  MIN_BATCH, MAX_DATASET_FRACTION)
from autosynth.experiment_planning.network_topology import count_parameters, residual_unet
from autosynth.experiment_planning.planner import (AXIS_NAMES, MODERN_LOSS_NOTE, PAPER_EPOCHS,
                                                   PAPER_PATIENCE, TRAIN_FRACTION,
                                                   VAL_FRACTION, axial_axis, modern_training,
                                                   normalization_for, normalization_notes)
from autosynth.experiment_planning.plans import (ConfigurationPlan, MemoryEstimate,
                                                 TrainingPlan)
from autosynth.dataset.orientation import CANONICAL

ANISOTROPY = 3.0          # an axis this much coarser than the finest: 10th percentile spacing
MIN_FEATURE_MAP = 4       # pool an axis while its feature map stays at least this large
MAX_POOLINGS = 5
PATCH_BATCH = 2           # the memory budget must hold at least this batch
MAX_ITERATIONS_PER_EPOCH, MAX_VAL_ITERATIONS = 250, 50


def target_spacing(fingerprint: dict) -> list[float]:
    """Canonical (Z, Y, X) spacing: the median, or the 10th percentile on a coarse axis."""
    spacings = np.array([c["spacing_zyx"] for c in fingerprint["cases"].values()], float)
    median = np.median(spacings, axis=0)
    coarse = median > ANISOTROPY * median.min()
    return [round(float(np.percentile(spacings[:, a], 10) if coarse[a] else median[a]), 6)
            for a in range(3)]


def pool_strides(patch: list[int], spacing: list[float]) -> list[list[int]]:
    """Per stage transition, per axis 2 (pooled) or 1 (kept), nnU-Net's rule."""
    size, spacing = [float(p) for p in patch], [float(s) for s in spacing]
    strides = []
    while len(strides) < MAX_POOLINGS:
        finest = min(spacing)
        step = [2 if size[a] / 2 >= MIN_FEATURE_MAP and spacing[a] <= 2 * finest else 1
                for a in range(3)]
        if step.count(2) == 0:
            break
        strides.append(step)
        size = [s / t for s, t in zip(size, step)]
        spacing = [s * t for s, t in zip(spacing, step)]
    return strides


def divisors(strides: list[list[int]]) -> list[int]:
    return [int(np.prod([s[a] for s in strides])) if strides else 1 for a in range(3)]


def network_for(patch: list[int], spacing: list[float]) -> UNetConfig:
    strides = pool_strides(patch, spacing)
    return residual_unet(len(strides) + 1, dimensions=3, pool_strides=strides)


def round_to_network(patch: list[float], spacing: list[float], up: bool = False
                     ) -> tuple[list[int], UNetConfig]:
    """The patch rounded (down, or ``up``) to the divisors of its own network."""
    network = network_for([int(math.ceil(p)) for p in patch], spacing)
    step = divisors(network.pool_strides or [])
    rounding = math.ceil if up else math.floor
    patch = [max(d, int(rounding(p / d - (1e-9 if up else 0))) * d) for p, d in zip(patch, step)]
    return patch, network_for(patch, spacing)


def training_mib(patch, network: UNetConfig, precision: str, batch: int) -> float:
    return (fixed_mib(count_parameters(network)) +
            batch * activation_mib_per_sample(patch, network, precision))


def plan_patch(median_shape: list[float], spacing: list[float], memory_gb: float,
               precision: str) -> tuple[list[int], UNetConfig, list[str]]:
    """Shrink the median brain until batch 2 fits the budget; returns the steps taken."""
    budget = memory_gb * 1024
    patch, network = round_to_network(median_shape, spacing, up=True)
    shrunk = []
    while training_mib(patch, network, precision, PATCH_BATCH) > budget:
        ratios = [p / m for p, m in zip(patch, median_shape)]
        axis = int(np.argmax(ratios))
        step = divisors(network.pool_strides or [])[axis]
        if patch[axis] - step < step * MIN_FEATURE_MAP and all(
                p - d < d * MIN_FEATURE_MAP for p, d in zip(patch, divisors(
                    network.pool_strides or []))):
            break  # nothing left to shrink: the smallest patch the network allows
        patch[axis] = max(step, patch[axis] - step)
        patch, network = round_to_network(patch, spacing)
        shrunk.append(AXIS_NAMES[axis])
    return patch, network, shrunk


def plan_3d_fullres(fingerprint: dict, contrasts: list[str], memory_gb: float = 8.0,
                    precision: str = "float32", storage_dtype: str = "float32"
                    ) -> ConfigurationPlan:
    """3D patches of the brain at the (median) target spacing."""
    axis = axial_axis(fingerprint)
    cases = list(fingerprint["cases"].values())
    spacing_zyx = target_spacing(fingerprint)
    order = [axis] + [a for a in range(3) if a != axis]     # stored (S, H, W)
    spacing = [spacing_zyx[a] for a in order]
    shapes = np.array([[c["cropped_shape_zyx"][a] * c["spacing_zyx"][a] / spacing_zyx[a]
                        for a in order] for c in cases])
    median_shape = [float(s) for s in np.median(shapes, axis=0)]
    patch, network, shrunk = plan_patch(median_shape, spacing, memory_gb, precision)
    per_sample = activation_mib_per_sample(patch, network, precision)
    n_parameters = count_parameters(network)
    fits = max(0, int((memory_gb * 1024 - fixed_mib(n_parameters)) // per_sample))
    dataset_voxels = float(np.sum(np.prod(shapes, axis=1)))
    cap = int(MAX_DATASET_FRACTION * dataset_voxels / float(np.prod(patch)))
    batch = max(MIN_BATCH, min(fits, cap))
    memory = MemoryEstimate(
        budget_gb=memory_gb, precision=precision, mib_per_slice=round(per_sample, 2),
        fixed_mib=round(fixed_mib(n_parameters), 1), batch_that_fits=fits,
        batch_cap_from_dataset=cap, training_slices=int(
            sum(c["cropped_shape_zyx"][axis] for c in cases) * TRAIN_FRACTION),
        n_parameters=n_parameters)
    samples = memory.training_slices  # windows are drawn around slices: one per slice an epoch
    schedule = TrainingPlan(
        epochs=PAPER_EPOCHS, patience=PAPER_PATIENCE,
        iterations_per_epoch=max(1, min(MAX_ITERATIONS_PER_EPOCH, math.ceil(
            samples * np.prod(patch[1:]) / (batch * float(np.prod(patch)))))),
        val_iterations=max(1, min(MAX_VAL_ITERATIONS, math.ceil(
            samples * VAL_FRACTION / TRAIN_FRACTION * np.prod(patch[1:])
            / (batch * float(np.prod(patch)))))))
    strides = network.pool_strides or []
    notes = [
        f"orientation {fingerprint.get('canonical_orientation', CANONICAL)}; stored axes "
        f"{''.join(AXIS_NAMES[a] for a in order)} (head-foot first)",
        f"spacing {spacing} mm (stored axes): median per axis"
        + (f"; axes more than {ANISOTROPY}x coarser than the finest use their 10th "
           "percentile" if max(spacing_zyx) > ANISOTROPY * min(spacing_zyx) else ""),
        f"patch {patch}: median brain {[round(s, 1) for s in median_shape]} voxels at that "
        f"spacing, rounded up to the poolings" + (f", shrunk along {''.join(shrunk)} until batch "
                                               f"{PATCH_BATCH} fits {memory_gb} GiB"
                                               if shrunk else ""),
        f"{network.num_stages} stages, poolings per axis {divisors(strides)} (strides "
        f"{strides}): an axis pools while its map stays >= {MIN_FEATURE_MAP} voxels and its "
        "spacing within 2x of the finest",
        f"network: residual encoder U-Net (ResEnc-M blocks {network.convs}), features "
        f"{network.features_per_stage} (32 * 2^i capped at 320), instance norm, leaky ReLU, "
        "linear head clamped to [0, 1] at prediction",
        f"batch {batch}: {memory.mib_per_slice} MiB per patch ({precision}) fits {fits} in "
        f"{memory_gb} GiB after {memory.fixed_mib} MiB fixed; at most 5 % of the "
        f"{dataset_voxels:.3g} voxels of the cropped brains ({cap}); at least {MIN_BATCH}",
        f"an epoch: {schedule.iterations_per_epoch} batches, as many voxels as the training "
        f"slices hold (at most {MAX_ITERATIONS_PER_EPOCH})",
        MODERN_LOSS_NOTE,
        *normalization_notes(fingerprint, contrasts)]
    return ConfigurationPlan(
        data_folder="3d_fullres", slice_axis=axis, patch_size=patch,
        inplane_spacing=spacing[1:], resize="spacing", crop_to_brain=True,
        null_slice_fraction=0.0, storage_dtype=storage_dtype, batch_size=batch,
        normalization=normalization_for(fingerprint, contrasts), network=network,
        training=modern_training(schedule), memory=memory, notes=notes,
        orientation=fingerprint.get("canonical_orientation", CANONICAL),
        slice_spacing=spacing[0])
