"""``autosynth_test``: every trained translation of a dataset on its held-out test cases."""
from __future__ import annotations

import argparse
import sys

from autosynth import results_layout as layout
from autosynth.cli.device_option import add_device_option, resolve_device
from autosynth.dataset.dataset_json import DatasetJsonError
from autosynth.evaluation.errors import EvaluationError
from autosynth.evaluation.held_out import (ModelSelection, brain_masks,
                                           evaluate_translation, held_out_cases,
                                           row_name, select_models)
from autosynth.evaluation.held_out_summary import write_test_summary
from autosynth.evaluation.segmentation_utility import add_utility_to_row
from autosynth.experiment_planning.splits import SPLITS_FILE
from autosynth.inference import PredictionError, PredictionSettings
from autosynth.inference.segmentation import Segmenter
from autosynth.paths import (DatasetNotFoundError, find_dataset_name, preprocessed_root,
                             raw_root, results_root)

PROG = "autosynth_test"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Find the trained translations of a dataset in $AUTOSYNTH_RESULTS, predict "
        f"the held-out test cases ({SPLITS_FILE} 'test' in the preprocessed folder; images "
        "from the raw imagesTr) with each, score the predictions against the raw target "
        "normalised with the model's plan (inside the raw brain mask, with the raw labels), and "
        "write one table of all translations in the paper's Table 1 form to "
        "$AUTOSYNTH_RESULTS/DatasetXXX/test_summary.{md,json}. Each translation's predictions, "
        "summary and figures go to <model folder>/test_set/. See documentation/evaluation.md.")
    parser.add_argument("-d", "--dataset", required=True, help="dataset id or name")
    parser.add_argument("-s", "--source", default=None,
                        help="only translations from this source (several joined by commas)")
    parser.add_argument("-t", "--target", default=None, help="only translations to this target")
    parser.add_argument("-c", "--configuration", default=None,
                        help="only models of this configuration (default: any)")
    parser.add_argument("-tr", "--trainer", default=None,
                        help="only models of this trainer (default: any)")
    parser.add_argument("-f", "--folds", nargs="+", default=None,
                        help="folds to average (default: every fold of each model that has the "
                        "checkpoint)")
    parser.add_argument("--checkpoint", default="best", choices=["best", "final", "latest"],
                        help="checkpoint of each fold (default best)")
    parser.add_argument("--tta", action="store_true",
                        help="average with the left-right mirrored prediction")
    parser.add_argument("--continue", dest="resume", action="store_true",
                        help="keep test predictions that exist (same settings); default: "
                        "predict again, as the models may have changed")
    parser.add_argument("--no-figures", action="store_true", help="write no figures")
    parser.add_argument("--utility", action="store_true",
                        help="add the segmentation-utility columns: each test case segmented "
                        "with the real and with the synthetic target by the segmenter of "
                        "autosynth_train_segmenter (configuration 2d, fold all, which must be "
                        "trained); see autosynth_segmentation_utility")
    parser.add_argument("-np", "--num-processes", type=int, default=1,
                        help="worker processes for prediction and scoring (default 1)")
    add_device_option(parser)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    sources = [s.strip() for s in args.source.split(",")] if args.source else None
    settings = PredictionSettings(folds=args.folds, checkpoint=args.checkpoint, mirror=args.tta,
                                  device=resolve_device(args.device))
    try:
        name = find_dataset_name(args.dataset)
        results = results_root() / name
        models = select_models(results, ModelSelection(sources, args.target,
                                                       args.configuration, args.trainer))
        dataset_json, cases = held_out_cases(raw_root() / name, preprocessed_root() / name)
        masks = brain_masks(cases, results / "test_set_masks")
        segmenter = (Segmenter(layout.segmenter_folder(results, "2d"), "all", "final",
                               settings.device) if args.utility else None)
        rows = []
        for model in models:
            label = row_name(model, models)
            if args.folds is None and not model.available_folds(args.checkpoint):
                print(f"{PROG}: {label}: no fold with {layout.checkpoint_name(args.checkpoint)} in "
                      f"{model.folder}; skipped", file=sys.stderr)
                continue
            print(f"{PROG}: {label} ({model.folder})", file=sys.stderr)
            rows.append(evaluate_translation(model, dataset_json, cases, masks, settings, label,
                                             args.num_processes, args.resume,
                                             not args.no_figures, not args.no_progress))
            if segmenter is not None:
                add_utility_to_row(rows[-1], model, segmenter, cases, masks, dataset_json)
    except (EvaluationError, PredictionError, DatasetNotFoundError, DatasetJsonError) as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    if not rows:
        print(f"{PROG}: no translation to test", file=sys.stderr)
        return 2
    text = write_test_summary(results, rows, name, [c.case_id for c in cases])
    print(text)
    print(f"{PROG}: written {results / 'test_summary.md'} and {results / 'test_summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
