"""``autosynth_evaluate``: MAE, MSE, PSNR and SSIM of predictions against references."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from autosynth.evaluation.errors import EvaluationError
from autosynth.evaluation.reference_scale import choose_scale, plan_for_target
from autosynth.paths import preprocessed_dataset_folder
from autosynth.evaluation.case_files import evaluation_cases
from autosynth.evaluation.evaluator import evaluate_cases, write_summary
from autosynth.paths import DatasetNotFoundError
from autosynth.utils.files import read_json

from autosynth.normalization import get_scheme, scheme_names

from tqdm import tqdm

from autosynth.evaluation.protocols import DEFAULT_PROTOCOL, PROTOCOLS

PROG = "autosynth_evaluate"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Compare every prediction PRED/CASE.nii.gz with its reference: MAE, MSE, "
        "PSNR and SSIM under one protocol (--protocol): by default the corrected one, inside "
        "the brain and, with labels, in the tumour and the rest of the brain, with the "
        "references normalised the way the model normalises its target (without clipping) and "
        "data range 1. The model's scale must be known: a plan, prediction_info.json or "
        "--normalization. Writes summary.json (per case, mean ± SD and bootstrap 95 % "
        "interval per metric), summary.md (the paper's Table 1 form) and figures/CASE.png (the "
        "paper's Figure 2 form). See documentation/evaluation.md.")
    parser.add_argument("-ref", "--reference", required=True, type=Path,
                        help="folder of real target images: CASE.nii.gz, or CASE_XXXX.nii.gz "
                        "with --ref-channel XXXX (e.g. a raw imagesTr folder)")
    parser.add_argument("-pred", "--prediction", required=True, type=Path,
                        help="folder of predictions CASE.nii.gz (every file there is a case)")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="folder for summary.json, summary.md and figures/ (default: the "
                        "prediction folder)")
    parser.add_argument("--masks", type=Path, default=None,
                        help="brain masks CASE.nii.gz (default: derived from each reference: "
                        "non-zero, largest component, holes filled; right for skull-stripped "
                        "images)")
    parser.add_argument("--labels", type=Path, default=None,
                        help="tumour labels CASE.nii.gz, for the tumour / non-tumour brain "
                        "metrics and the tumour row of the figures")
    parser.add_argument("--source", type=Path, default=None,
                        help="input images CASE.nii.gz (or CASE_XXXX with --source-channel), "
                        "shown as the first column of the figures")
    parser.add_argument("--protocol", default=DEFAULT_PROTOCOL, choices=[*PROTOCOLS, "all"],
                        help="corrected (default: in the brain, masked SSIM, unclipped "
                        "reference, data range 1, per volume), brasyn (the BraSyn 2023 "
                        "challenge's computation), paper (Osman & Tamam's per-slice whole-image "
                        "metrics) or all three")
    parser.add_argument("--ref-channel", type=int, default=None,
                        help="read references as CASE_XXXX.nii.gz with this channel number")
    parser.add_argument("--source-channel", type=int, default=None,
                        help="read source images as CASE_XXXX.nii.gz with this channel number")
    norm = parser.add_argument_group("reference normalisation (first match wins)")
    norm.add_argument("--normalization", default=None,
                      choices=scheme_names(),
                      help="scheme for the references; default: the plan's scheme for the "
                      "target (-d or --plans), else that in PRED/prediction_info.json; without "
                      "any of these the command refuses to guess. 'none' compares the files "
                      "as they are")
    norm.add_argument("-d", "--dataset", default=None,
                      help="dataset id or name: take the target's normalisation from its "
                      "preprocessed plans.json")
    norm.add_argument("--plans", type=Path, default=None,
                      help="a plans.json (e.g. a model folder's) to take the normalisation from")
    norm.add_argument("-c", "--configuration", default=None,
                      help="configuration of the plan (default: that of prediction_info.json, "
                      "else 2d)")
    norm.add_argument("-t", "--target", default=None,
                      help="target contrast name in the plan (default: from "
                      "prediction_info.json)")
    norm.add_argument("--z-window", nargs=2, type=float, default=None, metavar=("LOW", "HIGH"),
                      help="z window for --normalization brain_zscore_01 without a plan")
    parser.add_argument("--slice-axis", type=int, default=None, choices=[0, 1, 2],
                        help="array axis (0=Z, 1=Y, 2=X) of the per-slice SSIM (default: the "
                        "model's, from prediction_info.json, else the axial axis)")
    parser.add_argument("--file-ending", default=".nii.gz", help="default .nii.gz")
    parser.add_argument("--no-figures", action="store_true", help="write no figures (faster)")
    parser.add_argument("-np", "--num-processes", type=int, default=1,
                        help="cases evaluated in parallel (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def reference_scale(args: argparse.Namespace, info: dict | None):
    """The :class:`ReferenceScale` from the options and the predictions' info."""

    plan, origin = None, ""
    model = (info or {}).get("model", {})
    if args.dataset is not None or args.plans is not None:
        plans_file = args.plans
        if plans_file is None:

            plans_file = preprocessed_dataset_folder(args.dataset) / "plans.json"
        target = args.target or model.get("target")
        if not target:
            raise EvaluationError("give the target contrast with -t to take its normalisation "
                                  "from the plan")
        configuration = args.configuration or model.get("configuration") or "2d"
        plan = plan_for_target(Path(plans_file), configuration, target)
        origin = f"{plans_file}, configuration {configuration}, contrast {target}"
    scale = choose_scale(args.normalization, plan, origin, info, args.z_window)
    if model.get("denormalized") and get_scheme(scale.plan.scheme).changes_intensities:
        raise EvaluationError(f"{args.prediction}: the predictions are denormalised; evaluate "
                              "predictions on the normalised scale (autosynth_predict without "
                              "--denormalize), or --normalization none for references on "
                              "their scale")
    return scale


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    info_file = args.prediction / "prediction_info.json"
    info = read_json(info_file) if info_file.is_file() else None
    output = args.output or args.prediction
    try:
        scale = reference_scale(args, info)
        cases = evaluation_cases(args.prediction, args.reference, args.file_ending, args.masks,
                                 args.labels, args.source, args.ref_channel,
                                 args.source_channel)
        slice_axis = args.slice_axis if args.slice_axis is not None else \
            (info or {}).get("slice_axis")
        protocols = PROTOCOLS if args.protocol == "all" else (args.protocol,)
        per_case = evaluate_cases(cases, scale, slice_axis,
                                  None if args.no_figures else output / "figures",
                                  args.num_processes, not args.no_progress,
                                  report=_report_case, protocols=protocols)
    except (EvaluationError, DatasetNotFoundError) as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    write_summary(output, per_case, scale, f"Evaluation of {args.prediction}",
                  {"prediction_folder": str(args.prediction),
                   "reference_folder": str(args.reference),
                   "masks": str(args.masks) if args.masks else "derived from the references",
                   "labels": str(args.labels) if args.labels else None,
                   "protocols": list(protocols)})
    print((output / "summary.md").read_text(encoding="utf-8"))
    print(f"{PROG}: written {output / 'summary.json'}, {output / 'summary.md'}"
          + ("" if args.no_figures else f" and {output / 'figures'}/"))
    return 0


def _report_case(message: str) -> None:
    """One failed case, one line, as it happens (above the progress bar)."""
    tqdm.write(f"{PROG}: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
