"""MR signal equations and the three simulated acquisition protocols.

T1-weighted and T2-weighted images are spin echoes, FLAIR is a magnitude inversion recovery
whose inversion time nulls CSF. The equations are evaluated per voxel, so tissue properties may
be arrays (tissue values modulated by a smooth texture) or scalars.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

CONTRASTS = ("T1", "T2", "FLAIR")

# ranges of TR / TE (ms) per sequence, as on clinical scanners
SEQUENCE_RANGES = {
    "T1": {"tr": (500.0, 650.0), "te": (8.0, 20.0)},
    "T2": {"tr": (3000.0, 6000.0), "te": (80.0, 120.0)},
    "FLAIR": {"tr": (8000.0, 11000.0), "te": (90.0, 140.0)},
}
INVERSION_EFFICIENCY = (0.9, 1.0)
TI_DETUNING = 0.02  # the protocol's TI misses the subject's CSF null by up to 2 %


def spin_echo(pd, t1, t2, tr: float, te: float):
    """``S = PD (1 - 2 exp(-(TR - TE/2)/T1) + exp(-TR/T1)) exp(-TE/T2)``."""
    return pd * (1.0 - 2.0 * np.exp(-(tr - te / 2.0) / t1) + np.exp(-tr / t1)) \
        * np.exp(-te / t2)


def inversion_recovery(pd, t1, t2, tr: float, te: float, ti: float, eta: float):
    """Magnitude IR: ``S = PD |1 - (1+eta) exp(-TI/T1) + eta exp(-TR/T1)| exp(-TE/T2)``."""
    return pd * np.abs(1.0 - (1.0 + eta) * np.exp(-ti / t1) + eta * np.exp(-tr / t1)) \
        * np.exp(-te / t2)


def null_inversion_time(t1: float, tr: float, eta: float = 1.0) -> float:
    """The TI that nulls a tissue of relaxation ``t1``.

    ``T1 ln((1 + eta) / (1 + eta exp(-TR/T1)))``; for ``eta = 1`` this is the textbook
    ``T1 (ln 2 - ln(1 + exp(-TR/T1)))``.
    """
    return float(t1 * np.log((1.0 + eta) / (1.0 + eta * np.exp(-tr / t1))))


@dataclass(frozen=True)
class Sequence:
    """One acquisition; ``ti`` and ``eta`` only for the inversion recovery."""

    contrast: str
    tr: float
    te: float
    ti: float | None = None
    eta: float | None = None

    def signal(self, pd, t1, t2):
        if self.ti is None:
            return spin_echo(pd, t1, t2, self.tr, self.te)
        return inversion_recovery(pd, t1, t2, self.tr, self.te, self.ti, self.eta)

    def to_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v)
                for k, v in asdict(self).items() if v is not None}


def draw_protocol(rng: np.random.Generator, csf_t1: float) -> dict[str, Sequence]:
    """TR/TE uniformly inside the clinical ranges; FLAIR's TI near the null of ``csf_t1``.

    The TI is the null of this subject's CSF, as a technologist tunes it on the scanner, missed
    by up to 2 % so that CSF is dark but not exactly zero.
    """
    protocol = {}
    for contrast in CONTRASTS:
        ranges = SEQUENCE_RANGES[contrast]
        tr, te = (float(rng.uniform(*ranges[k])) for k in ("tr", "te"))
        if contrast == "FLAIR":
            eta = float(rng.uniform(*INVERSION_EFFICIENCY))
            ti = null_inversion_time(csf_t1, tr, eta) * (1 + rng.uniform(-TI_DETUNING,
                                                                         TI_DETUNING))
            protocol[contrast] = Sequence(contrast, tr, te, float(ti), eta)
        else:
            protocol[contrast] = Sequence(contrast, tr, te)
    return protocol
