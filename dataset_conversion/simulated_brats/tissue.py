"""Relaxation times and proton density of the simulated tissues, and their per-subject jitter.

Values (T1 ms, T2 ms, PD relative to water) at 1.5 T and 3 T from Stanisz et al. 2005 and
Wansapura et al. 1999 for normal tissue; the three lesion tissues are approximate values chosen
so that oedema and necrosis are long-T1/long-T2 (bright on T2w and FLAIR, dark on T1w), as in
BraTS. Each subject gets its own values (a 5-10 % jitter) so that no two subjects share an
intensity mapping, as no two real people or scanners do.

Most of the jitter is shared by all tissues of a subject (temperature, B0/B1 calibration and
age move the relaxation times of all tissues together); only a quarter of it is independent per
tissue. Fully independent jitter reverses the grey/white contrast of T1w spin echo in about one
subject in six (WM/GM differ by only ~9 % there), which real T1w images never show.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NORMAL_TISSUES = ("WM", "GM", "CSF")
LESION_TISSUES = ("necrosis", "oedema", "enhancing")
TISSUES = NORMAL_TISSUES + LESION_TISSUES
FIELD_STRENGTHS = (1.5, 3.0)

# tissue: (T1 ms, T2 ms, PD) per field strength in tesla
RELAXATION: dict[float, dict[str, tuple[float, float, float]]] = {
    1.5: {"WM": (780, 75, 0.70), "GM": (1100, 95, 0.82), "CSF": (4000, 1800, 1.0),
          "oedema": (1250, 170, 0.80), "enhancing": (1300, 130, 0.85),
          "necrosis": (2500, 400, 0.95)},
    3.0: {"WM": (950, 72, 0.70), "GM": (1450, 100, 0.82), "CSF": (4300, 1700, 1.0),
          "oedema": (1600, 160, 0.80), "enhancing": (1750, 125, 0.85),
          "necrosis": (3000, 400, 0.95)},
}

JITTER_RANGE = (0.05, 0.10)
SHARED_JITTER = 0.75  # part of the jitter amplitude common to all tissues of a subject


@dataclass(frozen=True)
class TissueProperties:
    """One tissue's MR properties in one subject."""

    t1: float  # ms
    t2: float  # ms
    pd: float  # relative to water

    def to_dict(self) -> dict:
        return {"T1_ms": round(self.t1, 2), "T2_ms": round(self.t2, 2), "PD": round(self.pd, 4)}


def nominal_tissues(field_strength: float) -> dict[str, TissueProperties]:
    """The table values, unjittered (what a protocol is designed for)."""
    return {name: TissueProperties(*values) for name, values in RELAXATION[field_strength].items()}


def jitter_tissues(rng: np.random.Generator, field_strength: float
                   ) -> tuple[dict[str, TissueProperties], float]:
    """Every T1, T2 and PD multiplied by a factor within ``1 +- j``.

    ``j`` (the subject's jitter amplitude) is drawn from 5-10 %; the factor is a shared part
    ``1 + U(-0.75 j, 0.75 j)`` per property times a per-tissue part ``1 + U(-0.25 j, 0.25 j)``.
    ``j`` is returned so that it can be recorded with the subject.
    """
    amplitude = float(rng.uniform(*JITTER_RANGE))
    shared, own = SHARED_JITTER * amplitude, (1 - SHARED_JITTER) * amplitude
    factors = (1.0 + rng.uniform(-shared, shared, size=(1, 3))) \
        * (1.0 + rng.uniform(-own, own, size=(len(TISSUES), 3)))
    table = RELAXATION[field_strength]
    tissues = {name: TissueProperties(*(np.asarray(table[name]) * factors[i]).tolist())
               for i, name in enumerate(TISSUES)}
    return tissues, amplitude
