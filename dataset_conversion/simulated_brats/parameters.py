"""Everything random about one subject, drawn reproducibly from (base seed, subject index).

Each part of the simulation (scalar parameters, deformation field, lesion shape, texture, bias,
noise) draws from its own stream spawned from ``SeedSequence([seed, index])``, so a subject is
identical whatever the number of processes or the order in which subjects are made, and a
change in one part does not reshuffle the others.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dataset_conversion.simulated_brats.anatomy import Anatomy
from dataset_conversion.simulated_brats.artefacts import BIAS_PEAK_TO_PEAK, GAIN, NOISE_LEVEL
from dataset_conversion.simulated_brats.deform import AffineParameters, draw_affine
from dataset_conversion.simulated_brats.lesion import LesionParameters, draw_lesion
from dataset_conversion.simulated_brats.signal import (CONTRASTS, MPRAGESequence, Sequence,
                                                      draw_protocol)
from dataset_conversion.simulated_brats.tissue import (FIELD_STRENGTHS, TissueProperties,
                                                       jitter_tissues)

STREAMS = ("parameters", "deformation", "lesion", "texture", "bias", "noise")
TEXTURE_SD = (0.01, 0.03)  # relative SD of the smooth T1/T2/PD texture within a tissue
TEXTURE_CELL_MM = 10.0


def subject_streams(seed: int, index: int) -> dict[str, np.random.Generator]:
    """Independent generators, one per part of the simulation."""
    children = np.random.SeedSequence([int(seed), int(index)]).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}


@dataclass(frozen=True)
class SubjectParameters:
    """The scalar description of a subject, recorded next to the dataset as JSON."""

    case_id: str
    seed: int
    index: int
    field_strength: float
    jitter: float
    tissues: dict[str, TissueProperties]
    protocol: dict[str, Sequence | MPRAGESequence]
    affine: AffineParameters
    lesion: LesionParameters | None
    texture_sd: float
    bias_peak_to_peak: dict[str, float]
    noise_level: dict[str, float]
    gain: dict[str, float]

    def to_dict(self) -> dict:
        return {
            "case_id": self.case_id, "seed": self.seed, "index": self.index,
            "field_strength_T": self.field_strength, "tissue_jitter": round(self.jitter, 4),
            "tissues": {k: v.to_dict() for k, v in self.tissues.items()},
            "protocol": {k: v.to_dict() for k, v in self.protocol.items()},
            "affine": self.affine.to_dict(),
            "lesion": None if self.lesion is None else self.lesion.to_dict(),
            "texture_sd": round(self.texture_sd, 4),
            "bias_peak_to_peak": _rounded(self.bias_peak_to_peak),
            "noise_sd_over_p99": _rounded(self.noise_level), "gain": _rounded(self.gain),
        }


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in values.items()}


def draw_parameters(rng: np.random.Generator, anatomy: Anatomy, case_id: str, seed: int,
                    index: int) -> SubjectParameters:
    field_strength = float(FIELD_STRENGTHS[rng.integers(len(FIELD_STRENGTHS))])
    tissues, jitter = jitter_tissues(rng, field_strength)
    protocol = draw_protocol(rng, tissues["CSF"].t1)
    affine = draw_affine(rng)
    lesion = draw_lesion(rng, anatomy)
    per_contrast = {name: {c: float(rng.uniform(*bounds)) for c in CONTRASTS}
                    for name, bounds in (("bias", BIAS_PEAK_TO_PEAK), ("noise", NOISE_LEVEL),
                                         ("gain", GAIN))}
    return SubjectParameters(
        case_id, int(seed), int(index), field_strength, jitter, tissues, protocol, affine,
        lesion, float(rng.uniform(*TEXTURE_SD)), per_contrast["bias"], per_contrast["noise"],
        per_contrast["gain"])
