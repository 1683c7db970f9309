"""Convert BraTS to the autosynth raw layout: ``autosynth_convert_brats -i BRATS -d 1``.

Two file namings are recognised, and the style is detected from the file names:

- 2018-2021: ``CASE/CASE_{t1,t1ce,t2,flair,seg}.nii.gz`` (optionally under ``HGG/``, ``LGG/``),
  labels 1 necrosis, 2 oedema, 4 enhancing: 4 is mapped to 3;
- 2023+: ``CASE/CASE-{t1n,t1c,t2w,t2f,seg}.nii.gz``, labels already 1, 2, 3.

Images are copied byte for byte; the brain mask (non-zero in any kept contrast) and the labels
are written with the first image's own NIfTI header. Cases without ``seg`` go to ``imagesTs``.
"""
from __future__ import annotations

import argparse
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from autosynth.dataset.dataset_json import DatasetJson
from autosynth.dataset.image_io import read_image, write_image_like
from autosynth.dataset.integrity import GEOMETRY_RTOL
from dataset_conversion.common import (FILE_ENDING, ConversionError, ConversionReport,
                                       add_common_arguments, claim_dataset_folder, copy_image,
                                       dataset_folder, name_some, run_cases, run_command, warn)

CONTRASTS = ("T1", "T1CE", "T2", "FLAIR")
DEFAULT_CONTRASTS = ("T1", "T2", "FLAIR")  # the paper's three
FILE_KINDS = {  # style -> {contrast or SEG: file suffix}
    "2018": {"T1": "t1", "T1CE": "t1ce", "T2": "t2", "FLAIR": "flair", "SEG": "seg"},
    "2023": {"T1": "t1n", "T1CE": "t1c", "T2": "t2w", "FLAIR": "t2f", "SEG": "seg"},
}
FILE_PATTERNS = {
    "2018": re.compile(r"^(?P<case>.+)_(?P<kind>t1|t1ce|t2|flair|seg)\.nii(\.gz)?$", re.I),
    "2023": re.compile(r"^(?P<case>.+)-(?P<kind>t1n|t1c|t2w|t2f|seg)\.nii(\.gz)?$", re.I),
}
LABEL_MAPS = {"2018": {0: 0, 1: 1, 2: 2, 4: 3}, "2023": {0: 0, 1: 1, 2: 2, 3: 3}}
LABELS = {"background": 0, "necrosis": 1, "oedema": 2, "enhancing": 3}
STYLE_NAMES = {"2018": "BraTS 2018-2021", "2023": "BraTS 2023+"}
LICENCE = ("BraTS data are distributed by the BraTS challenge organisers under the data usage "
           "terms of the year they were obtained from (see the challenge's Synapse/CBICA page); "
           "publications using them must cite the references below.")
REFERENCE = (
    "Menze BH et al., The Multimodal Brain Tumor Image Segmentation Benchmark (BRATS), IEEE TMI "
    "34(10):1993-2024, 2015. Bakas S et al., Advancing The Cancer Genome Atlas glioma MRI "
    "collections with expert segmentation labels and radiomic features, Sci Data 4:170117, 2017. "
    "Bakas S et al., Identifying the best machine learning algorithms for brain tumor "
    "segmentation, progression assessment, and overall survival prediction in the BRATS "
    "challenge, arXiv:1811.02629, 2018. Baid U et al., The RSNA-ASNR-MICCAI BraTS 2021 benchmark "
    "on brain tumor segmentation and radiogenomic classification, arXiv:2107.02314, 2021.")


@dataclass
class BratsCase:
    """The files of one BraTS case, keyed by contrast name and ``SEG``."""

    case_id: str
    style: str
    files: dict[str, Path]


@dataclass
class BratsJob:
    """One case to convert: its chosen images in channel order, its seg and its outputs."""

    case_id: str
    style: str
    images: list[Path]
    seg: Path | None
    out_images: list[Path]
    out_mask: Path
    out_labels: Path | None

    def outputs(self) -> list[Path]:
        return self.out_images + [self.out_mask] + ([self.out_labels] if self.out_labels else [])


# ----------------------------------------------------------------------------- discovery
def _classify(path: Path) -> tuple[str, str, str] | None:
    """(style, case id, contrast or SEG) of a BraTS file name, None for any other file."""
    for style, pattern in FILE_PATTERNS.items():
        match = pattern.match(path.name)
        if match:
            suffix = match.group("kind").lower()
            kind = next(k for k, s in FILE_KINDS[style].items() if s == suffix)
            return style, match.group("case"), kind
    return None


