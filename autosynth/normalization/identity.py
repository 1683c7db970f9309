"""``none``: intensities unchanged (background still set to 0 by preprocessing)."""
from __future__ import annotations

import numpy as np

from autosynth.normalization.base import NormalizationScheme
from autosynth.normalization.registry import register


@register
class NoNormalization(NormalizationScheme):
    name = "none"
    unit_range = False
    changes_intensities = False

    def case_parameters(self, image, mask, plan) -> dict:
        return {}

    def normalize(self, image: np.ndarray, params: dict) -> np.ndarray:
        return image.astype(np.float32, copy=True)

    def denormalize(self, array: np.ndarray, params: dict) -> np.ndarray:
        return array.copy()

    def denormalization_parameters(self, statistics: dict, plan) -> dict:
        return {}

    def reference_on_model_scale(self, image, brain, plan, clip: bool = True) -> np.ndarray:
        """The reference as it is (the model was trained on unnormalised intensities)."""
        return np.asarray(image, dtype=np.float32)
