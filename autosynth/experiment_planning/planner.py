"""From the fingerprint to the slice-wise configurations: ``2d`` (planned), ``2d_paper`` and ``2.5d``.

Every planned number is derived in this file from fingerprint values, and the derivation is
written into the configuration's ``notes`` (documentation/plans.md gives the rules).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from autosynth.architectures.config import UNetConfig
from autosynth.dataset.orientation import CANONICAL, head_foot_axis
from autosynth.experiment_planning.memory import (activation_mib_per_slice,
                                                  batch_size_for_budget, fixed_mib)
from autosynth.experiment_planning.network_topology import (count_parameters,
                                                            number_of_poolings, paper_network,
                                                            residual_unet, unet_for_poolings)
from autosynth.experiment_planning.plans import (ConfigurationPlan, MemoryEstimate,
                                                 NormalizationPlan, TrainingPlan)
from autosynth.dataset.brain_mask import kept_slice_indices
from autosynth.normalization import PLANNED_SCHEME, get_scheme

AXIS_NAMES = "ZYX"
SPACING_TIE = 0.05  # spacings within 5 % of the largest count as equally coarse
TRAIN_FRACTION, VAL_FRACTION = 0.64, 0.16  # of all cases: the paper's 64 / 16 / 20 split
NULL_SLICE_FRACTION = 0.05
MAX_ITERATIONS_PER_EPOCH, MAX_VAL_ITERATIONS = 250, 50
PAPER_PATCH, PAPER_BATCH, PAPER_EPOCHS, PAPER_PATIENCE = 224, 32, 120, 20
CONTEXT_SLICES = 3      # 2.5d: the target slice and one neighbour on each side (BraSyn 2023)
THICK_SLICE_RATIO = 3.0  # thicker slices than this x the in-plane spacing: no neighbours
# The loss of the modern configurations: (name, restricted to the brain, tumour weight)
MODERN_LOSS = ("l1_ssim", True, 1.0)
MODERN_LOSS_NOTE = (
    "loss l1_ssim (L1 + 1 - SSIM) over brain voxels only, tumour weight 1: in a screen on the "
    "demo cohort (benchmarks/loss_choice.py, documentation/plans.md) brain-only l1_ssim gave "
    "the best in-brain PSNR and SSIM (18.2 dB / 0.51 against 17.0 / 0.28 for mse and 15.6 / "
    "0.42 for l1_ssim over the whole patch); a tumour weight of 3 lowered the tumour error by "
    "13 % for 0.15 dB, within one seed's noise, so it stays 1")


def axial_axis(fingerprint: dict) -> int:
    """The head-foot axis of the canonical orientation every case is reoriented to."""
    return head_foot_axis(fingerprint.get("canonical_orientation", CANONICAL))


def choose_slice_axis(fingerprint: dict) -> tuple[int, str]:
    """The lowest-resolution axis (largest median spacing); axial when several tie."""
    spacing = np.asarray(fingerprint["median_spacing_zyx"], dtype=float)
    coarse = [a for a in range(3) if spacing[a] >= (1 - SPACING_TIE) * spacing.max()]
    axial = axial_axis(fingerprint)
    axis = axial if axial in coarse else int(np.argmax(spacing))
    why = (f"slice axis {AXIS_NAMES[axis]}: median spacing (Z, Y, X) "
           f"{[round(float(s), 3) for s in spacing]} mm, "
           + ("lowest resolution" if len(coarse) == 1 else
              "several axes equally coarse, so the axial one"))
    return axis, why


def slice_counts(fingerprint: dict, axis: int, null_fraction: float) -> int:
    """Non-null slices along ``axis`` over all cases."""
    name = AXIS_NAMES[axis]
    return int(sum(kept_slice_indices(case["slice_occupancy"][name]["brain_voxels_per_slice"],
                                      null_fraction).size
                   for case in fingerprint["cases"].values()))


def normalization_for(fingerprint: dict, contrasts: list[str]) -> dict[str, NormalizationPlan]:
    """The planned scheme (brain_zscore_01) per contrast, planned by its class from the
    fingerprint (autosynth/normalization/brain_zscore.py: a window that keeps lesions)."""
    scheme = get_scheme(PLANNED_SCHEME)
    return {contrast: scheme.planned(fingerprint, contrast)[0] for contrast in contrasts}


def normalization_notes(fingerprint: dict, contrasts: list[str]) -> list[str]:
    """How each contrast's normalisation was planned and what its window clips."""
    scheme = get_scheme(PLANNED_SCHEME)
    notes = [scheme.planned(fingerprint, contrast)[1] for contrast in contrasts]
    return [note for note in notes if note]


