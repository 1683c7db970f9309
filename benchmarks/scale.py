"""Issue 18's scale benchmark: does each stage of the pipeline grow linearly with the cohort?

First the machine's fp32 matrix-multiply speed (2 threads, ``machine_speed.matmul_gflops``) is
measured. Then for each cohort size n (default 12, 24 and 48 demo-cohort subjects,
``dataset_conversion/simulated_brats``, 3 contrasts at ``--spacing`` mm; the smaller cohorts are
the first subjects of the larger ones) every stage runs as the real command's ``main()`` in a
fresh process, in this order:

* fingerprint (``autosynth_extract_fingerprint``), plan and split (``autosynth_plan``),
  preprocess (``autosynth_preprocess -c 2d``);
* one training epoch (``autosynth_train T1 FLAIR 0 -c 2d --epochs 1``; the command also
  validates the fold after its last epoch, in the preprocessed space and then by predicting the
  fold's validation cases from the raw images); the epoch's own seconds (its iterations and its
  validation iterations) are read from the final checkpoint's history ("train: epoch alone"),
  and the original-space validation is timed again alone (``autosynth_train ... --val``);
* prediction of all n training cases by fold 0 (``autosynth_predict``, default engine).

For each stage a least-squares line seconds = fixed + per_case * n through the points, with the
largest relative deviation of a point from the line (the evidence of linearity). The network
stages are set beside their FLOP limit (FLOPs counted with ``torch.utils.flop_counter`` at the
planned patch, divided by the peak): the epoch from the planned iterations x batch, prediction
from the slices of each brain box and the prediction's own sliding windows per slice.

    python benchmarks/scale.py [--cases 12 24 48] [--spacing 3] [--repeats 1] [--quick]

Prints the table and writes benchmarks/results/scale.json (every raw time, the fit, the peak
before and after, the load average, versions).
"""
from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from machine_speed import matmul_gflops  # beside this script, on sys.path when it runs
from scale_figure import draw  # the figure of a run, beside its JSON

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from autosynth import results_layout as layout  # noqa: E402
from autosynth.architectures import build_network  # noqa: E402
from autosynth.experiment_planning.fingerprint import load_fingerprint  # noqa: E402
from autosynth.experiment_planning.planner import MAX_ITERATIONS_PER_EPOCH  # noqa: E402
from autosynth.experiment_planning.plans import Plans  # noqa: E402
from autosynth.inference.sliding_window import window_starts  # noqa: E402
from autosynth.paths import dataset_name  # noqa: E402
from autosynth.training.checkpointing import load_checkpoint  # noqa: E402
from autosynth.utils.files import write_json_atomic  # noqa: E402
from dataset_conversion.simulated_brats.cohort import generate_cohort  # noqa: E402

THREADS, DATASET_ID, COHORT = 2, 900, "SimBraTS"
SPACING = 3.0  # mm: per-case costs stand above the fixed ones; 4.5 min on 2 quiet cores
SOURCE, TARGET, FOLD, CONFIGURATION = "T1", "FLAIR", "0", "2d"
CLI = "autosynth.cli"
# stage -> (module, function): each runs as the console script would, in a fresh process
COMMANDS = {"fingerprint": (f"{CLI}.plan_and_preprocess", "extract_fingerprint_main"),
            "plan": (f"{CLI}.plan_and_preprocess", "plan_main"),
            "preprocess": (f"{CLI}.plan_and_preprocess", "preprocess_main"),
            "train": (f"{CLI}.train", "main"),
            "validation": (f"{CLI}.train", "main"),
            "predict": (f"{CLI}.predict", "main")}
STAGES = tuple(COMMANDS)
EPOCH = "train: epoch alone"   # the training epoch's own seconds, from the trainer's history
FITTED = (*STAGES[:4], EPOCH, *STAGES[4:])
LAUNCHER = """import sys
from {module} import {function} as main
if __name__ == "__main__":
    sys.exit(main())
"""


