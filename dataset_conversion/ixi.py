"""Convert IXI to the autosynth raw layout: ``autosynth_convert_ixi -i IXI -d 2``.

IXI ships one file per subject and contrast (``IXI002-Guys-0828-T1.nii.gz``, ``-T2``, ``-PD``),
in one folder or in ``IXI-T1/``, ``IXI-T2/``, ``IXI-PD/``. T2 and PD come from one dual-echo
acquisition and share a grid; T1 does not. The T2 grid is therefore the dataset's grid: T2 and PD
are copied byte for byte, T1 is rigidly registered to T2 (Mattes mutual information) and
resampled onto its grid. IXI is not skull-stripped, so the mask is the head (Otsu threshold on
T2, largest component, holes filled), not the brain.
"""
from __future__ import annotations

import argparse
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from autosynth.dataset.dataset_json import DatasetJson
from autosynth.dataset.image_io import Geometry, read_sitk, write_image_like
from autosynth.dataset.integrity import GEOMETRY_RTOL
from dataset_conversion.common import (FILE_ENDING, ConversionError, ConversionReport,
                                       add_common_arguments, claim_dataset_folder, copy_image,
                                       dataset_folder, name_some, run_cases, run_command, warn)

CONTRASTS = ("T1", "T2", "PD")
REFERENCE_CONTRAST = "T2"  # the grid every output lies on
FILE_PATTERN = re.compile(r"^(?P<subject>IXI\d+-[A-Za-z]+-\d+)-(?P<contrast>T1|T2|PD)"
                          r"\.nii(\.gz)?$")
LICENCE = "IXI data set, Creative Commons CC BY-SA 3.0 (https://brain-development.org/ixi-dataset/)"
REFERENCE = ("IXI - Information eXtraction from Images (EPSRC GR/S21533/02), "
             "https://brain-development.org/ixi-dataset/")
MAX_METRIC_SAMPLES = 100_000  # per resolution level: bounds the time of one registration
SAMPLING_SEED = 20220101  # fixed, so that a conversion is reproducible


@dataclass
class IxiJob:
    """One subject to convert: its source files by contrast, channel order and outputs."""

    case_id: str
    files: dict[str, Path]
    contrasts: list[str]
    out_images: list[Path]
    out_mask: Path

    def outputs(self) -> list[Path]:
        return self.out_images + [self.out_mask]


# ----------------------------------------------------------------------------- discovery
def find_ixi_subjects(input_folder: Path) -> dict[str, dict[str, Path]]:
    """{subject: {contrast: file}} for every IXI T1/T2/PD file under ``input_folder``."""
    input_folder = Path(input_folder)
    if not input_folder.is_dir():
        raise ConversionError(f"input folder not found: {input_folder}")
    subjects: dict[str, dict[str, Path]] = defaultdict(dict)
    for path in sorted(p for p in input_folder.rglob("IXI*") if p.is_file()):
        match = FILE_PATTERN.match(path.name)
        if not match:
            continue
        subject, contrast = match.group("subject"), match.group("contrast")
        if contrast in subjects[subject]:
            raise ConversionError(f"{path}: subject {subject} already has a {contrast} file "
                                  f"({subjects[subject][contrast]}); keep one of them")
        subjects[subject][contrast] = path
    if not subjects:
        raise ConversionError(f"no IXI file found under {input_folder}: expected names like "
                              "IXI002-Guys-0828-T1.nii.gz, -T2.nii.gz, -PD.nii.gz")
    return dict(sorted(subjects.items()))


