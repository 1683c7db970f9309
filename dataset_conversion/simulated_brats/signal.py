"""MR signal equations and the three simulated acquisition protocols.

T2-weighted images are spin echoes, FLAIR is a magnitude inversion recovery whose inversion
time nulls CSF. T1-weighted images are, per subject, a 2D spin echo or a 3D MPRAGE (inversion
prepared spoiled gradient echo, the usual 3D T1 of brain-tumour protocols), because BraTS's T1
images come from both kinds of scanner protocol; MPRAGE has the stronger grey/white contrast
(GM/WM about 0.65-0.9 against 0.83-0.97 for spin echo with the same tissues). The equations
are evaluated per voxel, so tissue properties may be arrays (tissue values modulated by a smooth
texture) or scalars.
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
# the 3D T1 option: TR is the time between inversions; 176 readout lines per inversion, the
# centre of k-space (linear order) read at TI; T2 stands in for T2* (TE is only 2-4 ms)
MPRAGE_PROBABILITY = 0.5  # chance that a subject's T1 is MPRAGE rather than spin echo
MPRAGE_RANGES = {"tr": (2000.0, 2500.0), "ti": (800.0, 1100.0), "flip_deg": (8.0, 12.0),
                 "echo_spacing": (6.0, 8.0), "te": (2.0, 4.0)}
MPRAGE_LINES = 176
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


def mprage(pd, t1, t2, tr: float, te: float, ti: float, eta: float, flip_deg: float,
           echo_spacing: float, lines: int):
    """Steady-state MPRAGE signal (magnitude) of the k-space centre line, read at ``ti``.

    One cycle of ``tr``: inversion (efficiency ``eta``), free recovery for
    ``TA = ti - lines/2 echo_spacing``, ``lines`` pulses of ``flip_deg`` every ``echo_spacing``,
    recovery for the rest of the cycle. Within the train ``Mz`` relaxes geometrically, by
    ``cos(a) E`` per pulse, towards ``M* = (1 - E) / (1 - cos(a) E)``; requiring the cycle
    to end where it began gives the steady state in closed form.
    """
    cos_a, sin_a = np.cos(np.radians(flip_deg)), np.sin(np.radians(flip_deg))
    before = ti - lines / 2.0 * echo_spacing
    after = tr - before - lines * echo_spacing
    e = np.exp(-echo_spacing / t1)
    e_before, e_after = np.exp(-before / t1), np.exp(-after / t1)
    train = (cos_a * e) ** lines
    target = (1.0 - e) / (1.0 - cos_a * e)
    start = ((1.0 - e_after) + e_after * target * (1.0 - train)
             + e_after * train * (1.0 - e_before)) / (1.0 + e_after * train * eta * e_before)
    first = (1.0 - e_before) - eta * e_before * start  # Mz when the readout train begins
    centre = target + (cos_a * e) ** (lines / 2.0) * (first - target)
    return pd * sin_a * np.abs(centre) * np.exp(-te / t2)


@dataclass(frozen=True)
class MPRAGESequence:
    """The 3D T1 option (see :func:`mprage`)."""

    contrast: str
    tr: float
    te: float
    ti: float
    eta: float
    flip_deg: float
    echo_spacing: float
    lines: int = MPRAGE_LINES
    kind: str = "MPRAGE"

    def signal(self, pd, t1, t2):
        return mprage(pd, t1, t2, self.tr, self.te, self.ti, self.eta, self.flip_deg,
                      self.echo_spacing, self.lines)

    def to_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Sequence:
    """One acquisition; ``ti`` and ``eta`` only for the inversion recovery."""

    contrast: str
    tr: float
    te: float
    ti: float | None = None
    eta: float | None = None

    @property
    def kind(self) -> str:
        return "spin echo" if self.ti is None else "inversion recovery"

    def signal(self, pd, t1, t2):
        if self.ti is None:
            return spin_echo(pd, t1, t2, self.tr, self.te)
        return inversion_recovery(pd, t1, t2, self.tr, self.te, self.ti, self.eta)

    def to_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v)
                for k, v in asdict(self).items() if v is not None} | {"kind": self.kind}


def draw_mprage(rng: np.random.Generator) -> MPRAGESequence:
    """An MPRAGE T1 with every setting uniform inside ``MPRAGE_RANGES``."""
    values = {k: float(rng.uniform(*bounds)) for k, bounds in MPRAGE_RANGES.items()}
    return MPRAGESequence("T1", values["tr"], values["te"], values["ti"],
                          float(rng.uniform(*INVERSION_EFFICIENCY)), values["flip_deg"],
                          values["echo_spacing"])


def draw_protocol(rng: np.random.Generator, csf_t1: float
                  ) -> dict[str, Sequence | MPRAGESequence]:
    """TR/TE uniformly inside the clinical ranges; FLAIR's TI near the null of ``csf_t1``.

    The T1 is MPRAGE with probability ``MPRAGE_PROBABILITY``, spin echo otherwise. The TI is
    the null of this subject's CSF, as a technologist tunes it on the scanner, missed by up to
    2 % so that CSF is dark but not exactly zero.
    """
    protocol = {}
    for contrast in CONTRASTS:
        if contrast == "T1" and rng.uniform() < MPRAGE_PROBABILITY:
            protocol[contrast] = draw_mprage(rng)
            continue
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
