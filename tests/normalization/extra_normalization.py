"""A user's module of schemes, as AUTOSYNTH_EXTRA_NORMALIZATIONS would name it (used by a test)."""
from autosynth.normalization import LinearWindowScheme, brain_values, register


@register
class BrainMax01(LinearWindowScheme):
    """0 to the case's brain maximum mapped to [0, 1]."""

    name = "brain_max_01"

    def case_parameters(self, image, mask, plan):
        return {"high": float(brain_values(image, mask).max())}

    def window(self, params):
        return 0.0, params["high"]
