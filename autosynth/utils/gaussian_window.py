"""The SSIM window, shared by the evaluation's SSIM and the training loss's SSIM.

scikit-image's Gaussian SSIM: taps of sigma 1.5 truncated at 3.5 sigma (11 taps), exactly as
scipy.ndimage builds them, and Wang et al.'s K1 = 0.01, K2 = 0.03. It lives below both
``evaluation`` and ``training`` so that either can import it (the evaluation imports training).
"""
from __future__ import annotations

import numpy as np
import torch

SIGMA, TRUNCATE, K1, K2 = 1.5, 3.5, 0.01, 0.03
WEIGHT_FLOOR = 1e-12   # masked SSIM: a window with (numerically) no mask voxel gets no score


def kernel_radius(sigma: float, truncate: float) -> int:
    """scipy.ndimage's radius: int(truncate * sigma + 0.5) (5 for sigma 1.5, truncate 3.5)."""
    return int(truncate * float(sigma) + 0.5)


def gaussian_kernel1d(sigma: float, truncate: float) -> np.ndarray:
    """Normalised Gaussian taps, exactly scipy.ndimage's (float64)."""
    radius = kernel_radius(sigma, truncate)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 / (float(sigma) ** 2) * offsets ** 2)
    return taps / taps.sum()


def gaussian_taps(sigma: float = SIGMA, truncate: float = TRUNCATE,
                  dtype: torch.dtype = torch.float32,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """:func:`gaussian_kernel1d` as a torch tensor, for a convolution (the loss's SSIM)."""
    return torch.as_tensor(gaussian_kernel1d(sigma, truncate), dtype=dtype, device=device)