def memory_estimate(patch, network: UNetConfig, memory_gb: float, precision: str,
                    training_slices: int, in_channels: int = 1) -> tuple[int, MemoryEstimate]:
    n_parameters = count_parameters(network, in_channels)
    per_slice = activation_mib_per_slice(patch, network, precision, in_channels)
    batch, fits, cap = batch_size_for_budget(per_slice, n_parameters, memory_gb, training_slices)
    return batch, MemoryEstimate(
        budget_gb=memory_gb, precision=precision, mib_per_slice=round(per_slice, 2),
        fixed_mib=round(fixed_mib(n_parameters), 1), batch_that_fits=fits,
        batch_cap_from_dataset=cap, training_slices=training_slices, n_parameters=n_parameters)


def _schedule(slices: int, batch: int, epochs: int, patience: int, cap_iterations: bool,
              augmentation: bool) -> TrainingPlan:
    train = math.ceil(slices * TRAIN_FRACTION / batch)
    val = math.ceil(slices * VAL_FRACTION / batch)
    if cap_iterations:
        train, val = min(train, MAX_ITERATIONS_PER_EPOCH), min(val, MAX_VAL_ITERATIONS)
    return TrainingPlan(epochs=epochs, iterations_per_epoch=max(1, train),
                        val_iterations=max(1, val), patience=patience, optimizer="adam",
                        learning_rate=1e-3, loss="mse", augmentation=augmentation, seed=0)


def plan_2d(fingerprint: dict, contrasts: list[str], memory_gb: float = 8.0,
            precision: str = "float32", storage_dtype: str = "float32") -> ConfigurationPlan:
    """The planned configuration: patch, network and batch derived from the data."""
    axis, axis_note = choose_slice_axis(fingerprint)
    inplane = [a for a in range(3) if a != axis]
    cases = list(fingerprint["cases"].values())
    spacing = [round(float(np.median([c["spacing_zyx"][a] for c in cases])), 6) for a in inplane]
    extents = np.array([[c["cropped_shape_zyx"][a] * c["spacing_zyx"][a] / t
                         for a, t in zip(inplane, spacing)] for c in cases])
    extent = np.median(extents, axis=0)
    poolings = number_of_poolings(float(extent.min()))
    step = 2 ** poolings
    patch = [int(math.ceil(e / step - 1e-9) * step) for e in extent]
    network = unet_for_poolings(poolings)
    slices = slice_counts(fingerprint, axis, NULL_SLICE_FRACTION)
    training_slices = int(slices * TRAIN_FRACTION)
    batch, memory = memory_estimate(patch, network, memory_gb, precision, training_slices)
    larger = int(np.sum(np.any(extents > np.asarray(patch) + 1e-9, axis=1)))
    orientations = ", ".join(f"{k} {v}" for k, v in sorted(fingerprint.get(
        "orientations", {}).items()))
    notes = [
        f"orientation {fingerprint.get('canonical_orientation', CANONICAL)}: every case is "
        f"reoriented to it (axes permuted and flipped, no interpolation); stored as: "
        f"{orientations or 'unknown'}",
        axis_note,
        f"in-plane spacing {spacing} mm: median over cases; every case is resampled to exactly "
        "this spacing and never rescaled to fit the patch",
        f"patch {patch}: median cropped brain {[round(float(e), 1) for e in extent]} px at that "
        f"spacing, rounded up to a multiple of 2^{poolings}",
        f"{larger} of {len(cases)} cases have a brain larger than the patch (largest "
        f"{[round(float(e), 1) for e in extents.max(axis=0)]} px): they are covered by patches "
        "in training and by sliding windows (half-patch steps, Gaussian weights) in prediction; "
        "smaller ones are zero-padded",
        f"{network.num_stages} stages: fewest 2x poolings that bring {round(float(extent.min()), 1)}"
        f" px to at most 14 px; features 16 * 2^i capped at 256",
        f"batch {batch}: {memory.mib_per_slice} MiB per slice ({precision}) fits "
        f"{memory.batch_that_fits} in {memory_gb} GiB after {memory.fixed_mib} MiB fixed; "
        f"at most 5 % of {training_slices} training slices ({memory.batch_cap_from_dataset}); "
        f"clipped to [2, 32]",
        f"null slices: fewer brain voxels than {NULL_SLICE_FRACTION} x the case's largest brain "
        f"cross-section; {slices} slices kept over {len(cases)} cases",
        *normalization_notes(fingerprint, contrasts),
    ]
    return ConfigurationPlan(
        data_folder="2d", slice_axis=axis, patch_size=patch, inplane_spacing=spacing,
        resize="spacing", crop_to_brain=True, null_slice_fraction=NULL_SLICE_FRACTION,
        storage_dtype=storage_dtype, batch_size=batch,
        normalization=normalization_for(fingerprint, contrasts), network=network,
        training=_schedule(slices, batch, PAPER_EPOCHS, PAPER_PATIENCE, True, True),
        memory=memory, notes=notes,
        orientation=fingerprint.get("canonical_orientation", CANONICAL))


