"""Issue 18's table: each figure beside its reference measured in the same run, and as a
fraction of this machine's own limits.

First the machine's fp32 matrix-multiply speed (2 threads, ``machine_speed.matmul_gflops``) is
measured, and the paper network's FLOPs are counted with ``torch.utils.flop_counter`` (224 x 224,
per slice: forward, forward + backward). Then, each A/B pair alternated round by round so that
machine noise hits both sides:

* training: the trainer's update of a batch of 32 slices (channels-last, micro-batches) at each
  micro-batch, against Keras/TensorFlow training the same network (when ``--keras-python``
  names an interpreter with tensorflow-cpu: ``benchmarks/keras_reference.py``);
* validation: the forward pass of 32 slices at once against micro-batches;
* prediction of one 240x240x155 volume: the network alone (torch eager vs ONNX Runtime, same
  slices) and ``autosynth_predict`` end to end in a fresh process (``--engine torch`` vs
  ``--engine onnx``), against the FLOP limit (slices x forward FLOPs / peak);
* ``autosynth_plan_and_preprocess`` on 4 BraTS-sized cases with ``-np 1`` and ``-np 2``, for
  this tree and, with ``--before DIR``, for another checkout (e.g. ``git worktree add
  /tmp/before f29a73d``, the tree before issue 18), with the CPU seconds of work per case;
  ``--before`` also times that checkout's ``autosynth_predict`` end to end.

    python benchmarks/limits.py [--rounds 2] [--before DIR] [--keras-python PY] [--only ...]

Prints the table and writes benchmarks/results/limits.json (every raw measurement, the peak
before and after, the load average, versions).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from machine_speed import matmul_gflops  # beside this script, on sys.path when it runs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from autosynth import results_layout as layout  # noqa: E402
from autosynth.architectures import UNetConfig, build_network  # noqa: E402
from autosynth.inference import TrainedModel  # noqa: E402
from autosynth.inference.case_prediction import read_input  # noqa: E402
from autosynth.inference.input_cases import InputCase  # noqa: E402
from autosynth.inference.networks import SlicePredictor  # noqa: E402
from autosynth.inference.onnx_engine import OnnxSlicePredictor  # noqa: E402
from autosynth.inference.onnx_export import onnx_model_for  # noqa: E402
from autosynth.preprocessing.case_preprocessing import preprocess_case  # noqa: E402
from autosynth.training.trainer import MICRO_BATCH  # noqa: E402
from inference import model_folder, synthesise  # noqa: E402  (inference.py's volume and model)
from preprocessing import write_dataset  # noqa: E402  (preprocessing.py's BraTS-sized cases)

BATCH, SIZE, THREADS = 32, 224, 2
SECTIONS = ("training", "validation", "prediction", "preprocessing")
LAUNCHER = """import sys
from autosynth.cli.plan_and_preprocess import main
if __name__ == "__main__":
    sys.exit(main())
