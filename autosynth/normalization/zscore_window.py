"""The planned z window of ``brain_zscore_01``, chosen so that lesions stay on the scale.

A pooled 99.5th percentile of in-brain z-scores is set by normal tissue: a bright lesion (a
few per cent of the brain) lies above it and is clipped to 1.0, which also hides exactly the
errors that matter (and tanh cannot output 1.0 anyway). The upper end is therefore a high
percentile (:data:`CASE_MAXIMUM_PERCENTILE`) of the **per-case maxima** of brain z, so nearly
every case's brightest voxel, lesion included, is inside the window; the lower end stays the
pooled 0.5th percentile. Both are rounded outwards to 0.1, and the fractions of brain and of
tumour voxels that the window clips on the fingerprint's sample are reported in the plan.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CASE_MAXIMUM_PERCENTILE = 90.0
TUMOUR_CLIP_LIMIT = 0.005   # what the notes flag as too much (the demo cohort stays below)


@dataclass(frozen=True)
class ZWindow:
    z_low: float
    z_high: float
    note: str


def _floor(value: float) -> float:
    return math.floor(round(value * 10, 6)) / 10


def _ceil(value: float) -> float:
    return math.ceil(round(value * 10, 6)) / 10


def case_z_maxima(fingerprint: dict, contrast: str) -> list[float]:
    """(max - mean) / std of the brain in every case that records them."""
    out = []
    for case in fingerprint.get("cases", {}).values():
        stats = case.get("intensity", {}).get(contrast)
        if stats and stats.get("std"):
            out.append((stats["max"] - stats["mean"]) / stats["std"])
    return out


def clipped_fractions(tail: dict, z_low: float, z_high: float, region: str
                      ) -> tuple[float, float] | None:
    """(fraction below z_low, fraction above z_high) of the sampled ``region`` voxels
    ('brain' or 'tumour'); None when the table has no such sample."""
    above, below = tail.get(f"{region}_above") or [], tail.get(f"{region}_below") or []
    if not above or not below:
        return None

    def look_up(grid: list[float], values: list[float], z: float, beyond: bool) -> float:
        if (z > grid[-1]) if beyond else (z < grid[0]):
            return 0.0                            # outside the table: no sample clipped
        return values[int(np.argmin(np.abs(np.asarray(grid) - z)))]

    return (look_up(tail["z_below"], below, z_low, False),
            look_up(tail["z_above"], above, z_high, True))


def _share(fractions: tuple[float, float] | None) -> str:
    if fractions is None:
        return "unknown"
    return (f"{sum(fractions):.2%} ({fractions[0]:.2%} below, {fractions[1]:.2%} above)")


def plan_z_window(fingerprint: dict, contrast: str) -> ZWindow:
    """The window of one contrast and the sentence for the plan's notes."""
    props = fingerprint["intensity_properties"][contrast]
    z_low = _floor(props["zscore_percentile_00_5"])
    pooled_high = _ceil(props["zscore_percentile_99_5"])
    maxima = case_z_maxima(fingerprint, contrast)
    if maxima:
        z_high = max(pooled_high, _ceil(float(np.percentile(maxima, CASE_MAXIMUM_PERCENTILE))))
        why = (f"z_high the {CASE_MAXIMUM_PERCENTILE:g}th percentile of the {len(maxima)} "
               f"per-case maxima of brain z (the pooled 99.5 % alone would be {pooled_high})")
    else:
        z_high = pooled_high
        why = "z_high the pooled 99.5 % of brain z (the fingerprint has no per-case maxima)"
    note = f"{contrast}: z window [{z_low}, {z_high}]: z_low the pooled 0.5 % of brain z, {why}"
    tail = props.get("z_tail")
    if tail is None:
        return ZWindow(z_low, z_high, note + "; clipped fractions unknown (the fingerprint "
                       "predates them: extract it again)")
    brain = clipped_fractions(tail, z_low, z_high, "brain")
    tumour = clipped_fractions(tail, z_low, z_high, "tumour")
    note += f"; on the planning sample it clips {_share(brain)} of brain voxels"
    if tumour is None:
        note += " (no tumour labels to check lesions)"
    else:
        note += f" and {_share(tumour)} of {tail['n_tumour']} tumour voxels"
        if sum(tumour) > TUMOUR_CLIP_LIMIT:
            note += f" - more than {TUMOUR_CLIP_LIMIT:.1%}: consider a wider window"
    return ZWindow(z_low, z_high, note)
