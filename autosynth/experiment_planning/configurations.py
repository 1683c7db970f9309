"""Every configuration autosynth plans, and ``plans.json`` written from the fingerprint.

The planners live in :mod:`planner` (``2d``, ``2d_paper``, ``2.5d``) and :mod:`planner_3d`
(``3d_fullres``); this module only names them and writes the file.
"""
from __future__ import annotations

from pathlib import Path

import autosynth
from autosynth.experiment_planning.fingerprint import load_fingerprint
from autosynth.experiment_planning.planner import plan_2_5d, plan_2d, plan_2d_paper
from autosynth.experiment_planning.planner_3d import plan_3d_fullres
from autosynth.experiment_planning.plans import PLANS_FILE, Plans, PlansError

PLANNERS = {"2d": plan_2d, "2d_paper": plan_2d_paper, "2.5d": plan_2_5d,
            "3d_fullres": plan_3d_fullres}
# Planned always (plans are small); preprocessed unless asked otherwise: each configuration
# stores its own copy of the data (documentation/plans.md gives the disk cost of each).
PREPROCESSED_BY_DEFAULT = ("2d", "2d_paper")


def plan_experiment(preprocessed_folder: str | Path, configurations=tuple(PLANNERS),
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
