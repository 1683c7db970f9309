"""``percentile_01``: the case's brain percentiles (default 0.5 / 99.5 %) mapped to [0, 1].

y = clip((x - low) / (high - low), 0, 1) with low, high the case's in-brain percentiles
``percentile_low`` / ``percentile_high``; inverse x = low + y * (high - low). It is also the
per-case scale evaluation falls back to when no plan is known (:data:`DEFAULT_PLAN`).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from autosynth.normalization.base import EPSILON, LinearWindowScheme, brain_values
from autosynth.normalization.plan import NormalizationPlan
from autosynth.normalization.registry import NormalizationError, register

NAME = "percentile_01"
DEFAULT_PLAN = NormalizationPlan(NAME, percentile_low=0.5, percentile_high=99.5)


@register
class Percentile01(LinearWindowScheme):
    name = NAME
    parameters = ("percentile_low", "percentile_high")
    reference_statistics = ("percentile_00_5", "percentile_99_5")

    def problems(self, plan: NormalizationPlan) -> list[str]:
        if not (plan.percentile_low is not None and plan.percentile_high is not None
                and 0 <= plan.percentile_low < plan.percentile_high <= 100):
            return ["percentile_01 needs 0 <= percentile_low < percentile_high <= 100"]
        return []

    def planned(self, fingerprint: dict, contrast: str) -> tuple[NormalizationPlan, str]:
        return dataclasses.replace(DEFAULT_PLAN), ""

    def case_parameters(self, image, mask, plan: NormalizationPlan) -> dict:
        low, high = np.percentile(brain_values(image, mask),
                                  (plan.percentile_low, plan.percentile_high))
        return {"low": float(low), "high": float(max(high, low + EPSILON)),
                "percentile_low": plan.percentile_low, "percentile_high": plan.percentile_high}

    def window(self, params: dict) -> tuple[float, float]:
        return params["low"], params["high"]

    def denormalization_parameters(self, statistics: dict, plan: NormalizationPlan) -> dict:
        """x = p_low + y * (p_high - p_low) with the typical brain 0.5 / 99.5 percentiles."""
        if (plan.percentile_low, plan.percentile_high) != (0.5, 99.5):
            raise NormalizationError("--denormalize supports percentile_01 only with the 0.5 / "
                                     "99.5 percentiles the fingerprint records")
        return {"low": statistics["percentile_00_5"], "high": statistics["percentile_99_5"]}

    def reference_plan(self, known, z_window=None):
        """Always the case's own 0.5 / 99.5 percentiles."""
        return DEFAULT_PLAN, f"--normalization {self.name}"
