"""Bootstrap intervals: contain the mean, shrink with more cases, are reproducible."""
import math

import numpy as np

from autosynth.evaluation.bootstrap import bootstrap_interval
from autosynth.evaluation.summary import mean_sd


def test_interval_contains_the_mean_and_shrinks_with_more_cases():
    rng = np.random.default_rng(7)
    pattern = 25 + 2 * rng.standard_normal(8)
    widths = []
    for copies in (1, 4, 16, 64):      # same spread, 8 to 512 cases: width ~ 1 / sqrt(n)
        values = np.tile(pattern, copies)
        low, high = bootstrap_interval(values)
        assert low < values.mean() < high
        widths.append(high - low)
    assert all(a > b for a, b in zip(widths, widths[1:])), widths
    # about 2 * 1.96 * sd / sqrt(n)
    assert 0.8 < widths[-1] / (2 * 1.96 * pattern.std() / math.sqrt(512)) < 1.2


def test_seeded_single_and_empty():
    values = [1.0, 2.0, 4.0, float("inf")]
    assert bootstrap_interval(values) == bootstrap_interval(values)
    assert bootstrap_interval([3.0]) == (3.0, 3.0)
    assert all(math.isnan(v) for v in bootstrap_interval([]))
    stats = mean_sd({"a": {"psnr": 20.0}, "b": {"psnr": 22.0}, "c": {"psnr": 27.0}})["psnr"]
    assert stats["ci_low"] <= stats["mean"] <= stats["ci_high"]
