"""benchmarks/scale.py's evidence of linearity: the fitted line and the deviation from it."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scale():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import scale
    finally:
        sys.path.pop(0)
    return scale


def test_a_line_is_recovered_exactly(scale):
    fit = scale.fit([12, 24, 48], [10 + 2.5 * n for n in (12, 24, 48)])
    assert fit["fixed_s"] == pytest.approx(10)
    assert fit["per_case_s"] == pytest.approx(2.5)
    assert fit["max_deviation"] == pytest.approx(0, abs=1e-9)


def test_a_bent_curve_shows_its_deviation(scale):
    """Quadratic growth (1, 4, 16 s) is not called linear: a point is far off the line."""
    fit = scale.fit([12, 24, 48], [n * n / 144 for n in (12, 24, 48)])
    assert fit["max_deviation"] > 0.2
