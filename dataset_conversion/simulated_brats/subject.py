"""One simulated subject end to end: deformed anatomy + lesion -> tissue fractions -> images.

Fractions and signals are computed only on the voxels that can hold brain (``support``), kept
as 1D arrays, and scattered back to the grid at the end; the background stays exactly 0, as
in skull-stripped BraTS images.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autosynth.dataset.image_io import Geometry, write_image
from autosynth.utils.files import write_json_atomic
from dataset_conversion.simulated_brats.anatomy import Anatomy
from dataset_conversion.simulated_brats.artefacts import NOMINAL_SCALE, bias_fields, rician
from dataset_conversion.simulated_brats.deform import sample, subject_to_template
from dataset_conversion.simulated_brats.fields import smooth_field
from dataset_conversion.simulated_brats.lesion import LesionFields, lesion_fields, mass_effect
from dataset_conversion.simulated_brats.parameters import (TEXTURE_CELL_MM, SubjectParameters,
                                                           draw_parameters, subject_streams)
from dataset_conversion.simulated_brats.signal import CONTRASTS
from dataset_conversion.simulated_brats.tissue import TISSUES

LABELS = {"background": 0, "necrosis": 1, "oedema": 2, "enhancing": 3}
LABEL_OF_TISSUE = {"necrosis": 1, "oedema": 2, "enhancing": 3}
SUPPORT_THRESHOLD = 1e-3


@dataclass
class SimulatedSubject:
    """Images (Z, Y, X) float32 per contrast, brain mask and labels (uint8), the tissue
    fractions (float32 per tissue, for checks), and the parameters that made them."""

    parameters: SubjectParameters
    geometry: Geometry
    images: dict[str, np.ndarray]
    mask: np.ndarray
    labels: np.ndarray
    fractions: dict[str, np.ndarray]

    @property
    def case_id(self) -> str:
        return self.parameters.case_id


def _scatter(values: np.ndarray, support: np.ndarray) -> np.ndarray:
    full = np.zeros(support.shape, np.float32)
    full[support] = values
    return full


def _lesion_at(box: LesionFields, coords: np.ndarray) -> dict[str, np.ndarray]:
    """Tumour, necrosis and oedema occupancy at ``coords`` (3, N), 0 outside the box."""
    upper = np.asarray(box.tumour.shape) + box.origin - 1
    inside = np.all((coords >= box.origin[:, None]) & (coords <= upper[:, None]), axis=0)
    out = {name: np.zeros(coords.shape[1], np.float32)
           for name in ("tumour", "necrosis", "oedema")}
    for name in out:
        out[name][inside] = sample(getattr(box, name), coords[:, inside], origin=box.origin)
    return out


def tissue_fractions(anatomy: Anatomy, parameters: SubjectParameters,
                     streams: dict[str, np.random.Generator]
                     ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The support (voxels that may hold brain) and every tissue's fraction on it (1D).

    Lesion tissues replace normal tissue: tumour takes its fraction of everything, oedema its
    fraction of the parenchyma (GM + WM) that the tumour left.
    """
    centre = (np.asarray(anatomy.shape) - 1) / 2.0
    coords = subject_to_template(anatomy.shape, anatomy.spacing, centre, parameters.affine,
                                 streams["deformation"])
    lesion = parameters.lesion
    pulled = mass_effect(lesion, anatomy.spacing).pull(coords.copy()) if lesion else coords
    brain = sample(anatomy.brain, pulled)
    support = brain > SUPPORT_THRESHOLD
    points = pulled[:, support]
    normal = {"WM": sample(anatomy.wm, points), "GM": sample(anatomy.gm, points),
              "CSF": sample(anatomy.csf, points)}
    zero = np.zeros(points.shape[1], np.float32)
    fractions = dict(normal, necrosis=zero, oedema=zero, enhancing=zero)
    if lesion is not None:
        box = lesion_fields(lesion, anatomy, streams["lesion"])
        occupancy = _lesion_at(box, coords[:, support])
        tumour, oedema = occupancy["tumour"], occupancy["oedema"]
        spared = 1.0 - tumour
        fractions["necrosis"] = occupancy["necrosis"]
        fractions["enhancing"] = np.clip(tumour - occupancy["necrosis"], 0.0, 1.0)
        fractions["oedema"] = spared * oedema * (normal["WM"] + normal["GM"])
        fractions["WM"] = spared * (1.0 - oedema) * normal["WM"]
        fractions["GM"] = spared * (1.0 - oedema) * normal["GM"]
        fractions["CSF"] = spared * normal["CSF"]
        brain[support] = np.maximum(brain[support], tumour)
    return support, {name: fractions[name].astype(np.float32) for name in TISSUES} | {
        "brain": brain[support]}


