"""Does the demo cohort look like the MRI it imitates? Tissue ratios and lesion shapes, measured.

Two measurements that a radiologist makes by eye, made with numbers so that tests can hold them:

* **tissue ratios**: the median signal of each tissue over its *pure* voxels (fraction >= 0.95,
  no lesion tissue), divided by white matter's, per contrast; and the same over *majority*
  voxels (the tissue with the largest fraction, >= 0.5), which is what the eye averages over
  and where partial volume with CSF flattens cortical grey matter.
* **lesion shape**: how box-like a lesion region is, from the marching-cubes surface of its
  occupancy: the fraction of the surface facing an array axis (an axis-aligned box: ~0.95, a
  sphere: ~0.05) and how much of its axis-aligned bounding box it fills (box 1.0, sphere 0.52).

``python -m dataset_conversion.simulated_brats.checks --seeds 0 1 2 --cases 8 -o out.json``
prints the ratios per contrast and field strength and writes them, with every subject's, as JSON.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from skimage import measure

from autosynth.utils.files import write_json_atomic
from dataset_conversion.simulated_brats.anatomy import Anatomy, load_anatomy
from dataset_conversion.simulated_brats.signal import (CONTRASTS, INVERSION_EFFICIENCY,
                                                      MPRAGE_RANGES, SEQUENCE_RANGES,
                                                      MPRAGESequence, Sequence,
                                                      null_inversion_time)
from dataset_conversion.simulated_brats.subject import SimulatedSubject, simulate_subject
from dataset_conversion.simulated_brats.tissue import (FIELD_STRENGTHS, LESION_TISSUES,
                                                      NORMAL_TISSUES, nominal_tissues)

PURE_FRACTION = 0.95
MAJORITY_FRACTION = 0.5
MIN_VOXELS = 20  # fewer pure voxels than this give no ratio (None)
AXIS_NORMAL_DEG = 10.0  # a surface facet "faces an axis" when its normal is this close to one

# Ratio to white matter on pure-tissue voxels in real images (issue 20; the ICBM 2009 T1
# template itself gives GM 0.74-0.76, CSF 0.31-0.36). (low, high) per contrast and tissue.
REFERENCE_RATIOS = {
    "T1 spin echo": {"GM": (0.80, 0.93), "CSF": (0.30, 0.45)},
    "T2": {"GM": (1.30, 1.65), "CSF": (2.5, 3.3)},
    "FLAIR": {"GM": (1.10, 1.40), "CSF": (0.0, 0.30), "oedema": (1.5, 2.3)},
}


def nominal_ratio_ranges(field_strength: float, steps: int = 3) -> dict[str, dict[str, tuple]]:
    """(min, max) ratio to WM that the signal equations give for the table's (unjittered)
    tissues over the whole protocol ranges, per group as in :func:`group_key`.

    What a perfect simulator gives on pure voxels, before jitter, texture, bias and noise:
    where it lies outside ``REFERENCE_RATIOS``, the tissue table or the protocol ranges (not
    the simulation) are what disagree with real images.
    """
    tissues = nominal_tissues(field_strength)
    grid = lambda bounds: np.linspace(*bounds, steps)  # noqa: E731
    ranges = {c: (grid(r["tr"]), grid(r["te"])) for c, r in SEQUENCE_RANGES.items()}
    sequences = {"T1 spin echo": [Sequence("T1", tr, te) for tr in ranges["T1"][0]
                                  for te in ranges["T1"][1]],
                 "T2": [Sequence("T2", tr, te) for tr in ranges["T2"][0] for te in ranges["T2"][1]],
                 "FLAIR": [Sequence("FLAIR", tr, te,
                                    null_inversion_time(tissues["CSF"].t1, tr, eta), eta)
                           for tr in ranges["FLAIR"][0] for te in ranges["FLAIR"][1]
                           for eta in INVERSION_EFFICIENCY]}
    m = MPRAGE_RANGES
    sequences["T1 MPRAGE"] = [
        MPRAGESequence("T1", tr, float(np.mean(m["te"])), ti, float(np.mean(INVERSION_EFFICIENCY)),
                       flip, spacing)
        for tr in grid(m["tr"]) for ti in grid(m["ti"]) for flip in grid(m["flip_deg"])
        for spacing in grid(m["echo_spacing"])]
    out = {}
    for group, protocol in sequences.items():
        ratios = {t: [] for t in ("GM", "CSF", "oedema")}
        for sequence in protocol:
            signal = {t: float(sequence.signal(v.pd, v.t1, v.t2)) for t, v in tissues.items()}
            for t in ratios:
                ratios[t].append(signal[t] / signal["WM"])
        out[group] = {t: (round(min(v), 3), round(max(v), 3)) for t, v in ratios.items()}
    return out


def attainable_references(field_strength: float, tolerance: float = 0.1
                          ) -> list[tuple[str, str]]:
    """(group, tissue) whose ``REFERENCE_RATIOS`` range holds the whole nominal range (give or
    take ``tolerance`` x its width): there the simulator must land inside the reference; the
    others cannot, whatever the simulation does, without another tissue table or protocol."""
    nominal = nominal_ratio_ranges(field_strength)
    out = []
    for group, tissues in REFERENCE_RATIOS.items():
        for tissue, (low, high) in tissues.items():
            slack = tolerance * (high - low)
            nom_low, nom_high = nominal[group][tissue]
            if low - slack <= nom_low and nom_high <= high + slack:
                out.append((group, tissue))
    return out


@dataclass(frozen=True)
class SubjectContrast:
    """One subject's ratios to WM: ``pure[contrast][tissue]`` and ``majority[...]``."""

    case_id: str
    seed: int
    index: int
    field_strength: float
    t1_sequence: str
    pure: dict[str, dict[str, float | None]]
    majority: dict[str, dict[str, float | None]]
    pure_voxels: dict[str, int]