def find_brats_cases(input_folder: Path) -> list[BratsCase]:
    """Every BraTS case under ``input_folder`` (any depth), sorted by case id.

    A case is identified by its folder and the file-name prefix; two cases with one id, or a
    file found twice in one case, are refused since the output would silently lose one.
    """
    input_folder = Path(input_folder)
    if not input_folder.is_dir():
        raise ConversionError(f"input folder not found: {input_folder}")
    cases: dict[tuple[Path, str], BratsCase] = {}
    unrecognised = []
    for path in sorted(p for p in input_folder.rglob("*") if p.is_file()):
        parsed = _classify(path)
        if parsed is None:
            unrecognised += [path] if path.name.lower().endswith((".nii", ".nii.gz")) else []
            continue
        style, case_id, kind = parsed
        case = cases.setdefault((path.parent, case_id), BratsCase(case_id, style, {}))
        if kind in case.files:
            raise ConversionError(f"{path}: case {case_id} already has a file of this kind "
                                  f"({case.files[kind]}); keep one of them")
        case.files[kind] = path
    if unrecognised:  # e.g. a misnamed seg file, which would turn a case into a test case
        warn(f"ignoring {len(unrecognised)} NIfTI file(s) not named like BraTS: "
             f"{name_some([str(p) for p in unrecognised], 5)}")
    folders = defaultdict(list)
    for folder, case_id in cases:
        folders[case_id].append(folder)
    repeated = {k: v for k, v in folders.items() if len(v) > 1}
    if repeated:
        case_id, where = next(iter(repeated.items()))
        raise ConversionError(f"case id {case_id} occurs in {len(where)} folders "
                              f"({', '.join(map(str, where))}); convert them separately")
    return sorted(cases.values(), key=lambda c: c.case_id)


def detect_style(cases: Sequence[BratsCase], input_folder: Path) -> str:
    """'2018' or '2023' from the file names; a tree mixing both is refused."""
    styles = sorted({c.style for c in cases})
    if not styles:
        raise ConversionError(
            f"no BraTS case found under {input_folder}: expected files named like "
            "CASE_t1.nii.gz, CASE_flair.nii.gz (2018-2021) or CASE-t1n.nii.gz, CASE-t2f.nii.gz "
            "(2023+)")
    if len(styles) > 1:
        examples = [next(c.case_id for c in cases if c.style == s) for s in styles]
        raise ConversionError(f"{input_folder} mixes BraTS 2018-2021 naming (e.g. {examples[0]}) "
                              f"and 2023+ naming (e.g. {examples[1]}); convert each separately")
    return styles[0]


def check_contrasts_present(cases: Sequence[BratsCase], contrasts: Sequence[str]) -> None:
    """Refuse before writing anything when a case lacks a chosen contrast (named with its file)."""
    missing = []
    for case in cases:
        for contrast in contrasts:
            if contrast not in case.files:
                suffix = FILE_KINDS[case.style][contrast]
                folder = next(iter(case.files.values())).parent
                missing.append(f"{case.case_id} (no {contrast}: {folder}/{case.case_id}"
                               f"{'_' if case.style == '2018' else '-'}{suffix}.nii.gz)")
    if missing:
        raise ConversionError(f"{len(missing)} case(s) lack a chosen contrast: "
                              f"{name_some(missing, 5)}; choose other --contrasts or remove them")


# ----------------------------------------------------------------------------- one case
def brain_mask(images: Sequence[np.ndarray]) -> np.ndarray:
    """Non-zero in any contrast: BraTS is skull-stripped, so zero is outside the brain."""
    return np.any(np.stack(images) != 0, axis=0).astype(np.uint8)


def remap_labels(seg: np.ndarray, style: str, path: Path) -> np.ndarray:
    """Map the style's labels to 1 necrosis, 2 oedema, 3 enhancing; refuse unknown values."""
    mapping = LABEL_MAPS[style]
    values = np.unique(seg)
    unknown = [float(v) for v in values if v not in mapping]
    if unknown:
        raise ConversionError(f"{path}: label value(s) {unknown} are not BraTS "
                              f"{STYLE_NAMES[style]} labels {sorted(mapping)}")
    lookup = np.zeros(max(mapping) + 1, np.uint8)
    for old, new in mapping.items():
        lookup[old] = new
    return lookup[seg.astype(np.int64)]


def convert_case(job: BratsJob) -> None:
    """Copy the images, then write the mask and the labels on the first image's header."""
    arrays, reference = [], None
    for path in job.images:
        array, geometry = read_image(path)
        reference = reference or (path, geometry)
        differences = reference[1].differences(geometry, GEOMETRY_RTOL)
        if differences:
            raise ConversionError(f"{path}: grid differs from {reference[0].name}: "
                                  f"{'; '.join(differences)}")
        arrays.append(array)
    labels = None
    if job.seg is not None:
        seg, geometry = read_image(job.seg)
        differences = reference[1].differences(geometry, GEOMETRY_RTOL)
        if differences:
            raise ConversionError(f"{job.seg}: grid differs from {reference[0].name}: "
                                  f"{'; '.join(differences)}")
        labels = remap_labels(seg, job.style, job.seg)
    for source, destination in zip(job.images, job.out_images):
        copy_image(source, destination)
    write_image_like(brain_mask(arrays), job.images[0], job.out_mask, dtype=np.uint8)
    if labels is not None:
        write_image_like(labels, job.images[0], job.out_labels, dtype=np.uint8)