# ----------------------------------------------------------------------------- cohorts
def simulate(work: Path, sizes: list[int], spacing: float) -> dict[int, Path]:
    """One raw root per cohort size; each is the previous one (hard-linked) completed by
    ``generate_cohort``, so that the subjects of a small cohort are those of the larger."""
    roots, previous = {}, None
    for n in sorted(set(sizes)):
        raw = work / f"n{n:03d}" / "raw"
        if previous is not None:
            shutil.copytree(previous, raw, copy_function=os.link)
        started = time.perf_counter()
        generate_cohort(raw, n, spacing, seed=0, dataset_id=DATASET_ID, name=COHORT,
                        num_processes=THREADS, montage=False, progress=False)
        print(f"simulated {n} cases at {spacing:g} mm ({time.perf_counter() - started:.0f} s)",
              flush=True)
        roots[n], previous = raw, raw
    return roots


def arguments(stage: str, home: Path) -> list[str]:
    """The command line of ``stage`` for the cohort under ``home``."""
    dataset = ["-d", str(DATASET_ID)]
    quiet = ["--no-progress"]
    train = [SOURCE, TARGET, FOLD, *dataset, "-c", CONFIGURATION, *quiet]
    raw = home / "raw" / dataset_name(DATASET_ID, COHORT)
    return {"fingerprint": [*dataset, *quiet], "plan": [*dataset, *quiet],
            "preprocess": [*dataset, "-c", CONFIGURATION, *quiet],
            "train": [*train, "--epochs", "1"], "validation": [*train, "--val"],
            "predict": ["-i", str(raw / "imagesTr"), "-o", str(home / "predicted"),
                        "--masks", str(raw / "masksTr"), "-m", str(model_folder(home)),
                        "-f", FOLD, *quiet]}[stage]


def model_folder(home: Path) -> Path:
    results = home / "results" / dataset_name(DATASET_ID, COHORT)
    return layout.model_folder(results, "SynthesisTrainer", "autosynthPlans", CONFIGURATION,
                               [SOURCE], TARGET)


def run_stage(stage: str, home: Path, work: Path) -> dict:
    """Wall and CPU seconds (this process's children) of one stage in a fresh process."""
    module, function = COMMANDS[stage]
    launcher = work / f"autosynth_{stage}.py"         # a main module, as the console script,
    launcher.write_text(LAUNCHER.format(module=module, function=function))  # for spawned workers
    env = dict(os.environ, PYTHONPATH=str(ROOT), AUTOSYNTH_HOME=str(home),
               AUTOSYNTH_RAW=str(home / "raw"), AUTOSYNTH_PREPROCESSED=str(home / "pre"),
               AUTOSYNTH_RESULTS=str(home / "results"))
    if stage == "train":                                # a repeat starts a fresh run
        shutil.rmtree(home / "results", ignore_errors=True)
    if stage == "predict":
        shutil.rmtree(home / "predicted", ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(launcher), *arguments(stage, home)], env=env,
                          capture_output=True, text=True, cwd=work)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"{stage} ({home.name}) failed (exit {done.returncode}):\n"
                 f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    timed = {"seconds": wall, "cpu_seconds": (after.ru_utime - before.ru_utime)
             + (after.ru_stime - before.ru_stime)}
    if stage == "train":
        final = layout.checkpoint_path(model_folder(home), FOLD, "final")
        timed["epoch_seconds"] = load_checkpoint(final)["history"]["epoch_seconds"][0]
    return timed


# ----------------------------------------------------------------------------- work counted
def network_gflop(config, forward_only: bool) -> float:
    """GFLOP per slice of the planned network at its patch: forward, or forward + backward."""
    network = build_network(config.network)
    x = torch.rand(2, config.network.input_channels, *config.patch_size)
    with FlopCounterMode(display=False) as counter:
        if forward_only:
            with torch.no_grad():
                network.eval()(x)
        else:
            network.train()
            out = network(x)
            torch.nn.functional.mse_loss(out, torch.rand_like(out)).backward()
    return counter.get_total_flops() / 2 / 1e9


