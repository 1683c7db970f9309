"""Case-level bootstrap confidence intervals of a mean (percentile method, seeded).

A mean over a handful of test cases says little without its uncertainty: resampling the cases
with replacement shows how much the mean would move with another draw of cases. The seed is
fixed, so a table is reproducible bit for bit.
"""
from __future__ import annotations

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95
SEED = 0


def bootstrap_interval(values, resamples: int = RESAMPLES, level: float = LEVEL,
                       seed: int = SEED) -> tuple[float, float]:
    """(low, high) of the ``level`` percentile interval of the mean of the finite ``values``;
    (nan, nan) without any, (v, v) for a single case."""
    data = np.asarray(values, dtype=np.float64)
    data = data[np.isfinite(data)]
    if data.size == 0:
        return float("nan"), float("nan")
    if data.size == 1:
        return float(data[0]), float(data[0])
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, (tail, 100 - tail))
    return float(low), float(high)
