"""``autosynth_find_best_configuration``: which model or ensemble to use, by cross-validation."""
from __future__ import annotations

import argparse
import sys

from autosynth import results_layout as layout
from autosynth.dataset.dataset_json import DatasetJsonError
from autosynth.evaluation.errors import EvaluationError
from autosynth.evaluation.find_best import CRITERION_TEXT, MAX_MEMBERS, find_best
from autosynth.inference import PredictionError
from autosynth.paths import DatasetNotFoundError, find_dataset_name, results_root

PROG = "autosynth_find_best_configuration"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Gather the cross-validation in the original space (each fold's "
        f"{layout.folder_name_of('k')}/{layout.VALIDATION_FOLDER}/, written at the end of "
        "autosynth_train) of every trained configuration and trainer of one translation, score "
        f"every ensemble of two to {MAX_MEMBERS} of them (their averaged validation "
        "predictions) on the same cases, and choose by this criterion: "
        f"{CRITERION_TEXT}. Writes $AUTOSYNTH_RESULTS/DatasetXXX/{layout.FIND_BEST_FOLDER}/"
        f"<SRC>_to_<TGT>/{layout.INFERENCE_INFORMATION_FILE} and "
        f"{layout.INFERENCE_INSTRUCTIONS_FILE} with the exact autosynth_predict command "
        "(autosynth_predict --best follows it). See documentation/model_selection.md.")
    parser.add_argument("-d", "--dataset", required=True, help="dataset id or name")
    parser.add_argument("-s", "--source", required=True,
                        help="source contrast(s), several joined by commas (e.g. T1,T2)")
    parser.add_argument("-t", "--target", required=True, help="target contrast, e.g. FLAIR")
    parser.add_argument("-c", "--configurations", nargs="+", default=None,
                        help="only these configurations (default: every trained one)")
    parser.add_argument("-tr", "--trainers", nargs="+", default=None,
                        help="only these trainers (default: every trained one)")
    parser.add_argument("-f", "--folds", nargs="+", default=None,
                        help="folds whose validation must exist for a model to take part "
                        "(default: every fold of the dataset's split, 0-4); a model lacking "
                        "one is named and left out")
    parser.add_argument("--no-ensembles", action="store_true",
                        help="rank the single models only")
    parser.add_argument("-np", "--num-processes", type=int, default=1,
                        help="worker processes scoring the ensembles (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sources = [s.strip() for s in args.source.split(",") if s.strip()]
    try:
        dataset = find_dataset_name(args.dataset)
        info = find_best(dataset, sources, args.target, args.configurations, args.trainers,
                         args.folds, not args.no_ensembles, args.num_processes,
                         not args.no_progress)
    except (EvaluationError, PredictionError, DatasetNotFoundError, DatasetJsonError,
            layout.ResultsLayoutError) as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    folder = layout.find_best_folder(results_root() / dataset, info.sources, info.target)
    best = info.ranking[0]
    print(f"{PROG}: best of {len(info.ranking)} candidate(s): {best['name']} "
          f"(PSNR brain {best['psnr_brain']:.2f} dB, SSIM brain {best['ssim_brain']:.4f}); "
          f"written {folder / layout.INFERENCE_INSTRUCTIONS_FILE}")
    print(info.predict_command())
    return 0


if __name__ == "__main__":
    sys.exit(main())