def work_counted(home: Path) -> dict:
    """What the plan makes the network do for this cohort: training slices of the epoch,
    validation slices of the epoch, slices (windows) predicted; and the GFLOP per slice."""
    pre = home / "pre" / dataset_name(DATASET_ID, COHORT)
    config = Plans.load(pre).configuration(CONFIGURATION)
    fingerprint = load_fingerprint(pre)
    axis, patch = config.slice_axis, config.patch_size
    inplane = [a for a in range(3) if a != axis]
    predicted = 0
    for case in fingerprint["cases"].values():
        shape = [round(case["cropped_shape_zyx"][a] * case["spacing_zyx"][a] / s)
                 for a, s in zip(inplane, config.inplane_spacing)]
        predicted += case["cropped_shape_zyx"][axis] * math.prod(
            len(window_starts(max(e, p), p)) for e, p in zip(shape, patch))
    plan = config.training
    return {"median_shape_zyx": fingerprint["median_shape_zyx"], "patch": list(patch),
            "batch": config.batch_size,
            "iterations_per_epoch": plan.iterations_per_epoch,
            "iterations_capped": plan.iterations_per_epoch >= MAX_ITERATIONS_PER_EPOCH,
            "val_iterations": plan.val_iterations,
            "train_slices": plan.iterations_per_epoch * config.batch_size,
            "val_slices": plan.val_iterations * config.batch_size,
            "predicted_slices": predicted,
            "forward_gflop_per_slice": network_gflop(config, True),
            "train_gflop_per_slice": network_gflop(config, False)}


def stage_gflop(stage: str, counted: dict) -> float | None:
    """The network FLOPs of a stage (None where the network does not dominate)."""
    if stage == EPOCH:
        return (counted["train_slices"] * counted["train_gflop_per_slice"]
                + counted["val_slices"] * counted["forward_gflop_per_slice"])
    if stage == "predict":
        return counted["predicted_slices"] * counted["forward_gflop_per_slice"]
    return None


# ----------------------------------------------------------------------------- the fit
def fit(sizes: list[int], seconds: list[float]) -> dict:
    """Least-squares seconds = fixed + per_case * n and the largest relative deviation."""
    per_case, fixed = np.polyfit(np.asarray(sizes, float), np.asarray(seconds, float), 1)
    line = fixed + per_case * np.asarray(sizes, float)
    deviation = np.abs(np.asarray(seconds) - line) / np.maximum(np.abs(line), 1e-9)
    return {"fixed_s": float(fixed), "per_case_s": float(per_case),
            "max_deviation": float(deviation.max())}


def table(result: dict) -> list[tuple[str, ...]]:
    sizes = result["cases"]
    peak = statistics.median(result["peak_gflops"])
    rows = []
    for stage in result["stages"]:
        seconds = [result["seconds"][stage][str(n)] for n in sizes]
        f = result["fit"][stage]
        limit = result["flop_limit_s"].get(stage)       # per size: the slope alone misleads
        against = (" / ".join(f"{s / limit[str(n)]:.1f}x" for s, n in zip(seconds, sizes))
                   + f" the FLOP limit ({' / '.join(f'{limit[str(n)]:.1f}' for n in sizes)} s "
                   f"at {peak:.0f} GFLOP/s)" if limit else "")   # when fixed costs dominate
        cpu = result["cpu_fit"].get(stage)
        rows.append((stage, *(f"{s:.1f}" for s in seconds), f"{f['fixed_s']:.1f}",
                     f"{f['per_case_s']:.2f}", f"{100 * f['max_deviation']:.1f}",
                     f"{cpu['per_case_s']:.2f}" if cpu else "", against))
    return rows