def make_job(case: BratsCase, contrasts: Sequence[str], folder: Path) -> BratsJob:
    subset = "Tr" if "SEG" in case.files else "Ts"
    out_images = [folder / f"images{subset}" / f"{case.case_id}_{c:04d}{FILE_ENDING}"
                  for c in range(len(contrasts))]
    return BratsJob(case.case_id, case.style, [case.files[c] for c in contrasts],
                    case.files.get("SEG"), out_images,
                    folder / f"masks{subset}" / f"{case.case_id}{FILE_ENDING}",
                    folder / "labelsTr" / f"{case.case_id}{FILE_ENDING}" if subset == "Tr"
                    else None)


# ----------------------------------------------------------------------------- whole data set
def normalise_contrasts(contrasts: Sequence[str]) -> list[str]:
    chosen = [c.upper() for c in contrasts]
    unknown = [c for c in chosen if c not in CONTRASTS]
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        raise ConversionError(f"--contrasts must be distinct names among {', '.join(CONTRASTS)}; "
                              f"got {' '.join(contrasts) or 'nothing'}")
    return chosen


def convert_brats(input_folder: str | Path, dataset_id: int, name: str = "BraTS",
                  output_root: str | Path | None = None,
                  contrasts: Sequence[str] = DEFAULT_CONTRASTS, num_processes: int = 1,
                  progress: bool = True) -> ConversionReport:
    """Convert a BraTS tree to ``<output_root>/DatasetXXX_<name>``; returns what was done."""
    contrasts = normalise_contrasts(contrasts)
    input_folder = Path(input_folder).expanduser()
    folder = dataset_folder(output_root, dataset_id, name)
    cases = find_brats_cases(input_folder)
    style = detect_style(cases, input_folder)
    check_contrasts_present(cases, contrasts)
    training = sum("SEG" in c.files for c in cases)
    mapping_note = " (label 4 of the originals mapped to 3)" if style == "2018" else ""
    dataset_json = DatasetJson(
        name=name, channel_names=dict(enumerate(contrasts)), numTraining=training,
        description=f"{STYLE_NAMES[style]} ({input_folder.name}) converted by "
                    f"autosynth_convert_brats: {', '.join(contrasts)}; labels 1 necrosis, "
                    f"2 oedema, 3 enhancing tumour{mapping_note}; cases without "
                    "segmentation in imagesTs",
        labels=dict(LABELS), licence=LICENCE, reference=REFERENCE)
    claim_dataset_folder(folder, dataset_json)
    (folder / "imagesTr").mkdir(exist_ok=True)
    if training < len(cases):
        warn(f"{len(cases) - training} case(s) without a seg file go to imagesTs")
    report = ConversionReport(folder)
    jobs = [make_job(case, contrasts, folder) for case in cases]
    run_cases(convert_case, jobs, report, num_processes, "BraTS", progress)
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autosynth_convert_brats",
        description="Convert BraTS 2018-2021 (CASE_t1/_t1ce/_t2/_flair/_seg.nii.gz, flat or under "
                    "HGG/ LGG/) or BraTS 2023+ (CASE-t1n/-t1c/-t2w/-t2f/-seg.nii.gz) to the "
                    "autosynth raw layout. Images are copied byte for byte; masksTr holds the "
                    "brain (non-zero in any kept contrast); labelsTr holds 1 necrosis, 2 oedema, "
                    "3 enhancing (BraTS 2018-2021 label 4 becomes 3). Cases without a seg file "
                    "go to imagesTs/masksTs. Re-running skips finished cases.")
    add_common_arguments(parser, "BraTS")
    parser.add_argument("--contrasts", nargs="+", default=list(DEFAULT_CONTRASTS),
                        metavar="CONTRAST",
                        help=f"contrasts to keep, in channel order, among {', '.join(CONTRASTS)} "
                             f"(default: {' '.join(DEFAULT_CONTRASTS)}, as in the paper)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(convert_brats, input_folder=args.input, dataset_id=args.dataset_id,
                       name=args.name, output_root=args.output_root, contrasts=args.contrasts,
                       num_processes=args.num_processes, progress=not args.no_progress)


if __name__ == "__main__":
    raise SystemExit(main())
