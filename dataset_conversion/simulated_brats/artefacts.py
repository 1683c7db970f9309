"""Scanner artefacts: smooth multiplicative bias field, receiver gain and Rician noise.

The bias field of a session is mostly the receive coil's sensitivity, the same for every
sequence, so each contrast's field is 70 % a session field and 30 % its own, then scaled to the
contrast's peak-to-peak amplitude. Noise is complex Gaussian noise in both channels before the
magnitude is taken, which makes it Rician: biased upward where the signal is low (CSF on FLAIR).
"""
from __future__ import annotations

import numpy as np

from dataset_conversion.simulated_brats.fields import peak_to_peak_scaled, smooth_field

BIAS_PEAK_TO_PEAK = (0.10, 0.40)
BIAS_CELL_MM = 70.0
BIAS_SHARED = 0.7
NOISE_LEVEL = (0.01, 0.05)  # noise SD relative to the 99th percentile of the brain signal
GAIN = (0.5, 2.0)
NOMINAL_SCALE = 1000.0  # scanner-like units: the brightest tissue near 100-1000


def bias_fields(rng: np.random.Generator, inside: np.ndarray, spacing: float,
                peak_to_peak: list[float]) -> np.ndarray:
    """(n_contrasts, Z, Y, X) multiplicative fields, each with its peak-to-peak inside."""
    n = len(peak_to_peak)
    raw = smooth_field(rng, inside.shape, BIAS_CELL_MM / spacing, count=n + 1)
    mixed = np.sqrt(BIAS_SHARED) * raw[0] + np.sqrt(1 - BIAS_SHARED) * raw[1:]
    return np.stack([peak_to_peak_scaled(mixed[k], inside, peak_to_peak[k]) for k in range(n)])


def rician(rng: np.random.Generator, signal: np.ndarray, sigma: float) -> np.ndarray:
    """``|signal + n_re + i n_im|`` with ``n ~ N(0, sigma)``, float32."""
    real = signal + rng.normal(0.0, sigma, signal.shape).astype(np.float32)
    imaginary = rng.normal(0.0, sigma, signal.shape).astype(np.float32)
    return np.hypot(real, imaginary).astype(np.float32)
