"""``brain_zscore_01`` (the paper): z-score over the case's brain, then a fixed z window to [0, 1].

z = (x - mean) / std with mean and std over the case's brain; the plan's window
[z_low, z_high] (pooled 0.5 / 99.5 percentiles of z over the dataset) is mapped linearly to
[0, 1]: y = (clip(z, z_low, z_high) - z_low) / (z_high - z_low). One window for all cases keeps
y comparable between cases.
"""
from __future__ import annotations


import numpy as np

from autosynth.normalization.base import EPSILON, LinearWindowScheme, brain_values
from autosynth.normalization.plan import NormalizationPlan
from autosynth.normalization.registry import NormalizationError, register
from autosynth.normalization.zscore_window import plan_z_window


@register
class BrainZscore01(LinearWindowScheme):
    name = "brain_zscore_01"
    parameters = ("z_low", "z_high")
    reference_statistics = ("mean", "std")

    def problems(self, plan: NormalizationPlan) -> list[str]:
        if not (plan.z_low is not None and plan.z_high is not None and plan.z_low < plan.z_high):
            return ["brain_zscore_01 needs z_low < z_high"]
        return []

    def planned(self, fingerprint: dict, contrast: str) -> tuple[NormalizationPlan, str]:
        """A window that keeps lesions on the scale (:mod:`.zscore_window`)."""
        window = plan_z_window(fingerprint, contrast)
        return NormalizationPlan(self.name, z_low=window.z_low, z_high=window.z_high), window.note

    def case_parameters(self, image, mask, plan: NormalizationPlan) -> dict:
        values = brain_values(image, mask)
        return {"mean": float(values.mean(dtype=np.float64)),
                "std": float(max(values.std(dtype=np.float64), EPSILON)),
                "z_low": float(plan.z_low), "z_high": float(plan.z_high)}

    def window(self, params: dict) -> tuple[float, float]:
        return (params["mean"] + params["z_low"] * params["std"],
                params["mean"] + params["z_high"] * params["std"])

    def denormalization_parameters(self, statistics: dict, plan: NormalizationPlan) -> dict:
        """x = m + s * (z_low + y * (z_high - z_low)) with the typical brain mean m and SD s."""
        return {"mean": statistics["mean"], "std": statistics["std"],
                "z_low": plan.z_low, "z_high": plan.z_high}

    def reference_plan(self, known, z_window=None):
        if z_window is not None:
            return NormalizationPlan(self.name, *map(float, z_window)), "--z-window"
        for plan, origin in known:
            if plan is not None and plan.scheme == self.name:
                return plan, origin
        raise NormalizationError("--normalization brain_zscore_01 needs its z window: give the "
                                 "dataset (-d) or a plans file, or --z-window LOW HIGH")