def clean_signals(parameters: SubjectParameters, fractions: dict[str, np.ndarray],
                  texture: np.ndarray) -> dict[str, np.ndarray]:
    """``S = sum_t f_t S_t(PD_t, T1_t, T2_t)`` per contrast, with the smooth (3, N) texture
    modulating T1, T2 and PD of every tissue."""
    signals = {c: np.zeros_like(fractions["WM"]) for c in CONTRASTS}
    for name in TISSUES:
        present = np.flatnonzero(fractions[name] > 0)
        if present.size == 0:
            continue
        tissue = parameters.tissues[name]
        t1, t2, pd = (value * texture[k, present] for k, value in
                      enumerate((tissue.t1, tissue.t2, tissue.pd)))
        for contrast, sequence in parameters.protocol.items():
            signals[contrast][present] += fractions[name][present] * sequence.signal(pd, t1, t2)
    return signals


def simulate_subject(anatomy: Anatomy, seed: int, index: int, case_id: str
                     ) -> SimulatedSubject:
    """Everything about subject ``index`` of the cohort of ``seed``; deterministic."""
    streams = subject_streams(seed, index)
    parameters = draw_parameters(streams["parameters"], anatomy, case_id, seed, index)
    support, fractions = tissue_fractions(anatomy, parameters, streams)
    mask = _scatter(fractions["brain"], support) >= 0.5
    in_mask = mask[support]
    texture = 1.0 + parameters.texture_sd * smooth_field(
        streams["texture"], anatomy.shape, TEXTURE_CELL_MM / anatomy.spacing, count=3)[:, support]
    signals = clean_signals(parameters, fractions, texture)
    bias = bias_fields(streams["bias"], mask, anatomy.spacing,
                       [parameters.bias_peak_to_peak[c] for c in CONTRASTS])
    images = {}
    for k, contrast in enumerate(CONTRASTS):
        scaled = signals[contrast][in_mask] * bias[k][mask] \
            * np.float32(NOMINAL_SCALE * parameters.gain[contrast])
        sigma = parameters.noise_level[contrast] * float(np.percentile(scaled, 99))
        images[contrast] = _scatter(rician(streams["noise"], scaled, sigma), mask)
    full = {name: _scatter(values, support) for name, values in fractions.items()}
    return SimulatedSubject(parameters, anatomy.geometry, images, mask.astype(np.uint8),
                            label_map(full, mask), full)


def label_map(fractions: dict[str, np.ndarray], mask: np.ndarray) -> np.ndarray:
    """BraTS labels: the lesion tissue with the largest fraction where it beats normal tissue."""
    normal = fractions["WM"] + fractions["GM"] + fractions["CSF"]
    stacked = np.stack([normal] + [fractions[name] for name in LABEL_OF_TISSUE])
    winner = np.argmax(stacked, axis=0)
    codes = np.asarray([0] + list(LABEL_OF_TISSUE.values()), np.uint8)
    return np.where(mask, codes[winner], 0).astype(np.uint8)


def case_files(dataset_folder: Path, case_id: str) -> list[Path]:
    """The five files of a case, images first."""
    images = [dataset_folder / "imagesTr" / f"{case_id}_{c:04d}.nii.gz"
              for c in range(len(CONTRASTS))]
    return images + [dataset_folder / "masksTr" / f"{case_id}.nii.gz",
                     dataset_folder / "labelsTr" / f"{case_id}.nii.gz"]


def parameters_file(dataset_folder: Path, case_id: str) -> Path:
    return dataset_folder / "simulation" / f"{case_id}.json"


def write_subject(subject: SimulatedSubject, dataset_folder: Path) -> None:
    """Images, mask, labels (atomic writes), then the parameters JSON, which marks the case done.
    """
    files = case_files(dataset_folder, subject.case_id)
    arrays = [subject.images[c] for c in CONTRASTS] + [subject.mask, subject.labels]
    for path, array in zip(files, arrays):
        write_image(array, subject.geometry, path)
    write_json_atomic(parameters_file(dataset_folder, subject.case_id),
                      subject.parameters.to_dict())