def median_seconds(values: list[dict], key: str) -> float:
    return statistics.median(v[key] for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[12, 24, 48],
                        help="cohort sizes (default 12 24 48; at least two)")
    parser.add_argument("--spacing", type=float, default=SPACING,
                        help=f"voxel size of the simulated cases, mm (default {SPACING:g}: the "
                        "default run took 4.5 minutes on 2 quiet cores, and 4 mm hides the "
                        "per-case costs under the fixed ones; the demo's 2 mm cases would take "
                        "about 30); the run prints the case size")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs of each stage per size; the median is fitted (default 1)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: --cases 5 6 7 (about 4 minutes; a split needs at "
                        "least 3 cases)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the cohorts and outputs here (default: a temporary folder)")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "scale.json")
    args = parser.parse_args()
    if args.quick:
        args.cases = [5, 6, 7]
    sizes = sorted(set(args.cases))
    if len(sizes) < 2:
        parser.error("--cases needs at least two different sizes to fit a line")
    torch.set_num_threads(THREADS)
    result = {"date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds"), "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "threads": THREADS, "torch": torch.__version__,
        "python": platform.python_version(), "load_average_before": os.getloadavg(),
        "peak_gflops": [matmul_gflops(THREADS)], "cases": sizes, "spacing_mm": args.spacing,
        "repeats": args.repeats,
        "commands": {s: f"{m}:{f} {' '.join(arguments(s, Path('HOME')))}"
                     for s, (m, f) in COMMANDS.items()}}
    print(f"matmul peak {result['peak_gflops'][0]:.1f} GFLOP/s, load average "
          f"{result['load_average_before'][0]:.1f}; cohorts {sizes} at {args.spacing:g} mm",
          flush=True)
    temporary = None if args.workdir else tempfile.TemporaryDirectory(prefix="scale_")
    work = args.workdir or Path(temporary.name)
    work.mkdir(parents=True, exist_ok=True)
    try:
        roots = simulate(work, sizes, args.spacing)
        raw_runs = {stage: {} for stage in STAGES}
        result["work"] = {}
        for n in sizes:
            home = roots[n].parent
            for stage in STAGES:
                runs = [run_stage(stage, home, work) for _ in range(args.repeats)]
                raw_runs[stage][str(n)] = runs
                times = ", ".join(f"{r['seconds']:.1f}" for r in runs)
                print(f"  n={n} {stage}: {times} s", flush=True)
                if stage == "preprocess":
                    result["work"][str(n)] = work_counted(home)
            result["peak_gflops"].append(matmul_gflops(THREADS))
            print(f"  matmul peak {result['peak_gflops'][-1]:.1f} GFLOP/s, load average "
                  f"{os.getloadavg()[0]:.1f}", flush=True)
    finally:
        if temporary:
            temporary.cleanup()
    peak = statistics.median(result["peak_gflops"])
    raw_runs[EPOCH] = {n: [{"seconds": r["epoch_seconds"]} for r in runs]
                       for n, runs in raw_runs["train"].items()}
    raw_runs = {stage: raw_runs[stage] for stage in FITTED}
    result["stages"] = list(FITTED)
    result["runs"] = raw_runs
    result["seconds"] = {s: {n: median_seconds(r, "seconds") for n, r in runs.items()}
                         for s, runs in raw_runs.items()}
    result["cpu_seconds"] = {s: {n: median_seconds(r, "cpu_seconds") for n, r in runs.items()}
                             for s, runs in raw_runs.items() if s in STAGES}
    result["fit"] = {s: fit(sizes, [result["seconds"][s][str(n)] for n in sizes])
                     for s in FITTED}
    result["cpu_fit"] = {s: fit(sizes, [result["cpu_seconds"][s][str(n)] for n in sizes])
                         for s in STAGES}
    result["flop_limit_s"] = {s: {str(n): stage_gflop(s, result["work"][str(n)]) / peak
                                  for n in sizes} for s in FITTED
                              if stage_gflop(s, result["work"][str(sizes[0])]) is not None}
    result["flop_limit_fit"] = {s: fit(sizes, [v[str(n)] for n in sizes])
                                for s, v in result["flop_limit_s"].items()}
    result["load_average_after"] = os.getloadavg()
    rows = table(result)
    headers = ("stage", *(f"s at {n}" for n in sizes), "fixed s", "per case s",
               "max deviation %", "CPU s per case", "seconds against the FLOP limit")
    result["table"] = [dict(zip(headers, r)) for r in rows]
    first = result["work"][str(sizes[0])]
    print(f"\n{result['date_utc']}, {sizes} cases of the demo cohort at {args.spacing:g} mm "
          f"(median {' x '.join(str(round(v)) for v in first['median_shape_zyx'])} voxels ZYX, "
          f"3 contrasts; 2d patch {first['patch']}), matmul peak (2 threads) "
          f"{', '.join(f'{p:.0f}' for p in result['peak_gflops'])} GFLOP/s, load average "
          f"{result['load_average_before'][0]:.1f} -> {result['load_average_after'][0]:.1f}")
    for n in sizes:
        w = result["work"][str(n)]
        print(f"  n={n}: batch {w['batch']}, {w['iterations_per_epoch']} iterations per epoch"
              f"{' (capped at ' + str(MAX_ITERATIONS_PER_EPOCH) + ')' if w['iterations_capped'] else ''}"
              f", {w['val_iterations']} validation iterations, {w['predicted_slices']} slices "
              "predicted")
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    write_json_atomic(args.output, result)
    print(f"\nwritten {args.output} and {draw(result, args.output.with_suffix('.png'))}")


if __name__ == "__main__":
    main()