# ----------------------------------------------------------------------------- registration
def _shrink_factors(image: sitk.Image) -> list[int]:
    """Multi-resolution levels whose coarsest grid still has 16 voxels along every axis."""
    return [f for f in (4, 2) if min(image.GetSize()) // f >= 16] + [1]


def _candidate_starts(fixed: sitk.Image, moving: sitk.Image) -> list[sitk.Transform]:
    """Header alignment (IXI scans share the scanner frame), centres of the fields of view and
    centres of mass: the best of them by the metric starts the optimisation."""
    centre = fixed.TransformContinuousIndexToPhysicalPoint(
        [(s - 1) / 2 for s in fixed.GetSize()])
    header = sitk.Euler3DTransform()
    header.SetCenter(centre)
    modes = (sitk.CenteredTransformInitializerFilter.GEOMETRY,
             sitk.CenteredTransformInitializerFilter.MOMENTS)
    return [header] + [sitk.CenteredTransformInitializer(fixed, moving, sitk.Euler3DTransform(),
                                                         mode) for mode in modes]


def _registration_method(fixed: sitk.Image, fixed_mask: sitk.Image | None
                         ) -> sitk.ImageRegistrationMethod:
    registration = sitk.ImageRegistrationMethod()
    registration.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    registration.SetMetricSamplingStrategy(registration.RANDOM)
    shrink = _shrink_factors(fixed)
    voxels = np.prod(fixed.GetSize())
    registration.SetMetricSamplingPercentagePerLevel(
        [min(0.5, MAX_METRIC_SAMPLES * f ** 3 / voxels) for f in shrink], SAMPLING_SEED)
    if fixed_mask is not None:
        registration.SetMetricFixedMask(fixed_mask)
    registration.SetInterpolator(sitk.sitkLinear)
    registration.SetOptimizerAsRegularStepGradientDescent(
        learningRate=2.0, minStep=1e-4, numberOfIterations=300, relaxationFactor=0.8,
        gradientMagnitudeTolerance=1e-8)
    registration.SetOptimizerScalesFromPhysicalShift()
    registration.SetShrinkFactorsPerLevel(shrink)
    registration.SetSmoothingSigmasPerLevel([f / 2 if f > 1 else 0 for f in shrink])
    registration.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    return registration


def register_rigid(fixed: sitk.Image, moving: sitk.Image,
                   fixed_mask: sitk.Image | None = None) -> sitk.Euler3DTransform:
    """Rigid transform mapping points of ``fixed`` onto ``moving`` (resampling convention).

    Mattes mutual information, because T1 and T2 intensities are related but not linearly;
    multi-resolution, to reach the right optimum from a start that may be centimetres off.
    """
    fixed = sitk.Cast(fixed, sitk.sitkFloat32)
    moving = sitk.Cast(moving, sitk.sitkFloat32)
    registration = _registration_method(fixed, fixed_mask)
    scores = []
    for start in _candidate_starts(fixed, moving):
        registration.SetInitialTransform(start, inPlace=False)
        scores.append((registration.MetricEvaluate(fixed, moving), len(scores), start))
    best_start = min(scores, key=lambda s: s[:2])[2]
    registration.SetInitialTransform(best_start, inPlace=False)
    result = registration.Execute(fixed, moving)
    if isinstance(result, sitk.CompositeTransform):
        result = result.GetNthTransform(result.GetNumberOfTransforms() - 1)
    return sitk.Euler3DTransform(result)


# ----------------------------------------------------------------------------- head mask
def head_mask(image: sitk.Image) -> np.ndarray:
    """Head (not brain) as a (Z, Y, X) uint8 array: Otsu, largest component, holes filled.

    The intensities are clipped at the 99.5th percentile first, so that bright CSF or vessels
    do not pull the Otsu threshold above dark tissue.
    """
    voxels = sitk.GetArrayViewFromImage(image)
    clipped = sitk.Clamp(sitk.Cast(image, sitk.sitkFloat32),
                         upperBound=float(np.percentile(voxels, 99.5)))
    foreground = sitk.OtsuThreshold(clipped, 0, 1)
    foreground = sitk.BinaryMorphologicalOpening(foreground, [1, 1, 1])
    components = sitk.RelabelComponent(sitk.ConnectedComponent(foreground), sortByObjectSize=True)
    largest = sitk.BinaryMorphologicalClosing(components == 1, [2, 2, 2])
    mask = sitk.GetArrayFromImage(sitk.BinaryFillhole(largest)).astype(bool)
    for z in range(mask.shape[0]):  # holes open at the field-of-view edge, slice by slice
        mask[z] = ndimage.binary_fill_holes(mask[z])
    return mask.astype(np.uint8)


# ----------------------------------------------------------------------------- one subject
def _onto_reference(image: sitk.Image, reference: sitk.Image,
                    transform: sitk.Transform) -> np.ndarray:
    """``image`` resampled (linear, 0 outside) on the grid of ``reference``, as float32."""
    resampled = sitk.Resample(image, reference, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return sitk.GetArrayFromImage(resampled)


def convert_subject(job: IxiJob) -> None:
    """T2 and (same-grid) PD copied, T1 registered and resampled, head mask from T2."""
    reference_path = job.files[REFERENCE_CONTRAST]
    reference = read_sitk(reference_path)
    mask = head_mask(reference)
    for contrast, destination in zip(job.contrasts, job.out_images):
        source = job.files[contrast]
        if contrast == REFERENCE_CONTRAST:
            copy_image(source, destination)
            continue
        image = read_sitk(source)
        if contrast != "T1" and not Geometry.of(reference).differences(Geometry.of(image),
                                                                        GEOMETRY_RTOL):
            copy_image(source, destination)
            continue
        if contrast == "T1":
            fixed_mask = sitk.BinaryDilate(sitk.GetImageFromArray(mask), [2, 2, 2])
            fixed_mask.CopyInformation(reference)
            transform = register_rigid(reference, image, fixed_mask)
        else:  # PD off the T2 grid: same acquisition, so the identity is right
            warn(f"{source}: grid differs from {reference_path.name}; resampled onto it")
            transform = sitk.Euler3DTransform()
        write_image_like(_onto_reference(image, reference, transform), reference_path,
                         destination, dtype=np.float32)
    write_image_like(mask, reference_path, job.out_mask, dtype=np.uint8)


# ----------------------------------------------------------------------------- whole data set
def normalise_contrasts(contrasts: Sequence[str]) -> list[str]:
    chosen = [c.upper() for c in contrasts]
    if not chosen or len(set(chosen)) != len(chosen) or not set(chosen) <= set(CONTRASTS):
        raise ConversionError(f"--contrasts must be distinct names among {', '.join(CONTRASTS)}; "
                              f"got {' '.join(contrasts) or 'nothing'}")
    return chosen


def convert_ixi(input_folder: str | Path, dataset_id: int, name: str = "IXI",
                output_root: str | Path | None = None, contrasts: Sequence[str] = CONTRASTS,
                num_processes: int = 1, progress: bool = True) -> ConversionReport:
    """Convert an IXI download to ``<output_root>/DatasetXXX_<name>``; returns what was done.

    Subjects lacking a chosen contrast (or T2, whose grid is needed) are skipped with a warning.
    """
    contrasts = normalise_contrasts(contrasts)
    input_folder = Path(input_folder).expanduser()
    folder = dataset_folder(output_root, dataset_id, name)
    subjects = find_ixi_subjects(input_folder)
    needed = sorted(set(contrasts) | {REFERENCE_CONTRAST})
    incomplete = [f"{s} (no {', '.join(c for c in needed if c not in files)})"
                  for s, files in subjects.items() if not set(needed) <= set(files)]
    if incomplete:
        warn(f"skipping {len(incomplete)} subject(s) missing a contrast: "
             f"{name_some(incomplete, 20)}")
    complete = {s: f for s, f in subjects.items() if set(needed) <= set(f)}
    if not complete:
        raise ConversionError(f"no subject under {input_folder} has all of {', '.join(needed)}")
    dataset_json = DatasetJson(
        name=name, channel_names=dict(enumerate(contrasts)), numTraining=len(complete),
        description=f"IXI ({input_folder.name}) converted by autosynth_convert_ixi: "
                    f"{', '.join(contrasts)} on the T2 grid (T1 rigidly registered and resampled, "
                    "linear); masks are head masks (Otsu on T2), not brain masks",
        labels=None, licence=LICENCE, reference=REFERENCE)
    claim_dataset_folder(folder, dataset_json)
    jobs = [IxiJob(subject, files, contrasts,
                   [folder / "imagesTr" / f"{subject}_{c:04d}{FILE_ENDING}"
                    for c in range(len(contrasts))],
                   folder / "masksTr" / f"{subject}{FILE_ENDING}")
            for subject, files in complete.items()]
    report = ConversionReport(folder)
    run_cases(convert_subject, jobs, report, num_processes, "IXI", progress)
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autosynth_convert_ixi",
        description="Convert IXI (IXI###-Site-####-T1/-T2/-PD.nii.gz, in one folder or in "
                    "IXI-T1/ IXI-T2/ IXI-PD/) to the autosynth raw layout on each subject's T2 "
                    "grid: T2 and PD copied byte for byte, T1 rigidly registered to T2 (mutual "
                    "information) and resampled; masksTr holds a head mask from T2. Subjects "
                    "missing a contrast are skipped with a warning. Re-running skips finished "
                    "subjects.")
    add_common_arguments(parser, "IXI")
    parser.add_argument("--contrasts", nargs="+", default=list(CONTRASTS), metavar="CONTRAST",
                        help="contrasts to keep, in channel order, among T1, T2, PD (default: "
                             "T1 T2 PD); T2 is read in any case, as the reference grid")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(convert_ixi, input_folder=args.input, dataset_id=args.dataset_id,
                       name=args.name, output_root=args.output_root, contrasts=args.contrasts,
                       num_processes=args.num_processes, progress=not args.no_progress)


if __name__ == "__main__":
    raise SystemExit(main())