def _ratios(images: dict[str, np.ndarray], masks: dict[str, np.ndarray]
            ) -> dict[str, dict[str, float | None]]:
    out = {}
    for contrast in CONTRASTS:
        image = images[contrast]
        wm = float(np.median(image[masks["WM"]]))
        out[contrast] = {t: (round(float(np.median(image[m])) / wm, 4)
                             if m.sum() >= MIN_VOXELS else None)
                         for t, m in masks.items() if t != "WM"}
    return out


def subject_contrast(subject: SimulatedSubject) -> SubjectContrast:
    """Pure-tissue and majority-tissue ratios to white matter of one simulated subject."""
    f = subject.fractions
    inside = subject.mask > 0
    lesion = np.sum([f[t] for t in LESION_TISSUES], axis=0) > 0
    normal = np.stack([f[t] for t in NORMAL_TISSUES])
    winner = np.argmax(normal, axis=0)
    pure = {t: inside & ~lesion & (f[t] >= PURE_FRACTION) for t in NORMAL_TISSUES}
    pure["oedema"] = inside & (f["oedema"] >= PURE_FRACTION)
    majority = {t: inside & ~lesion & (winner == k) & (f[t] >= MAJORITY_FRACTION)
                for k, t in enumerate(NORMAL_TISSUES)}
    return SubjectContrast(
        subject.case_id, subject.parameters.seed, subject.parameters.index,
        subject.parameters.field_strength, subject.parameters.protocol["T1"].kind,
        _ratios(subject.images, pure), _ratios(subject.images, majority),
        {t: int(m.sum()) for t, m in pure.items()})


def group_key(result: SubjectContrast, contrast: str) -> str:
    """``"T1 spin echo"``, ``"T1 MPRAGE"``, ``"T2"`` or ``"FLAIR"``: the T1 kinds differ."""
    return f"T1 {result.t1_sequence}" if contrast == "T1" else contrast


def summarise(results: list[SubjectContrast], which: str = "pure") -> dict:
    """``{group: {field strength: {tissue: {median, min, max, n}}}}`` over subjects."""
    table: dict = {}
    for result in results:
        for contrast, ratios in getattr(result, which).items():
            cell = table.setdefault(group_key(result, contrast), {}).setdefault(
                f"{result.field_strength:g} T", {})
            for tissue, value in ratios.items():
                if value is not None:
                    cell.setdefault(tissue, []).append(value)
    return {group: {field: {tissue: {"median": round(float(np.median(v)), 3),
                                     "min": round(min(v), 3), "max": round(max(v), 3),
                                     "n": len(v)}
                            for tissue, v in sorted(cells.items())}
                    for field, cells in sorted(fields.items())}
            for group, fields in sorted(table.items())}


