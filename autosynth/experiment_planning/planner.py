"""From the fingerprint to ``plans.json``: the ``2d`` (planned) and ``2d_paper`` configurations.

Every planned number is derived in this file from fingerprint values, and the derivation is
written into the configuration's ``notes`` (documentation/plans.md gives the rules).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

import autosynth
from autosynth.architectures.config import UNetConfig
from autosynth.dataset.orientation import CANONICAL, head_foot_axis
from autosynth.experiment_planning.fingerprint import load_fingerprint
from autosynth.experiment_planning.memory import (activation_mib_per_slice,
                                                  batch_size_for_budget, fixed_mib)
from autosynth.experiment_planning.network_topology import (count_parameters,
                                                            number_of_poolings, paper_network,
                                                            unet_for_poolings)
from autosynth.experiment_planning.plans import (PLANS_FILE, ConfigurationPlan, MemoryEstimate,
                                                 NormalizationPlan, Plans,
                                                 PlansError, TrainingPlan)
from autosynth.dataset.brain_mask import kept_slice_indices
from autosynth.normalization import PLANNED_SCHEME, get_scheme

AXIS_NAMES = "ZYX"
SPACING_TIE = 0.05  # spacings within 5 % of the largest count as equally coarse
TRAIN_FRACTION, VAL_FRACTION = 0.64, 0.16  # of all cases: the paper's 64 / 16 / 20 split
NULL_SLICE_FRACTION = 0.05
MAX_ITERATIONS_PER_EPOCH, MAX_VAL_ITERATIONS = 250, 50
PAPER_PATCH, PAPER_BATCH, PAPER_EPOCHS, PAPER_PATIENCE = 224, 32, 120, 20


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
                    training_slices: int) -> tuple[int, MemoryEstimate]:
    n_parameters = count_parameters(network)
    per_slice = activation_mib_per_slice(patch, network, precision)
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


PLANNERS = {"2d": plan_2d, "2d_paper": plan_2d_paper}


def plan_experiment(preprocessed_folder: str | Path, configurations=("2d", "2d_paper"),
                    memory_gb: float = 8.0, precision: str = "float32",
                    storage_dtype: str = "float32", overwrite: bool = False
                    ) -> tuple[Plans, list[str]]:
    """Write ``plans.json``; returns the plans and the configurations kept from an existing file.

    Without ``overwrite``, a configuration already in plans.json is kept exactly as it is there
    (with the user's edits); only missing configurations are planned.
    """
    folder = Path(preprocessed_folder)
    unknown = [c for c in configurations if c not in PLANNERS]
    if unknown:
        raise PlansError(f"unknown configuration(s) {', '.join(unknown)}; known: "
                         f"{', '.join(PLANNERS)}")
    fingerprint = load_fingerprint(folder)
    contrasts = list(fingerprint["contrasts"])
    path = folder / PLANS_FILE
    existing = Plans.load(path) if path.is_file() and not overwrite else None
    if existing is not None and existing.contrasts != contrasts:
        raise PlansError(f"{path}: planned for contrasts {existing.contrasts}, the dataset has "
                         f"{contrasts}; re-plan with --overwrite")
    planned = dict(existing.configurations) if existing else {}
    kept = [name for name in configurations if name in planned]
    for name in configurations:
        if name not in kept:
            planned[name] = PLANNERS[name](fingerprint, contrasts, memory_gb, precision,
                                           storage_dtype)
    plans = Plans(dataset_name=fingerprint["dataset_name"], contrasts=contrasts,
                  configurations=planned, autosynth_version=autosynth.__version__)
    plans.save(path)
    return plans, kept
