"""``NormalizationPlan``: one contrast's entry in ``plans.json`` (``normalization.<contrast>``).

It lives next to the registry rather than in ``experiment_planning.plans`` (which re-exports it)
so that the schemes can build plans and the plans can be checked by the schemes without a
package cycle.
"""
from __future__ import annotations

from dataclasses import dataclass

from autosynth.normalization.registry import OWN_SCHEMES_HINT, get_scheme, scheme_names


@dataclass
class NormalizationPlan:
    """How one contrast is mapped to [0, 1] (see documentation/plans.md for the formulas).

    The optional fields are the fixed parameters (shared by all cases) of the built-in schemes;
    each scheme declares in ``parameters`` which of them it reads.
    """

    scheme: str
    z_low: float | None = None
    z_high: float | None = None
    percentile_low: float | None = None
    percentile_high: float | None = None

    def problems(self) -> list[str]:
        names = scheme_names()
        if self.scheme not in names:
            return [f"scheme '{self.scheme}' is not one of {', '.join(names)} "
                    f"({OWN_SCHEMES_HINT})"]
        return get_scheme(self.scheme).problems(self)