def surface_metrics(occupancy: np.ndarray) -> dict[str, float]:
    """Box-likeness of the region ``occupancy >= 0.5`` (occupancy may be fractional).

    ``axis_facing``: fraction of the marching-cubes surface whose normal is within 10 degrees
    of an array axis; ``box_fill``: region volume / its axis-aligned bounding box volume;
    ``surface_to_volume``: area / volume^(2/3) (sphere 4.84, cube 6.0).
    """
    inside = occupancy >= 0.5
    if inside.sum() < 8:
        raise ValueError("the region has fewer than 8 voxels; its shape is not measurable")
    verts, faces, _, _ = measure.marching_cubes(np.pad(occupancy.astype(np.float32), 2), 0.5)
    triangles = verts[faces]
    cross = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    area = np.linalg.norm(cross, axis=1) / 2.0
    normals = cross / np.maximum(2.0 * area, 1e-12)[:, None]
    facing = np.abs(normals).max(axis=1) > np.cos(np.radians(AXIS_NORMAL_DEG))
    index = np.argwhere(inside)
    extent = index.max(axis=0) - index.min(axis=0) + 1
    volume = float(inside.sum())
    return {"axis_facing": round(float(area[facing].sum() / area.sum()), 4),
            "box_fill": round(volume / float(np.prod(extent)), 4),
            "surface_to_volume": round(float(area.sum()) / volume ** (2.0 / 3.0), 3)}


def lesion_shapes(subject: SimulatedSubject) -> dict[str, dict[str, float]]:
    """:func:`surface_metrics` of the tumour (necrosis + enhancing), the necrotic core and the
    whole lesion, from the subject's tissue fractions (regions too small are left out)."""
    f = subject.fractions
    regions = {"tumour": f["necrosis"] + f["enhancing"], "necrosis": f["necrosis"],
               "whole": f["necrosis"] + f["enhancing"] + f["oedema"]}
    return {name: surface_metrics(occ) for name, occ in regions.items()
            if (occ >= 0.5).sum() >= 8}


def measure_cohort(anatomy: Anatomy, seeds: list[int], cases: int
                   ) -> tuple[list[SubjectContrast], list[dict]]:
    contrasts, shapes = [], []
    for seed in seeds:
        for index in range(cases):
            subject = simulate_subject(anatomy, seed, index, f"seed{seed}_{index:03d}")
            contrasts.append(subject_contrast(subject))
            shapes.append({"case_id": subject.case_id, **lesion_shapes(subject)})
    return contrasts, shapes


def _print_table(summary: dict, title: str) -> None:
    print(title)
    for group, fields in summary.items():
        for field, tissues in fields.items():
            cells = "  ".join(f"{t} {v['median']:.2f} [{v['min']:.2f}-{v['max']:.2f}] n={v['n']}"
                              for t, v in tissues.items())
            print(f"  {group:14s} {field:6s} {cells}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cases", type=int, default=8, help="subjects per seed (default 8)")
    parser.add_argument("--spacing", type=float, default=2.0)
    parser.add_argument("-o", "--output", type=Path, default=None, help="JSON file to write")
    args = parser.parse_args(argv)
    contrasts, shapes = measure_cohort(load_anatomy(args.spacing), args.seeds, args.cases)
    report = {"spacing_mm": args.spacing, "seeds": args.seeds, "cases_per_seed": args.cases,
              "pure_fraction": PURE_FRACTION, "reference_ratios": REFERENCE_RATIOS,
              "nominal_ratio_ranges": {f"{b:g} T": nominal_ratio_ranges(b)
                                       for b in FIELD_STRENGTHS},
              "reference_attainable": {f"{b:g} T": attainable_references(b)
                                       for b in FIELD_STRENGTHS},
              "pure": summarise(contrasts, "pure"),
              "majority": summarise(contrasts, "majority"),
              "lesion_shapes": shapes, "subjects": [asdict(c) for c in contrasts]}
    _print_table(report["pure"], f"ratio to WM, pure-tissue voxels (fraction >= {PURE_FRACTION})")
    _print_table(report["majority"], "ratio to WM, majority-tissue voxels (what the eye sees)")
    worst = {k: max((s[k]["axis_facing"] for s in shapes if k in s), default=None)
             for k in ("tumour", "necrosis", "whole")}
    print(f"lesion shapes: largest axis-facing surface fraction {worst} (box ~0.95, sphere ~0.05)")
    if args.output is not None:
        write_json_atomic(args.output, report)
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