def plan_2d_paper(fingerprint: dict, contrasts: list[str], memory_gb: float = 8.0,
                  precision: str = "float32", storage_dtype: str = "float32"
                  ) -> ConfigurationPlan:
    """Osman & Tamam 2022 as published: whole axial slices resized to 224x224, batch 32."""
    axis = axial_axis(fingerprint)
    network = paper_network()
    slices = slice_counts(fingerprint, axis, 0.0)
    patch = [PAPER_PATCH, PAPER_PATCH]
    _, memory = memory_estimate(patch, network, memory_gb, precision,
                                int(slices * TRAIN_FRACTION))
    notes = [f"the paper's settings; slice axis {AXIS_NAMES[axis]} (axial)",
             "whole slices (no in-plane crop) resized to 224x224 with cubic interpolation",
             "null slices (no brain voxel) removed; an epoch is one pass over the training "
             "slices", f"batch 32 needs about {round(memory.mib_per_slice * 32 + memory.fixed_mib)}"
             f" MiB ({precision}); budget {memory_gb} GiB",
             *normalization_notes(fingerprint, contrasts)]
    return ConfigurationPlan(
        data_folder="2d_paper", slice_axis=axis, patch_size=patch, inplane_spacing=None,
        resize="stretch", crop_to_brain=False, null_slice_fraction=0.0,
        storage_dtype=storage_dtype, batch_size=PAPER_BATCH,
        normalization=normalization_for(fingerprint, contrasts), network=network,
        training=_schedule(slices, PAPER_BATCH, PAPER_EPOCHS, PAPER_PATIENCE, False, False),
        memory=memory, notes=notes,
        orientation=fingerprint.get("canonical_orientation", CANONICAL))


def thickness_ratio(fingerprint: dict, axis: int) -> float:
    """Median slice spacing along ``axis`` over the finest in-plane median spacing."""
    spacing = [float(s) for s in fingerprint["median_spacing_zyx"]]
    return spacing[axis] / min(spacing[a] for a in range(3) if a != axis)


def modern_training(schedule: TrainingPlan) -> TrainingPlan:
    """The loss of the modern configurations (see ``MODERN_LOSS``), the rest as planned."""
    loss, in_brain, tumour_weight = MODERN_LOSS
    return dataclasses.replace(schedule, loss=loss, loss_in_brain=in_brain,
                               tumour_weight=tumour_weight)


def plan_2_5d(fingerprint: dict, contrasts: list[str], memory_gb: float = 8.0,
              precision: str = "float32", storage_dtype: str = "float32"
              ) -> ConfigurationPlan:
    """As ``2d`` (axis, spacing, patch, depth), but each source also gives its neighbouring
    slices as input channels, and the network is the modern residual U-Net."""
    base = plan_2d(fingerprint, contrasts, memory_gb, precision, storage_dtype)
    ratio = thickness_ratio(fingerprint, base.slice_axis)
    context = 1 if ratio > THICK_SLICE_RATIO else CONTEXT_SLICES
    network = residual_unet(base.network.num_stages, dimensions=2,
                            base_features=base.network.features_per_stage[0],
                            max_features=max(base.network.features_per_stage))
    training_slices = base.memory.training_slices
    batch, memory = memory_estimate(base.patch_size, network, memory_gb, precision,
                                    training_slices, in_channels=context)
    notes = [note for note in base.notes if not note.startswith(("batch ", f"{base.network.num_stages} stages"))]
    notes += [
        f"context_slices {context}: each source gives the target slice and its "
        f"{context // 2} neighbour(s) on each side as input channels (zeros beyond the brain's "
        f"first and last slice); slices are {ratio:.2f}x the in-plane spacing"
        + (f", more than {THICK_SLICE_RATIO}x, so neighbours add little: 1" if context == 1
           else f" (at most {THICK_SLICE_RATIO}x: {CONTEXT_SLICES})"),
        f"network: residual encoder U-Net (nnU-Net ResEnc-M blocks {network.convs}), "
        f"{network.num_stages} stages and features {network.features_per_stage} as 2d (so that "
        "it costs about as much as 2d per slice on a CPU; nnU-Net's 2D presets start at 32), "
        "instance norm, leaky ReLU, linear head clamped to [0, 1] at prediction",
        f"batch {batch}: {memory.mib_per_slice} MiB per slice ({precision}, {context} input "
        f"channel(s)) fits {memory.batch_that_fits} in {memory_gb} GiB after "
        f"{memory.fixed_mib} MiB fixed; at most 5 % of {training_slices} training slices "
        f"({memory.batch_cap_from_dataset}); clipped to [2, 32]",
        MODERN_LOSS_NOTE]
    schedule = _schedule(slice_counts(fingerprint, base.slice_axis, NULL_SLICE_FRACTION), batch,
                         PAPER_EPOCHS, PAPER_PATIENCE, True, True)
    return dataclasses.replace(base, data_folder="2.5d", context_slices=context,
                               network=network, batch_size=batch, memory=memory, notes=notes,
                               training=modern_training(schedule))