"""


# ----------------------------------------------------------------------------- limits
def paper_flops() -> dict:
    """FLOPs of the paper network per 224x224 slice: forward, and forward + backward (MSE)."""
    network = build_network(UNetConfig.paper()).train()
    x, target = torch.rand(2, 1, SIZE, SIZE), torch.rand(2, 1, SIZE, SIZE)
    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            network.eval()(x)
    forward = counter.get_total_flops() / 2
    network.train()
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.mse_loss(network(x), target).backward()
    return {"forward_gflop_per_slice": forward / 1e9,
            "train_gflop_per_slice": counter.get_total_flops() / 2 / 1e9}


def alternate(variants: dict, rounds: int) -> dict[str, list[float]]:
    """Run every variant once per round, in order, ``rounds`` times; returns the values."""
    values = {name: [] for name in variants}
    for _ in range(rounds):
        for name, measure in variants.items():
            values[name].append(measure())
            print(f"  {name}: {values[name][-1]:.3f}", flush=True)
    return values


# ----------------------------------------------------------------------------- training
def torch_update(micro: int, compiled: bool = False):
    """A callable timing one update as ``SynthesisTrainer.train_step`` makes it (with
    ``compiled``, as ``autosynth_train --compile`` does: the network through torch.compile,
    whose compilation is the first, untimed update); slices/s."""
    torch.manual_seed(0)
    network = build_network(UNetConfig.paper()).to(memory_format=torch.channels_last).train()
    forward = torch.compile(network) if compiled else network
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    data = torch.rand(BATCH, 1, SIZE, SIZE).contiguous(memory_format=torch.channels_last)
    target = torch.rand(BATCH, 1, SIZE, SIZE).contiguous(memory_format=torch.channels_last)

    def update() -> None:
        optimizer.zero_grad(set_to_none=True)
        for start in range(0, BATCH, micro):
            part = slice(start, start + micro)
            loss = torch.nn.functional.mse_loss(forward(data[part]), target[part])
            (loss * micro / BATCH).backward()
        optimizer.step()

    started = time.perf_counter()
    update()                                             # warm-up: allocation, primitives
    print(f"  first update (micro-batch {micro}{', compiled' if compiled else ''}): "
          f"{time.perf_counter() - started:.1f} s", flush=True)

    def measure() -> float:
        started = time.perf_counter()
        update()
        return BATCH / (time.perf_counter() - started)
    return measure


class KerasWorker:
    """benchmarks/keras_reference.py in its own interpreter, one update per request."""

    def __init__(self, python: str):
        self.process = subprocess.Popen([python, str(HERE / "keras_reference.py"),
                                         "--threads", str(THREADS)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        self.info = json.loads(self.process.stdout.readline())

    def __call__(self) -> float:
        self.process.stdin.write("1\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())["slices_per_s"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def training(rounds: int, micro_batches: list[int], keras_python: str | None,
             compiled: bool = False) -> dict:
    variants = {f"torch micro-batch {m}": torch_update(m) for m in micro_batches}
    if compiled:
        variants[f"compiled micro-batch {MICRO_BATCH}"] = torch_update(MICRO_BATCH, True)
    keras = KerasWorker(keras_python) if keras_python else None
    if keras:
        variants["keras"] = keras
    try:
        values = alternate(variants, rounds)
    finally:
        if keras:
            keras.close()
    return {"slices_per_s": values, "keras": keras.info if keras else None}


# ----------------------------------------------------------------------------- validation
def validation(rounds: int, micro_batches: list[int]) -> dict:
    network = build_network(UNetConfig.paper()).to(memory_format=torch.channels_last).eval()
    data = torch.rand(BATCH, 1, SIZE, SIZE).contiguous(memory_format=torch.channels_last)

    def forward(micro: int):
        def measure() -> float:
            started = time.perf_counter()
            with torch.inference_mode():
                for start in range(0, BATCH, micro):
                    network(data[start:start + micro])
            return BATCH / (time.perf_counter() - started)
        measure()
        return measure
    return {"slices_per_s": alternate({f"micro-batch {m}": forward(m) for m in micro_batches},
                                      rounds)}


# ----------------------------------------------------------------------------- prediction
BEFORE_MODEL = """import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from inference import model_folder
print(model_folder(Path(sys.argv[2])))
"""


def before_model(tree: Path, work: Path) -> Path:
    """The same model folder made by ``tree``'s own benchmarks/inference.py (an older tree
    refuses the plan fields added since), with the same random weights (seed 0)."""
    done = subprocess.run([sys.executable, "-c", BEFORE_MODEL, str(tree / "benchmarks"),
                           str(work / "results_before")], capture_output=True, text=True,
                          cwd=work, env=dict(os.environ, PYTHONPATH=str(tree)), check=True)
    return Path(done.stdout.strip().splitlines()[-1])


def prediction(rounds: int, work: Path, before: Path | None = None) -> dict:
    source, mask = synthesise(work)
    folder = model_folder(work / "results")
    model = TrainedModel.load(folder)
    images, brain, geometry = read_input(InputCase("bench", (source,), mask))
    slices = preprocess_case(images, brain, geometry, model.configuration, ["T1"],
                             null_slice_fraction=0.0)[0]
    checkpoint = layout.checkpoint_path(folder, "0", "best")
    started = time.perf_counter()
    onnx = OnnxSlicePredictor.from_models([onnx_model_for(checkpoint, (SIZE, SIZE))],
                                          patch=(SIZE, SIZE))
    export_s = time.perf_counter() - started
    network = build_network(UNetConfig.paper())
    network.load_state_dict(torch.load(checkpoint, weights_only=True)["network"])
    eager = SlicePredictor([network.to(memory_format=torch.channels_last).eval()], "cpu",
                           patch=(SIZE, SIZE))
    eager(slices[:, :4])

    def timed(predictor):
        def measure() -> float:
            started = time.perf_counter()
            predictor(slices)
            return time.perf_counter() - started
        return measure

    network_s = alternate({"network torch": timed(eager), "network onnx": timed(onnx)},
                          rounds)

    def end_to_end(engine: str | None, tree: Path = ROOT, model: Path = folder):
        def measure() -> float:
            out = Path(tempfile.mkdtemp(dir=work))
            command = [sys.executable, "-m", "autosynth.cli.predict", "-i", str(source.parent),
                       "-o", str(out), "-m", str(model), "--masks", str(mask.parent),
                       *(["--engine", engine] if engine else []), "--no-progress"]
            env = dict(os.environ, PYTHONPATH=str(tree))
            started = time.perf_counter()   # cwd: not this checkout, which -m would import
            done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=work)
            if done.returncode:
                sys.exit(f"autosynth_predict --engine {engine} failed:\n{done.stderr}")
            return time.perf_counter() - started
        return measure

    variants = {"end to end torch": end_to_end("torch"), "end to end onnx": end_to_end("onnx")}
    if before:   # the other checkout's autosynth_predict (its own default engine) on a model
        variants["end to end before"] = end_to_end(None, before, before_model(before, work))
    end_to_end_s = alternate(variants, rounds)
    return {"slices": int(slices.shape[1]), "export_and_first_session_s": export_s,
            "seconds": {**network_s, **end_to_end_s}}


# ----------------------------------------------------------------------------- preprocessing
def preprocessing(rounds: int, work: Path, trees: dict[str, Path], cases: int) -> dict:
    raw_root = work / "raw"
    write_dataset(raw_root / "Dataset900_Bench", cases)
    write_dataset(raw_root / "Dataset901_Bench", 2 * cases)   # fixed vs per-case work
    launcher = work / "autosynth_plan_and_preprocess"   # as the console script: a main module
    launcher.write_text(LAUNCHER)                      # that spawned workers may re-run

    def run(name: str, tree: Path, processes: int, dataset: str = "900"):
        def measure() -> float:
            pre = Path(tempfile.mkdtemp(dir=work))
            env = dict(os.environ, PYTHONPATH=str(tree), AUTOSYNTH_RAW=str(raw_root),
                       AUTOSYNTH_PREPROCESSED=str(pre), AUTOSYNTH_RESULTS=str(work / "res"))
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run([sys.executable, str(launcher), "-d", dataset, "-np",
                                   str(processes), "--no-progress"], env=env,
                                  capture_output=True, text=True, cwd=work)
            if done.returncode:
                sys.exit(f"plan_and_preprocess ({tree}) failed:\n{done.stderr}")
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            cpu_seconds[measure.name].append(cpu)
            return wall
        measure.name = f"{name} -np {processes}" + ("" if dataset == "900" else
                                                     f" {2 * cases} cases")
        return measure

    cpu_seconds: dict[str, list[float]] = {}
    variants = {}
    for name, tree in trees.items():
        for processes in (1, 2):
            measure = run(name, tree, processes)
            cpu_seconds[measure.name] = []
            variants[measure.name] = measure
    measure = run("this tree", ROOT, 1, "901")
    cpu_seconds[measure.name], variants[measure.name] = [], measure
    return {"cases": cases, "seconds": alternate(variants, rounds), "cpu_seconds": cpu_seconds}


# ----------------------------------------------------------------------------- the table
def table(result: dict) -> list[tuple[str, str, str, str]]:
    """(what, autosynth, reference in the same run, against the limits) rows."""
    peak = statistics.median(result["peak_gflops"])
    flops = result["flops"]
    rows = []
    train = result.get("training")
    if train:
        rates = {k: statistics.median(v) for k, v in train["slices_per_s"].items()}
        best = max((k for k in rates if k.startswith("torch")), key=rates.get)
        compiled = next((k for k in rates if k.startswith("compiled")), None)
        before = f"torch micro-batch {MICRO_BATCH}"
        fraction = rates[best] * flops["train_gflop_per_slice"] / peak
        reference = (f"Keras/TF {rates['keras']:.2f}: {rates[best] / rates['keras']:.2f}x"
                     if "keras" in rates else "Keras/TF not measured")
        rows.append(("training step, 224x224, batch 32 (slices/s)",
                     f"{rates[best]:.2f} ({best}); {before}: {rates.get(before, float('nan')):.2f}"
                     + (f"; {compiled}: {rates[compiled]:.2f}" if compiled else ""),
                     reference, f"{100 * fraction:.0f} % of the matmul peak"))
    val = result.get("validation")
    if val:
        rates = {k: statistics.median(v) for k, v in val["slices_per_s"].items()}
        best = max(rates, key=rates.get)
        whole = rates.get(f"micro-batch {BATCH}", float("nan"))
        rows.append(("validation forward, 32 slices (slices/s)", f"{rates[best]:.1f} ({best})",
                     f"one pass of 32: {whole:.1f} ({rates[best] / whole:.2f}x)",
                     f"{100 * rates[best] * flops['forward_gflop_per_slice'] / peak:.0f} % of "
                     "the matmul peak"))
    pred = result.get("prediction")
    if pred:
        s = {k: statistics.median(v) for k, v in pred["seconds"].items()}
        limit = pred["slices"] * flops["forward_gflop_per_slice"] / peak
        rows.append((f"one 240x240x155 volume, network alone ({pred['slices']} slices, s)",
                     f"onnx {s['network onnx']:.2f}", f"torch {s['network torch']:.2f} "
                     f"({s['network torch'] / s['network onnx']:.2f}x)",
                     f"{s['network onnx'] / limit:.2f}x the FLOP limit {limit:.2f} s"))
        was = (f"; before {s['end to end before']:.2f} "
               f"({s['end to end before'] / s['end to end onnx']:.2f}x)"
               if "end to end before" in s else "")
        rows.append(("one volume, autosynth_predict end to end (s)",
                     f"onnx {s['end to end onnx']:.2f}", f"torch {s['end to end torch']:.2f} "
                     f"({s['end to end torch'] / s['end to end onnx']:.2f}x){was}",
                     f"{s['end to end onnx'] / limit:.2f}x the FLOP limit"))
    pre = result.get("preprocessing")
    if pre:
        s = {k: statistics.median(v) for k, v in pre["seconds"].items()}
        cpu = {k: statistics.median(v) / pre["cases"] for k, v in pre["cpu_seconds"].items()}
        double = f"this tree -np 1 {2 * pre['cases']} cases"
        if double in cpu:   # per-case work: the difference between n and 2n cases, over n
            n_work, two_n_work = (cpu[k] * pre["cases"] for k in ("this tree -np 1", double))
            per_case = (two_n_work - n_work) / pre["cases"]
            fixed = n_work - per_case * pre["cases"]
            rows.append(("plan_and_preprocess work per BraTS-sized case, this tree (CPU s)",
                         f"{per_case:.2f} per case", f"fixed {fixed:.1f} per run "
                         f"({pre['cases']} and {2 * pre['cases']} cases, -np 1)",
                         "target < 1.5 s per case"))
        for tree in dict.fromkeys(k.rsplit(" -np", 1)[0] for k in s if "cases" not in k):
            one, two = s[f"{tree} -np 1"], s[f"{tree} -np 2"]
            rows.append((f"plan_and_preprocess, {pre['cases']} BraTS-sized cases, {tree} (s)",
                         f"-np 2: {two:.1f}", f"-np 1: {one:.1f} (-np 2 is {one / two:.2f}x "
                         "as fast)", f"work {cpu[f'{tree} -np 1']:.2f} CPU s/case (-np 1)"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="A/B rounds (default 2)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--micro", type=int, nargs="+", default=[8, 16, 32],
                        help="training micro-batches to compare (default 8 16 32)")
    parser.add_argument("--keras-python", default=None,
                        help="a Python with tensorflow-cpu installed (pip install "
                        "'autosynth[benchmark]'): runs the Keras reference")
    parser.add_argument("--before", type=Path, default=None,
                        help="another checkout (e.g. `git worktree add /tmp/before f29a73d`) "
                        "whose plan_and_preprocess and autosynth_predict are timed alongside")
    parser.add_argument("--compile", action="store_true",
                        help="also time the trainer's update through torch.compile "
                        "(autosynth_train --compile); its compilation takes minutes here")
    parser.add_argument("--cases", type=int, default=4)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "limits.json")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    result = {"date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds"), "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "threads": THREADS, "torch": torch.__version__,
        "load_average_before": os.getloadavg(), "peak_gflops": [matmul_gflops(THREADS)],
        "flops": paper_flops()}
    print(f"matmul peak {result['peak_gflops'][0]:.1f} GFLOP/s; {result['flops']}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "training" in args.only:
            result["training"] = training(args.rounds, args.micro, args.keras_python,
                                          args.compile)
        if "validation" in args.only:
            result["validation"] = validation(args.rounds, [4, 8, 16, BATCH])
        if "prediction" in args.only:
            (work / "prediction").mkdir()
            result["prediction"] = prediction(args.rounds, work / "prediction", args.before)
        result["peak_gflops"].append(matmul_gflops(THREADS))
        if "preprocessing" in args.only:
            trees = {"this tree": ROOT, **({"before": args.before} if args.before else {})}
            (work / "pre").mkdir()
            result["preprocessing"] = preprocessing(args.rounds, work / "pre", trees,
                                                    args.cases)
    result["peak_gflops"].append(matmul_gflops(THREADS))
    result["load_average_after"] = os.getloadavg()
    rows = table(result)
    result["table"] = [dict(zip(("what", "autosynth", "reference", "limit"), r)) for r in rows]
    print(f"\n{result['date_utc']}, matmul peak (2 threads) "
          f"{', '.join(f'{p:.0f}' for p in result['peak_gflops'])} GFLOP/s, load average "
          f"{result['load_average_before'][0]:.1f} -> {result['load_average_after'][0]:.1f}")
    print("| what | autosynth | reference in the same run | against the limits |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten {args.output}")


if __name__ == "__main__":
    main()
